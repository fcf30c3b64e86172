"""refport: referrer portfolio review dashboard."""

__version__ = "0.1.0"
