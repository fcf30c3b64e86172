"""Who is using the app and what they may change: sign-in, roles, and the guard on every write.

Two modes, decided by ``.streamlit/secrets.toml``:

- **local mode** (no ``[auth]`` section): no sign-in. One person runs the app on their own machine
  (``make run``, the demo); every change is allowed and carries the name typed in "Editing as".
- **sign-in mode** (``[auth]`` configured): Streamlit's OpenID Connect sign-in (``st.login``) with
  the firm's identity provider. Nothing is shown before sign-in. Each signed-in e-mail has a role:
  ``admin`` when listed in ``[refport] admins`` of secrets.toml, else the role an admin gave it in the
  edit store (Users and roles page), else ``viewer``. Viewers read everything and change nothing;
  editors change the board's edits and import data; admins also give roles.

The guard: pages never hold the real :class:`~dashboard.store.Store`. ``state.edit_store()`` hands
them a :class:`GuardedStore` bound to a function that says who is using the app. Every write method
re-reads that identity (the signed-in user, and their role from the store) at the moment of
writing, refuses with :class:`NotAllowed` when the role is not enough, and in sign-in mode stamps
the change with the signed-in e-mail whatever name the page passed. Store methods are classified
in :data:`WRITES` or :data:`READS`; any other name is refused, so a new write method cannot be
reached from a page until it is classified (tests/test_auth.py checks every public method is).

The command line (``refport assign``, ``refport import``) is a local operator tool: it opens the
store directly, as the person logged in to the server, and is not subject to roles.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import store as edits

LOG = logging.getLogger("refport.auth")

LOCAL, SIGN_IN = "local", "sign-in"
ROLES = edits.ROLES
RANK = {role: rank for rank, role in enumerate(ROLES)}

# The kinds of change, the role each needs, and how messages name them.
NEEDS = {"tier": "editor", "target_mix": "editor", "plan": "editor", "kpi": "editor", "loop": "editor",
         "import": "editor", "roles": "admin"}
WHAT = {
    "tier": "changing programme levels",
    "target_mix": "changing the target mix",
    "plan": "saving referrer plans",
    "kpi": "creating, changing or closing KPIs",
    "loop": "recording that referrers were told",
    "import": "importing data",
    "roles": "giving people roles",
}

# Every public Store method or property is one of these (tests/test_auth.py checks it).
WRITES = {
    "save": "tier", "save_many": "tier",
    "save_target_mix": "target_mix", "save_target_mixes": "target_mix", "retire_target_mix": "target_mix",
    "save_plan": "plan",
    "create_kpi": "kpi", "update_kpi": "kpi", "close_kpi": "kpi",
    "mark_told": "loop",
    "set_role": "roles",
    "record_import": "import",
}
READS = frozenset({
    "url", "display_url", "path", "revision", "current_tables",
    "version", "current", "history",
    "target_mix_version", "target_mix", "target_mix_history",
    "plan", "plan_version", "plans", "plan_steps", "plan_history",
    "kpi", "kpi_version", "kpis", "kpi_history",
    "loop_closed", "loop_version", "loop_closed_history",
    "role_of", "role_version", "roles", "role_history", "imports",
})
# Neither: the engine would write around the guard, close would shut the store for everyone.
NOT_FOR_PAGES = frozenset({"engine", "close"})

# How the sign-in button names a provider, from the [auth.<name>] key or the metadata URL's host.
_PROVIDER_NAMES = {"microsoft": "Microsoft", "microsoftonline": "Microsoft", "entra": "Microsoft",
                   "azure": "Microsoft", "google": "Google", "okta": "Okta", "auth0": "Auth0"}
_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class NotAllowed(PermissionError, ValueError):
    """A write refused for the person using the app (their role, or nobody signed in).

    Both a PermissionError and a ValueError, so the pages' existing handlers of refused saves
    (``except ValueError`` around store writes, ``except OSError`` around imports) show its message."""


@dataclass(frozen=True)
class Identity:
    """The person using the app now.

    ``mode``: LOCAL or SIGN_IN. ``email``: the signed-in e-mail, lower-case (None in local mode or
    when nobody is signed in). ``name``: a display name (local mode: the name typed in "Editing as").
    ``role``: viewer, editor or admin; None when nobody is signed in. ``source``: where the role
    comes from (local mode, configuration, store, default, ...)."""

    mode: str
    email: str | None
    name: str
    role: str | None
    source: str

    @property
    def signed_in(self) -> bool:
        return self.mode == SIGN_IN and self.email is not None

    @property
    def by(self) -> str:
        """What the audit trail records: the signed-in e-mail, or in local mode the typed name."""
        if self.mode == LOCAL:
            return self.name
        return self.email or ""

    def can(self, action: str) -> bool:
        if action not in NEEDS:
            raise KeyError(f"unknown kind of change {action!r}; one of {', '.join(NEEDS)}")
        if self.mode == LOCAL:
            return True
        return self.role is not None and RANK[self.role] >= RANK[NEEDS[action]]

    def refusal(self, action: str) -> str:
        """Why this person may not make this kind of change (one sentence), or "" when they may."""
        if self.can(action):
            return ""
        needed = NEEDS[action]
        if self.role is None:
            return f"Not saved: nobody is signed in, and {WHAT[action]} needs the {needed} role. Sign in first."
        who = self.email or self.name or "this account"
        extra = ""
        if self.source == "unverified e-mail":
            extra = " (the identity provider says this e-mail address is not verified, so no role applies)"
        elif self.source == "no e-mail":
            extra = " (the identity provider sent no e-mail address, so no role applies)"
        return (f"Not saved: {who} has the {self.role} role{extra}; {WHAT[action]} needs the {needed} role. "
                "Ask an admin to change your role on the Users and roles page.")


def require(identity: Identity, action: str) -> None:
    """Raise NotAllowed unless this identity may make this kind of change."""
    if not identity.can(action):
        raise NotAllowed(identity.refusal(action))


# --- configuration (.streamlit/secrets.toml) -----------------------------------------------------


def _secrets() -> Mapping[str, Any] | None:
    """The secrets as a plain dict; {} when there is no secrets file; None when a secrets file
    exists but cannot be read (then the app fails closed rather than fall back to local mode)."""
    secrets = st.secrets  # looked up each time: AppTest replaces it
    if secrets.load_if_toml_exists():
        return secrets.to_dict()
    from streamlit import config

    for location in config.get_option("secrets.files"):
        path = Path(location)
        if path.is_file():
            return None
    return {}


def mode() -> str:
    """LOCAL, SIGN_IN, or "broken" (a secrets file that cannot be read: nothing is shown)."""
    secrets = _secrets()
    if secrets is None:
        return "broken"
    return SIGN_IN if "auth" in secrets else LOCAL


def needs_sign_in() -> bool:
    """Only the sign-in screen may be shown: sign-in is configured and nobody is signed in, or the
    secrets file cannot be read (then the screen says so, whoever is signed in)."""
    current = mode()
    if current == LOCAL:
        return False
    return current == "broken" or not st.user.to_dict().get("is_logged_in")


def _refport_section(secrets: Mapping[str, Any]) -> Mapping[str, Any]:
    section = secrets.get("refport") or {}
    return section if isinstance(section, Mapping) else {}


def configured_admins(secrets: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The e-mails in ``[refport] admins`` (a list, or one string), lower-case: always admins."""
    secrets = _secrets() if secrets is None else secrets
    value = _refport_section(secrets or {}).get("admins") or []
    if isinstance(value, str):
        value = [value]
    return frozenset(str(v).strip().lower() for v in value if str(v).strip())


def providers(secrets: Mapping[str, Any] | None = None) -> list[tuple[str | None, str]]:
    """The sign-in buttons: (provider for st.login, None for the [auth] section itself; label)."""
    secrets = _secrets() if secrets is None else secrets
    section = (secrets or {}).get("auth") or {}
    override = _refport_section(secrets or {}).get("provider_name")
    found: list[tuple[str | None, str]] = []
    if any(key in section for key in _PROVIDER_KEYS):
        found.append((None, _label_from_url(section.get("server_metadata_url"))))
    for key, value in section.items():
        if isinstance(value, Mapping):
            found.append((key, _PROVIDER_NAMES.get(key.lower()) or key.replace("_", " ").title()))
    if override and len(found) == 1:  # [refport] provider_name names the one provider
        found = [(found[0][0], str(override))]
    return found


def _label_from_url(url: object) -> str:
    host = str(url or "").lower()
    for part, label in _PROVIDER_NAMES.items():
        if part in host:
            return label
    return "single sign-on"


def config_problems(secrets: Mapping[str, Any] | None = None) -> list[str]:
    """What stops sign-in from working with this [auth] section (empty: it looks complete)."""
    secrets = _secrets() if secrets is None else secrets
    if secrets is None:
        return ["a secrets.toml file exists but cannot be read (check its TOML syntax)"]
    section = secrets.get("auth") or {}
    problems = []
    redirect = str(section.get("redirect_uri") or "")
    if not redirect:
        problems.append("[auth] has no redirect_uri (e.g. https://refport.firm.com/oauth2callback)")
    elif not redirect.endswith("/oauth2callback"):
        problems.append(f"[auth] redirect_uri must end with /oauth2callback, got {redirect!r}")
    if not section.get("cookie_secret"):
        problems.append("[auth] has no cookie_secret (a long random string)")
    listed = providers(secrets)
    if not listed:
        problems.append("[auth] names no identity provider (client_id, client_secret, server_metadata_url)")
    for key, _ in listed:
        settings = section if key is None else section[key]
        missing = [k for k in _PROVIDER_KEYS if not settings.get(k)]
        if missing:
            where = "[auth]" if key is None else f"[auth.{key}]"
            problems.append(f"{where} lacks {', '.join(missing)}")
    from streamlit.auth_util import is_authlib_installed

    if not is_authlib_installed():
        problems.append("Authlib is not installed (pip install 'streamlit[auth]')")
    return problems


