"""The pages' session: a signed, expiring cookie that names the key, never holds it.

Signing in checks the API key once, as the JSON API does; the cookie then carries the
key's *name*, role, party and creation time, a random CSRF token, and the time it was
issued, signed with ``itsdangerous`` (HMAC-SHA-256). Nothing in it is secret, and none
of it can be altered or replayed past ``SESSION_MAX_AGE`` without the server's secret.
Every request checks that the named key still exists, unrevoked, with the same role and
party, so revoking the key ends its sessions (within the key cache's few seconds).

The secret is 32 random bytes in a file beside the checkpoint signing key
(``ui-session.key`` next to ``LEDGER_SIGNING_KEY_FILE``), made on first use with mode
0600; every API process that shares the signing key's folder shares it, so a session
works behind a load balancer. Deleting the file ends every session.

CSRF: every form that posts carries a token in a hidden field. Signed in, it is the
session's token; on the sign-in form, where there is no session yet, it is a token the
form page set in a short-lived signed cookie of its own (a double submit), so another
site can neither sign a reader in nor out.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from domain.vocabulary import Role
from ledger.facade import LedgerService, Principal

log = logging.getLogger(__name__)

COOKIE = "ledger_ui_session"
CSRF_COOKIE = "ledger_ui_csrf"  # the sign-in form's token, before there is a session
LEGACY_COOKIE = "ledger_ui_key"  # held the raw key before sessions: always removed
COOKIE_PATH = "/ui"
SESSION_MAX_AGE = 12 * 3600  # a working day; signing out or revoking the key ends it sooner
CSRF_MAX_AGE = 3600  # how long a sign-in form stays usable
SECRET_FILE = "ui-session.key"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    """What the cookie says: which key signed in, and the session's CSRF token."""

    name: str
    role: str
    party: str | None
    key_created: str  # the key's creation time: a key made anew under its name differs
    csrf: str

    def dump(self) -> dict[str, Any]:
        return {
            "n": self.name,
            "r": self.role,
            "p": self.party,
            "c": self.key_created,
            "x": self.csrf,
        }

    @classmethod
    def load(cls, data: Any) -> Session | None:
        if not isinstance(data, dict):
            return None
        name, role, party, created, csrf = (data.get(k) for k in ("n", "r", "p", "c", "x"))
        if not (isinstance(name, str) and isinstance(role, str) and isinstance(created, str)):
            return None
        if not isinstance(csrf, str) or not csrf or not (party is None or isinstance(party, str)):
            return None
        return cls(name, role, party, created, csrf)


# -- the secret -------------------------------------------------------------------------

_secrets: dict[Path, bytes] = {}
_secrets_lock = threading.Lock()


def _make(path: Path) -> None:
    """Write a new secret where none is: whole, to a private temporary file, then linked
    into place, so a process racing this one either wins or reads the winner's complete
    file, never half of one (as the checkpoint signing key is made)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        # If another process made it first, theirs is the one.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _read_or_make(path: Path) -> bytes:
    if not path.exists():
        _make(path)
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path}: the pages' session secret is too short (64 hex digits)")
    hexadecimal = len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)
    return bytes.fromhex(text) if hexadecimal else text.encode()


def secret_for(service: LedgerService) -> bytes:
    """The session secret beside the checkpoint signing key, made on first use. Where
    that folder cannot be written, a secret for this process only (sessions then end
    when it stops, and are not shared with other processes), said in the log."""
    path = Path(service.settings.signing_key_file).with_name(SECRET_FILE)
    with _secrets_lock:
        found = _secrets.get(path)
        if found is None:
            try:
                found = _read_or_make(path)
            except OSError as exc:
                log.warning(
                    "cannot keep the pages' session secret at %s (%s): sessions last only "
                    "as long as this process, and only in it",
                    path,
                    exc,
                )
                found = secrets.token_bytes(32)
            _secrets[path] = found
    return found


def _serializer(service: LedgerService, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_for(service), salt=salt)


# -- the session cookie -----------------------------------------------------------------


def new_session(principal: Principal, key_created: str) -> Session:
    return Session(
        principal.name,
        principal.role.value,
        principal.party,
        key_created,
        secrets.token_urlsafe(24),
    )


def encode(service: LedgerService, session: Session) -> str:
    return str(_serializer(service, "ledger.ui.session").dumps(session.dump()))


def decode(service: LedgerService, value: str | None) -> Session | None:
    """The session the cookie names if its signature holds and it is not older than
    ``SESSION_MAX_AGE``; ``None`` for anything else (tampered, expired, garbage)."""
    if not value:
        return None
    try:
        data = _serializer(service, "ledger.ui.session").loads(value, max_age=SESSION_MAX_AGE)
    except BadData:  # a bad signature, an expired one, a payload that is not ours
        return None
    return Session.load(data)


def is_https(request: Request) -> bool:
    """Whether the reader's connection is https. ``ledger serve`` runs uvicorn with
    proxy headers on, so ``X-Forwarded-Proto`` sets this scheme only when the proxy is
    one uvicorn trusts (``FORWARDED_ALLOW_IPS``, by default 127.0.0.1): a client cannot
    claim https on its own."""
    return request.url.scheme == "https"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def _drop(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_https(request)
    )


def start(response: Response, request: Request, service: LedgerService, session: Session) -> None:
    """Set the session cookie; the sign-in form's token and any old key cookie go."""
    _cookie(response, request, COOKIE, encode(service, session), SESSION_MAX_AGE)
    _drop(response, request, CSRF_COOKIE)
    if LEGACY_COOKIE in request.cookies:
        _drop(response, request, LEGACY_COOKIE)


