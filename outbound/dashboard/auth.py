"""Logging in: passwords (plain or scrypt-hashed, from environment variables), signed session
cookies, CSRF tokens bound to the session, and a limit on failed logins. Pure apart from the clock.

A session cookie is ``outbound.tokens.sign({"u": user, "exp": ..., "n": nonce})`` under a key
derived from the signing secret and the user's stored password, so changing a password (or the
secret) ends every session made with the old one. The CSRF token is an HMAC of the session cookie:
a form from another site cannot know it, and it dies with the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass

from outbound import tokens

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``: what to put in the user's environment variable instead of the password."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(stored: str, given: str) -> bool:
    """Whether ``given`` is the password ``stored`` holds (a scrypt hash, else the password itself)."""
    if not stored or not given:
        return False
    if stored.startswith("scrypt$"):
        try:
            _, n, r, p, salt, digest = stored.split("$")
            made = hashlib.scrypt(given.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM,
                                  dklen=len(_unb64(digest)))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(made, _unb64(digest))
    return hmac.compare_digest(stored.encode(), given.encode())


@dataclass(frozen=True)
class Session:
    user: str
    expires: float
    token: str   # the cookie's value


class Sessions:
    """Makes and reads session cookies and their CSRF tokens."""

    def __init__(self, secret: bytes, users: Mapping[str, str], hours: float) -> None:
        if not secret:
            raise ValueError("the signing secret is empty")
        self.secret, self.users, self.lifetime = secret, dict(users), hours * 3600

    def _key(self, user: str) -> bytes:
        fingerprint = hashlib.sha256(self.users.get(user, "").encode()).digest()
        return hmac.digest(self.secret, b"outbound dashboard session\0" + user.encode() + b"\0" + fingerprint, "sha256")

    def login(self, user: str, password: str, now: float) -> Session | None:
        stored = self.users.get(user)
        if stored is None:
            check_password(hash_password("x", salt=b"0" * 16), password)  # as slow as a real check: no user probing
            return None
        if not check_password(stored, password):
            return None
        expires = now + self.lifetime
        token = tokens.sign({"u": user, "exp": int(expires), "n": secrets.token_hex(8)}, self._key(user))
        return Session(user, expires, token)

    def read(self, token: str | None, now: float) -> Session | None:
        if not token:
            return None
        body = token.partition(".")[0]
        try:
            claimed = json.loads(_unb64(body))  # only to pick the key: verified next
        except (ValueError, UnicodeDecodeError):
            return None
        user = claimed.get("u") if isinstance(claimed, dict) else None
        if not isinstance(user, str) or user not in self.users:
            return None
        payload = tokens.verify(token, self._key(user))
        if payload is None or not isinstance(payload.get("exp"), int) or payload["exp"] <= now:
            return None
        return Session(user, float(payload["exp"]), token)

    def csrf(self, session: Session) -> str:
        return _b64(hmac.digest(self.secret, b"outbound dashboard csrf\0" + session.token.encode(), "sha256")[:18])

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(session), given or "")


class LoginLimiter:
    """At most ``attempts`` failed logins per client address in ``window`` seconds; a success clears it."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, client: str, now: float) -> deque[float]:
        seen = self.failures[client]
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def retry_after(self, client: str, now: float) -> int | None:
        """Seconds until the client may try again, or None when it may now."""
        seen = self._recent(client, now)
        if len(seen) < self.attempts:
            return None
        return max(1, int(seen[0] + self.window - now) + 1)

    def failed(self, client: str, now: float) -> None:
        self._recent(client, now).append(now)
        if len(self.failures) > 10_000:  # a flood of addresses must not grow memory without bound
            self.failures.pop(next(iter(self.failures)))

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)