# --- who is using the app -------------------------------------------------------------------------


def _email_claim(user: Mapping[str, Any]) -> str | None:
    for claim in ("email", "preferred_username", "upn"):
        value = str(user.get(claim) or "").strip().lower()
        if value:
            try:
                return edits.check_email(value)
            except ValueError:
                continue
    return None


def current_identity(store: Callable[[], edits.Store], local_name: object = "") -> Identity:
    """Who is using the app now, read afresh: the sign-in (``st.user``) and the role from the store.

    ``store``: opens the edit store (only called in sign-in mode); ``local_name``: the name typed
    in "Editing as" (local mode)."""
    secrets = _secrets()
    if secrets is not None and "auth" not in secrets:
        return Identity(LOCAL, None, str(local_name or "").strip(), "admin", "local mode")
    if secrets is None:  # an unreadable secrets file: nobody may do anything
        return Identity(SIGN_IN, None, "", None, "broken configuration")
    user = st.user.to_dict()
    if not user.get("is_logged_in"):
        return Identity(SIGN_IN, None, "", None, "signed out")
    email = _email_claim(user)
    name = str(user.get("name") or email or "").strip()
    if email is None:
        return Identity(SIGN_IN, None, name or "signed-in user", "viewer", "no e-mail")
    if user.get("email_verified") is False:
        return Identity(SIGN_IN, email, name, "viewer", "unverified e-mail")
    if email in configured_admins(secrets):
        return Identity(SIGN_IN, email, name, "admin", "configuration")
    stored = store().role_of(email)
    if stored:
        return Identity(SIGN_IN, email, name, stored, "store")
    return Identity(SIGN_IN, email, name, "viewer", "default")


# --- the guard -------------------------------------------------------------------------------------


