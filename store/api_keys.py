"""API keys: random secrets shown once, stored as SHA-256 hashes, found by a short prefix.

A key reads `tx_<prefix>_<secret>`. The prefix (not secret) finds the row; the whole key is
hashed and compared in constant time. SHA-256 suffices here (no slow hash needed): the
secret is 32 random bytes, not a human password.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from store.db import transaction
from store.models import ApiKey
from store.types import utcnow

SCOPES = ("read", "trade", "admin")  # each includes the ones before it


class ApiKeyError(ValueError):
    """A scope or key that cannot be accepted (message fit for the user)."""


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def expand(scope: str) -> frozenset[str]:
    """A scope and those it includes: admin -> admin, trade, read."""
    if scope not in SCOPES:
        raise ApiKeyError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    return frozenset(SCOPES[: SCOPES.index(scope) + 1])


def create_key(engine: Engine, scope: str, name: str = "", rate_limit_per_minute: int | None = None) -> str:
    """A new key with `scope` (and the scopes it includes); the only time the secret is seen."""
    scopes = expand(scope)
    prefix = secrets.token_hex(4)
    key = f"tx_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction(engine) as session:
        session.execute(insert(ApiKey).values(name=name or f"{scope} key", prefix=prefix, key_hash=_hash(key),
                                              scopes=" ".join(s for s in SCOPES if s in scopes),
                                              rate_limit_per_minute=rate_limit_per_minute, created_at=utcnow()))
    return key


def verify_key(engine: Engine, key: str) -> Principal | None:
    """The key's principal, or None for an unknown, malformed or revoked key."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "tx":
        return None
    with transaction(engine) as session:
        row = session.execute(select(ApiKey).where(ApiKey.prefix == parts[1])).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _hash(key)):
            return None
        return Principal(row.id, row.name, frozenset(row.scopes.split()), row.rate_limit_per_minute)


def revoke_key(engine: Engine, prefix: str) -> bool:
    with transaction(engine) as session:
        return session.execute(update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
                               .values(revoked_at=utcnow())).rowcount > 0