def end(response: Response, request: Request) -> None:
    _drop(response, request, COOKIE)
    if LEGACY_COOKIE in request.cookies:
        _drop(response, request, LEGACY_COOKIE)


# -- is the key still there? ------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    principal: Principal
    created: str


class _Directory:
    """The active keys by name, re-read at most every ``key_cache_seconds`` (as
    ``KeyStore`` caches a key's answer), so a revocation ends sessions as soon as it
    ends keys. A name not among them is looked for again at once: a key made a moment
    ago signs in at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = -1.0
        self._keys: dict[str, _Key] = {}

    def _read(self, service: LedgerService) -> dict[str, _Key]:
        return {
            k.name: _Key(Principal(k.name, Role(k.role), k.party), k.created_at.isoformat())
            for k in service.active_keys()
        }

    def cached(self, service: LedgerService, name: str) -> _Key | None:
        """The key, if the directory holds it and is fresh: no database read."""
        ttl = service.settings.key_cache_seconds
        with self._lock:
            if self._read_at >= 0 and time.monotonic() - self._read_at < ttl:
                return self._keys.get(name)
        return None

    def get(self, service: LedgerService, name: str) -> _Key | None:
        found = self.cached(service, name)
        if found is not None:
            return found
        now = time.monotonic()
        keys = self._read(service)
        with self._lock:
            self._keys, self._read_at = keys, now
        return keys.get(name)


_directories: weakref.WeakKeyDictionary[LedgerService, _Directory] = weakref.WeakKeyDictionary()
_directories_lock = threading.Lock()


def _directory(service: LedgerService) -> _Directory:
    with _directories_lock:
        found = _directories.get(service)
        if found is None:
            found = _directories[service] = _Directory()
        return found


async def _key_named(service: LedgerService, name: str) -> _Key | None:
    directory = _directory(service)
    # A fresh answer costs no thread hop; reading the keys goes to the thread pool.
    return directory.cached(service, name) or await run_in_threadpool(directory.get, service, name)


async def key_created(service: LedgerService, principal: Principal) -> str | None:
    """When the signed-in key was made (it binds the session to that very key)."""
    key = await _key_named(service, principal.name)
    return key.created if key is not None and key.principal == principal else None


async def session_principal(service: LedgerService, session: Session) -> Principal | None:
    """The principal of a session whose key is still active, unchanged; else ``None``."""
    key = await _key_named(service, session.name)
    if key is None or key.created != session.key_created:
        return None
    p = key.principal
    if p.role.value != session.role or p.party != session.party:
        return None
    return p


# -- CSRF ---------------------------------------------------------------------------------


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def sign_in_token(request: Request, service: LedgerService) -> tuple[str, str | None]:
    """The sign-in form's token, and the signed cookie value to set for it (``None``
    when the reader's cookie already holds a valid token, which is then reused)."""
    current = _sign_in_cookie(request, service)
    if current:
        return current, None
    token = secrets.token_urlsafe(24)
    return token, str(_serializer(service, "ledger.ui.sign-in").dumps(token))


def keep_sign_in_token(response: Response, request: Request, value: str | None) -> None:
    if value is not None:
        _cookie(response, request, CSRF_COOKIE, value, CSRF_MAX_AGE)


def _sign_in_cookie(request: Request, service: LedgerService) -> str | None:
    value = request.cookies.get(CSRF_COOKIE)
    if not value:
        return None
    try:
        token = _serializer(service, "ledger.ui.sign-in").loads(value, max_age=CSRF_MAX_AGE)
    except BadData:
        return None
    return token if isinstance(token, str) else None


def sign_in_token_matches(request: Request, service: LedgerService, given: str | None) -> bool:
    return same_token(given, _sign_in_cookie(request, service))
