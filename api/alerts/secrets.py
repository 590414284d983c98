"""Destination secrets (webhook HMAC keys, MQTT passwords) encrypted at rest.

The key comes from the environment (ALERT_SECRETS_KEY: one or more Fernet keys separated
by commas, the first encrypts, all decrypt, which is how a key is rotated), never from
the database, so a dump of the database alone reveals no secret. Without a key no secret
can be stored: the API refuses rather than store one in the clear.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailableError(RuntimeError):
    """No key configured, a malformed key, or a ciphertext no configured key opens."""


class SecretBox:
    def __init__(self, keys: str | None) -> None:
        self._fernet: MultiFernet | None = None
        parts = [part.strip() for part in (keys or "").split(",") if part.strip()]
        if parts:
            try:
                self._fernet = MultiFernet([Fernet(part.encode("ascii")) for part in parts])
            except (ValueError, UnicodeEncodeError):
                # The message never quotes the key.
                raise SecretsUnavailableError(
                    "ALERT_SECRETS_KEY must be Fernet keys (32 url-safe base64 bytes each), "
                    "comma-separated"
                ) from None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailableError(
                "ALERT_SECRETS_KEY is not set: destination secrets cannot be stored or read"
            )
        return self._fernet

    def encrypt(self, plain: str) -> str:
        return self._require().encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._require().decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretsUnavailableError(
                "the destination's secret cannot be decrypted with ALERT_SECRETS_KEY "
                "(was the key changed without keeping the old one?)"
            ) from None


def new_key() -> str:
    """A fresh key for ALERT_SECRETS_KEY (`python -c "from api.alerts.secrets import
    new_key; print(new_key())"`)."""
    return Fernet.generate_key().decode("ascii")
