"""Passwords, client secrets and bearer tokens, never stored in the clear (issue 6 "Security", seed 004).

Rules:
- passwords and client secrets are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
  recommended option); a hash made with older parameters is re-hashed at the next successful sign-in;
- tokens (sessions, API tokens, consent links) are 256 random bits, shown once, and stored as their
  SHA-256 hex digest: a leaked registry yields no usable token;
- a token carries a readable prefix (``kws_`` session, ``kwa_`` access token, ``kwp_`` personal token,
  ``kwc_`` consent link, ``kwsec_`` client secret) so that secret scanners and humans recognise it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER: Final = PasswordHasher()
MIN_PASSWORD_LENGTH: Final = 10

SESSION_PREFIX: Final = "kws_"
ACCESS_TOKEN_PREFIX: Final = "kwa_"
PERSONAL_TOKEN_PREFIX: Final = "kwp_"
CONSENT_PREFIX: Final = "kwc_"
CLIENT_SECRET_PREFIX: Final = "kwsec_"


def hash_secret(secret: str) -> str:
    """The argon2id hash of a password or client secret."""
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash`` (False for a malformed hash, never an exception)."""
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused (too short), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    return None


def new_token(prefix: str) -> str:
    """A new random token (256 bits, URL-safe) with its readable prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the registry keeps of a token: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()
