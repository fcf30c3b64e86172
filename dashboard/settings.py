"""Firm-level configuration: the currency label and the firm's name on pages and packs."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    currency: str = "GBP"
    firm: str = "Sample firm (synthetic data)"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            currency=os.environ.get("REFPORT_CURRENCY", cls.currency),
            firm=os.environ.get("REFPORT_FIRM", cls.firm),
        )


SETTINGS = Settings.from_env()
