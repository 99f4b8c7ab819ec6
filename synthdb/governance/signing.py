"""HMAC-SHA256 tokens for export bundles.

The key comes from ``SYNTHDB_SIGNING_KEY`` or a key file that never travels with a bundle
(``.synthdb/signing.key``, created with mode 0600 on first use). A token is a JSON payload
plus its signature over the canonical JSON; the payload names a key id (a hash of the key) so
that a bundle signed with another key is reported as such instead of as "edited".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from synthdb.errors import ConfigError

KEY_ENV = "SYNTHDB_SIGNING_KEY"
DEFAULT_KEY_FILE = Path(".synthdb") / "signing.key"


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"synthdb-key-id:" + key).hexdigest()[:16]


def load_key(key_file: str | os.PathLike[str] | None = None, *, create: bool = False) -> bytes:
    """The signing key: ``$SYNTHDB_SIGNING_KEY``, else the key file (made when ``create``)."""
    env = os.environ.get(KEY_ENV)
    if env:
        if len(env) < 16:
            raise ConfigError(f"{KEY_ENV} is shorter than 16 characters; use a long random key")
        return env.encode()
    path = Path(key_file) if key_file else DEFAULT_KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"signing key {path} is readable by others (chmod 600 {path})")
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise ConfigError(f"signing key {path} is shorter than 16 bytes")
        return key
    if not create:
        raise ConfigError(f"no signing key: set {KEY_ENV} or create {path} (export makes one)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def sign(payload: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A token: the payload (with the key id added) and its HMAC-SHA256 signature."""
    body = {**payload, "key_id": key_id(key), "alg": "HMAC-SHA256"}
    return {"payload": body, "signature": hmac.new(key, canonical(body), "sha256").hexdigest()}


def check(token: dict[str, Any], key: bytes) -> str | None:
    """None when the signature is valid, otherwise the precise reason it is not."""
    payload, signature = token.get("payload"), token.get("signature")
    if not isinstance(payload, dict) or not isinstance(signature, str):
        return "token.json lacks a payload or a signature"
    expected = hmac.new(key, canonical(payload), "sha256").hexdigest()
    if hmac.compare_digest(expected, signature):
        return None
    if payload.get("key_id") != key_id(key):
        return (
            f"token was signed with another key (key id {payload.get('key_id')}, ours is "
            f"{key_id(key)}): forged or from another installation"
        )
    return "token signature does not match its contents: the token was edited after signing"