class GuardedStore:
    """The edit store as pages see it: reads pass through; every write checks the role of the person
    using the app at the moment of writing and, in sign-in mode, records their e-mail as ``by``."""

    __slots__ = ("_identity", "_store")

    def __init__(self, store: edits.Store, identity: Callable[[], Identity]) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_identity", identity)

    def __repr__(self) -> str:
        return f"GuardedStore({self._store.display_url})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the guarded store cannot be changed")

    def __getattr__(self, name: str) -> Any:
        if name in WRITES:
            return self._guarded(name, WRITES[name])
        if name in READS:
            return getattr(self._store, name)
        raise AttributeError(
            f"Store.{name} is not available to pages: only the reads in auth.READS and the guarded "
            "writes in auth.WRITES are (classify a new Store method there)")

    def _guarded(self, name: str, action: str) -> Callable[..., Any]:
        method = getattr(self._store, name)
        signature = inspect.signature(method)

        @functools.wraps(method)
        def write(*args: Any, **kwargs: Any) -> Any:
            who = self._identity()  # now, not when the page was drawn: a role taken away applies at once
            require(who, action)
            bound = signature.bind_partial(*args, **kwargs)
            if who.mode == SIGN_IN:
                bound.arguments["by"] = who.by
            if action == "roles":
                _check_role_change(who, bound.arguments.get("email"))
            LOG.info("%s by %s (%s, role %s)", name, who.by or "?", who.mode, who.role)
            return method(*bound.args, **bound.kwargs)

        return write

    def import_file(self, source: Any, table: str, out_dir: Any, mapping: Any = None, dry_run: bool = False,
                    **kwargs: Any) -> Any:
        """``importer.import_file``: a dry run (writes nothing) for anyone; a real import needs the
        editor role, checked now, and is kept in the store's import log with who made it."""
        from dashboard import importer

        if dry_run:
            return importer.import_file(source, table, out_dir, mapping, dry_run=True, **kwargs)
        who = self._identity()
        require(who, "import")
        result = importer.import_file(source, table, out_dir, mapping, dry_run=False, **kwargs)
        if result.written is not None:
            self._store.record_import(
                table=table, file_name=kwargs.get("name") or "", target=str(out_dir),
                rows_read=result.rows_read, accepted=result.accepted, quarantined=len(result.quarantined),
                skipped=len(result.skipped), by=who.by or "local user")
            LOG.info("import of %s into %s by %s", table, out_dir, who.by or "local user")
        return result


def _check_role_change(who: Identity, email: object) -> None:
    """Roles are given by another admin: nobody changes their own (no one locks themselves out), and
    the admins from configuration are changed in the configuration."""
    if who.mode != SIGN_IN:
        return
    try:
        target = edits.check_email(email)
    except ValueError:
        return  # the store says what is wrong with it
    if target == who.email:
        raise NotAllowed(f"Not saved: you cannot change your own role ({target}); another admin can.")
    if target in configured_admins():
        raise NotAllowed(f"Not saved: {target} is an admin by configuration ([refport] admins in "
                         "secrets.toml); change it there.")


# --- what pages show ------------------------------------------------------------------------------


def can_edit(identity: Identity, action: str, show: bool = True) -> bool:
    """Whether the page's edit widgets are enabled for this person; when not (and ``show``), says why
    in a notice. The write itself is refused by the guard regardless."""
    if identity.can(action):
        return True
    if show:
        who = identity.email or identity.name
        st.info(f"Read-only: you are signed in as **{who}** with the **{identity.role}** role; "
                f"{WHAT[action]} needs the **{NEEDS[action]}** role. An admin can change your role on the "
                "Users and roles page.", icon=":material/lock:")
    return False


def sign_in_screen() -> None:
    """The only thing shown in sign-in mode before sign-in: the app's name and the sign-in button(s)."""
    st.title("refport")
    st.caption("Referrer portfolio review")
    problems = config_problems()
    if problems:
        LOG.error("sign-in is configured but cannot work: %s", "; ".join(problems))
        st.error("Sign-in is configured but cannot work yet; an administrator must fix the server's "
                 "secrets.toml:\n\n" + "\n".join(f"- {p}" for p in problems))
        return
    for provider, label in providers():
        st.button(f"Sign in with {label}", type="primary", key=f"sign_in_{provider or 'default'}",
                  on_click=st.login, args=(provider,) if provider else ())


def sidebar_box(identity: Identity) -> None:
    """The sidebar's "who" box: the signed-in person and their role, or local mode's name box."""
    if identity.mode == SIGN_IN:
        st.markdown("### Signed in")
        source = {"configuration": "admin by configuration", "store": "given by an admin",
                  "default": "the default for people without a role"}.get(identity.source, identity.source)
        st.caption(f"**{identity.name or identity.email}**  \n{identity.email or 'no e-mail address'}  \n"
                   f"Role: **{identity.role}** ({source}). Your saved changes carry your e-mail.")
        st.button("Sign out", key="sign_out", on_click=st.logout, icon=":material/logout:")
        return
    st.markdown("### Editing as")
    st.caption("**Local mode**: no sign-in; one person at a time on this machine. The name below is "
               "recorded with every change you save.")
    st.text_input("Editing as", key="editor_name", placeholder="Your name", label_visibility="collapsed",
                  help="Recorded with every change you save (programme levels, targets, plans, KPIs).")
