"""Access keys for the AWS wire: create (the secret is shown once), list, revoke, and look a secret up.

SigV4 is an HMAC over the request keyed by the secret, so verifying a signature means recomputing it,
and the server has to hold each secret itself, not a hash of it. Secrets are therefore stored
encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` package) under a server key
kept in ``$KILN_HOME/access-keys.key``: created on first use with mode 0600, and refused if anyone but
its owner can read it. A copy of the database alone (a backup, a PostgreSQL dump) reveals no secret.

Decrypted secrets are cached in memory for ``SECRET_CACHE_SECONDS`` so a signed request costs no
database read; a revoke through this service drops the entry at once.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kiln.errors import InternalError, ValidationError
from kiln.metadata import Database
from kiln.metadata import access_keys as key_rows
from kiln.records import AccessKey, AccessKeyStatus, utcnow

__all__ = ["AccessKeyService", "load_server_key"]

SECRET_CACHE_SECONDS = 30.0  # a key revoked by another server process stops working within this time
ACCESS_KEY_ID_PREFIX = "AKIA"  # AWS's prefix for long-term keys; tools that check the shape accept it
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # AWS key ids are upper-case base32
_ID_LENGTH = 20
MAX_NAME_LENGTH = 128


def load_server_key(path: Path) -> bytes:
    """The Fernet key in ``path``, created (mode 0600) when missing; refused if others can read it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InternalError(
            f"the access-key file {path} can be read by other users (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}` so only the Kiln server's user can read it"
        )
    return path.read_bytes().strip()


def _new_access_key_id() -> str:
    body = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH - len(ACCESS_KEY_ID_PREFIX)))
    return ACCESS_KEY_ID_PREFIX + body


@dataclass
class AccessKeyService:
    db: Database
    key_file: Path
    _fernet: Fernet | None = None
    _cache: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _box(self) -> Fernet:
        if self._fernet is None:  # on first use: a server that never sees a key never writes the file
            with self._lock:
                if self._fernet is None:
                    self.key_file.parent.mkdir(parents=True, exist_ok=True)
                    self._fernet = Fernet(load_server_key(self.key_file))
        return self._fernet

    def create(self, name: str) -> tuple[AccessKey, str]:
        """A new active key and its secret (shown to the caller once, stored only encrypted)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValidationError(
                f"access key name {name!r} must be 1-{MAX_NAME_LENGTH} characters, e.g. --name alice"
            )
        secret = secrets.token_urlsafe(30)  # 40 characters, like an AWS secret access key
        token = self._box().encrypt(secret.encode()).decode()
        key = key_rows.insert_access_key(self.db, _new_access_key_id(), name, token, utcnow())
        return key, secret

    def list_keys(self) -> list[AccessKey]:
        return key_rows.list_access_keys(self.db)

    def revoke(self, access_key_id: str) -> AccessKey:
        key = key_rows.revoke_access_key(self.db, access_key_id, utcnow())
        with self._lock:
            self._cache.pop(access_key_id, None)
        return key

    def cached_secret(self, access_key_id: str) -> tuple[bool, str | None]:
        """(known, secret) from memory alone, so a signed request usually costs no database read and
        no thread hop; (False, None) means ask ``secret_for``."""
        cached = self._cache.get(access_key_id)
        if cached is not None and cached[1] > time.monotonic():
            return True, cached[0]
        return False, None

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of an active key; None for an unknown or revoked one."""
        now = time.monotonic()
        cached = self._cache.get(access_key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = key_rows.find_access_key_secret(self.db, access_key_id)
        secret: str | None = None
        if found is not None and found[0].status is AccessKeyStatus.ACTIVE:
            try:
                secret = self._box().decrypt(found[1].encode()).decode()
            except InvalidToken:
                raise InternalError(
                    f"the secret of access key {access_key_id} cannot be decrypted with {self.key_file}; "
                    "the key file was replaced since the key was made: create a new key"
                ) from None
        with self._lock:
            self._cache[access_key_id] = (secret, now + SECRET_CACHE_SECONDS)
        return secret

    def name_of(self, access_key_id: str) -> str | None:
        found = key_rows.find_access_key_secret(self.db, access_key_id)
        return None if found is None else found[0].name
