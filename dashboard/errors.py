"""Friendly errors: a page that fails shows a short message and a reference; the details go to the
server log, with passwords and secrets masked.

``app.py`` runs every page inside :func:`friendly_errors`. Streamlit's own control flow
(``st.stop()``, ``st.rerun()``, ``st.switch_page()``: ``StopException``/``RerunException``, subclasses of
``ScriptControlException``) passes through untouched. Under ``AppTest`` (Streamlit's
``global.appTest`` option) the exception is raised again after the message is shown, so a test's
``assert not app.exception`` still catches a failing page, as Flask propagates exceptions when testing.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit import config as st_config
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

LOGGER = logging.getLogger("refport")

MESSAGE = ("Something went wrong while drawing this page, and it was stopped. Try again, or change the "
           "window or filters. If it keeps happening, give your administrator this reference: **{ref}** "
           "(the details are in the server log).")

# user:password@ in a URL, and password=/secret=/token= pairs in URLs, DSNs and messages
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/?#@\s]*:)(?P<secret>[^@/\s]+)(?P<tail>@)", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|secret|client_secret|cookie_secret|token|api_key)\b\s*[=:]\s*['\"]?)"
    r"(?P<secret>[^\s'\"&;,]+)", re.IGNORECASE)
MASK = "***"


def new_reference() -> str:
    """A short id to quote to the administrator, unique enough to find one failure in the log."""
    return secrets.token_hex(4).upper()


def _secret_values() -> list[str]:
    """The values in .streamlit/secrets.toml ([auth] client_secret, cookie_secret, ...), longest first;
    none when there is no secrets file."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if len(value) >= 6:
                found.append(value)
        elif hasattr(value, "items"):
            for item in value.values():  # type: ignore[union-attr]
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    with contextlib.suppress(StreamlitSecretNotFoundError, OSError, ValueError):  # no secrets file
        walk(st.secrets.to_dict())
    return sorted(set(found), key=len, reverse=True)


def redact(text: str, extra: list[str] | None = None) -> str:
    """``text`` with URL passwords, ``password=...``-style values and every configured secret masked."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK + m["tail"], text)
    text = _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)
    for value in [*(extra or []), *_secret_values()]:
        text = text.replace(value, MASK)
    return text


def _logger() -> logging.Logger:
    """The "refport" logger; under `streamlit run` nothing else gives it a handler, so it gets one writing
    to the server's stderr with a timestamp."""
    if not LOGGER.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        LOGGER.addHandler(handler)
    return LOGGER


def report(error: BaseException, where: str) -> str:
    """Log ``error`` with its traceback (secrets masked) under a new reference; returns the reference."""
    ref = new_reference()
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    _logger().error("refport error %s on %s:\n%s", ref, redact(where), redact(details))
    return ref


def show(ref: str) -> None:
    st.error(MESSAGE.format(ref=ref), icon=":material/error:")


def _under_test() -> bool:
    # streamlit.config.get_option, looked up now: AppTest patches that module attribute while a script
    # runs (st.get_option is a reference taken before the patch)
    return bool(st_config.get_option("global.appTest"))


@contextmanager
def friendly_errors(where: str = "page") -> Iterator[None]:
    """Run a page: an unexpected exception is logged in full and shown as a short message."""
    try:
        yield
    except ScriptControlException:
        raise  # st.stop(), st.rerun(), st.switch_page(): control flow, not errors
    except Exception as error:
        show(report(error, where))
        if _under_test():
            raise
