"""Where the function's credentials come from, and how they never get printed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Credentials"]

#: Each field's two spellings: FC's python3.10 context (snake case) and the SDKs' JSON (camel case).
_SPELLINGS = (
    ("access_key_id", "accessKeyId"),
    ("access_key_secret", "accessKeySecret"),
    ("security_token", "securityToken"),
)


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:  # never the secret or the token
        return f"Credentials(access_key_id={self.access_key_id[:4]}…)"

    @staticmethod
    def fields(source: Any) -> tuple[str | None, str | None, str | None]:
        """The three fields of a credentials object or mapping, in whichever spelling it uses."""
        found = [_field(source, snake, camel) for snake, camel in _SPELLINGS]
        key, secret, token = (str(value) if value else None for value in found)
        return key, secret, token

    @classmethod
    def pick(
        cls, held: tuple[str | None, str | None, str | None], fallback: Credentials | None
    ) -> Credentials | None:
        """The context's credentials (``held``, as :meth:`fields` read them; FC's python3.10 passes
        them so) when the key and the secret are there, else ``fallback`` (``ALIBABA_CLOUD_*``, as
        python3.12 passes them)."""
        key, secret, token = held
        return cls(key, secret, token) if key and secret else fallback


def _field(source: Any, snake: str, camel: str) -> Any:
    """One field of FC's credentials object (attributes) or of a mapping (keys), in either spelling."""
    if isinstance(source, Mapping):
        return source.get(snake) or source.get(camel)
    return getattr(source, snake, None) or getattr(source, camel, None)
