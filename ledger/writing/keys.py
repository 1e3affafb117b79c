"""API keys: created and revoked from the command line, stored only as SHA-256 hashes.

A key is 32 random bytes (``lk_`` + URL-safe base64), so a fast hash is enough: there
is nothing to brute-force that a slow hash would protect."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from domain.vocabulary import Role
from ledger.errors import DuplicateError, InvalidEventError, NotFoundError, Problem
from ledger.store.tables import api_keys
from ledger.writing.principal import Principal

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    name: str
    role: str
    party: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyStore:
    def __init__(self, engine: Engine, cache_seconds: float = 2.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: str, party: str | None = None) -> str:
        if not NAME_PATTERN.match(name):
            raise InvalidEventError("name: 1–128 of A-Za-z0-9._:-", [Problem("name", "bad name")])
        try:
            role_value = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise InvalidEventError(
                f"role must be one of {roles}", [Problem("role", f"one of {roles}")]
            ) from None
        key = "lk_" + secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    api_keys.insert().values(
                        name=name,
                        key_hash=hash_key(key),
                        role=role_value.value,
                        party=party,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise DuplicateError(
                f"a key named {name!r} exists", [Problem("name", "exists")]
            ) from None
        return key

    def list(self) -> list[KeyInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.name)).all()
        return [KeyInfo(r.name, r.role, r.party, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, name: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise NotFoundError(f"no active key named {name!r}", [Problem("name", "unknown")])

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """``(True, principal-or-None)`` if the answer is cached and fresh."""
        with self._lock:
            hit = self._cache.get(hash_key(key))
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return True, hit[1]
        return False, None

    def authenticate(self, key: str) -> Principal | None:
        found, principal = self.cached(key)
        if found:
            return principal
        digest = hash_key(key)
        now = time.monotonic()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_keys.c.name, api_keys.c.role, api_keys.c.party).where(
                    api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        principal = Principal(row.name, Role(row.role), row.party) if row else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal
