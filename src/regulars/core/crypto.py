"""Personal data at rest: AES-GCM field encryption and a keyed hash for lookups.

A mobile number is stored twice: encrypted (to show it to those who may see it) and as
an HMAC "blind index" (to find a member by mobile without decrypting every row).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from regulars.core.config import get_settings

_NONCE = 12


class FieldCipher:
    """Encrypt and decrypt short text fields, and compute their blind index."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("data key must be 32 bytes")
        self._aead = AESGCM(key)
        # A separate sub-key for the blind index, so the index leaks nothing of the AES key.
        self._index_key = hmac.new(key, b"regulars/blind-index", hashlib.sha256).digest()

    def encrypt(self, plaintext: str | None) -> bytes | None:
        """Encrypt text; ``None`` stays ``None``."""
        if plaintext is None:
            return None
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), None)

    def decrypt(self, token: bytes | None) -> str | None:
        """Decrypt what :meth:`encrypt` produced."""
        if token is None:
            return None
        return self._aead.decrypt(token[:_NONCE], token[_NONCE:], None).decode()

    def blind_index(self, value: str) -> str:
        """Keyed hash of a normalised value, for equality lookups."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()


def load_key(configured: str | None, var_dir: Path) -> bytes:
    """Return the data key from settings, or from ``var_dir/data.key`` (made on first use)."""
    if configured:
        return base64.b64decode(configured)
    path = var_dir / "data.key"
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    var_dir.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    path.write_text(base64.b64encode(key).decode())
    path.chmod(0o600)
    return key


_cipher: FieldCipher | None = None


def get_cipher() -> FieldCipher:
    """Return the process-wide cipher built from the settings' data key."""
    global _cipher
    if _cipher is None:
        settings = get_settings()
        _cipher = FieldCipher(load_key(settings.data_key, settings.var_dir))
    return _cipher


def reset_cipher() -> None:
    """Forget the cached cipher (after the settings changed)."""
    global _cipher
    _cipher = None
