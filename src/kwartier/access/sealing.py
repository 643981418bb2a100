"""Sealing secrets and personal data at rest in the registry (issue 6 "Security", seed 001 art. 3.1.61).

Rules:
- sealed values (webhook secrets, account names) are Fernet tokens (AES-128-CBC with HMAC-SHA256,
  from ``cryptography``) under the data-access key;
- the key lives in ``<home>/secrets/data-access.key`` (mode 0600), next to the pseudonymisation secret and
  never in the registry, or wherever ``KWARTIER_DATA_ACCESS_KEY_FILE`` points; it is created on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kwartier.config import Settings


class SealError(ValueError):
    """A sealed value that the key cannot open (another key, or tampered with)."""


def key_file(settings: Settings) -> Path:
    """Where the data-access key lives."""
    configured = os.environ.get("KWARTIER_DATA_ACCESS_KEY_FILE")
    return Path(configured) if configured else settings.home / "secrets" / "data-access.key"


class Sealer:
    """Seals and opens text with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        """The sealer of the data home's key, creating the key file (0600) when missing."""
        path = key_file(settings)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, text: str) -> str:
        """``text`` sealed."""
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str, *, max_age: int | None = None) -> str:
        """The text of a sealed value (refused when sealed more than ``max_age`` seconds ago)."""
        try:
            return self._fernet.decrypt(sealed.encode(), ttl=max_age).decode()
        except InvalidToken as error:
            raise SealError("a sealed value cannot be opened with the data-access key") from error

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"
