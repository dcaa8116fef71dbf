"""Encryption of secrets at rest (OAuth2 refresh and access tokens): Fernet from ``cryptography``.

The Fernet key is derived by HKDF-SHA256 from the secret in ``OUTBOUND_TOKEN_KEY`` (its name is
``[sending] token_key_env``), so any long random string works as that secret. A sealed value names
no mailbox: who it belongs to is its row.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealError(Exception):
    """A sealed value that this key cannot open (another key, or damaged)."""


class Sealer:
    def __init__(self, secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"outbound oauth2 tokens v1").derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise SealError("the stored token cannot be decrypted with this key (was the token key changed?)") from None

