"""Where the function's credentials come from, and how they never get printed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:  # never the secret or the token
        return f"Credentials(access_key_id={self.access_key_id[:4]}…)"

    @staticmethod
    def fields(source: Any) -> tuple[str | None, ...]:
        """The three fields of a credentials object or mapping, in whichever spelling it uses."""
        if isinstance(source, dict):
            found = [source.get(snake) or source.get(camel) for snake, camel in _SPELLINGS]
        else:  # attributes (FC's credentials object); a Mapping that is not a dict, by key too
            found = [
                getattr(source, snake, None) or getattr(source, camel, None) for snake, camel in _SPELLINGS
            ]
            if not all(found) and isinstance(source, Mapping):  # last: the ABC's test is slow
                found = [
                    value or source.get(snake) or source.get(camel)
                    for value, (snake, camel) in zip(found, _SPELLINGS, strict=True)
                ]
        key, secret, token = found
        return (str(key) if key else None, str(secret) if secret else None, str(token) if token else None)

    @classmethod
    def pick(cls, held: tuple[str | None, ...], fallback: Credentials | None) -> Credentials | None:
        """The context's credentials (``held``, as :meth:`fields` read them; FC's python3.10 passes
        them so) when the key and the secret are there, else ``fallback`` (``ALIBABA_CLOUD_*``, as
        python3.12 passes them)."""
        global _last_picked  # noqa: PLW0603 - replaced whole: threads see the old pair or the new one
        key, secret, token = held
        if not (key and secret):
            return fallback
        last = _last_picked
        if last is not None and last[0] == held:  # every warm invocation holds the same (until a rotation)
            return last[1]
        credentials = cls(key, secret, token)
        _last_picked = (held, credentials)
        return credentials


#: The last credentials :meth:`Credentials.pick` made, and the fields it made them from.
_last_picked: tuple[tuple[str | None, ...], Credentials] | None = None


#: Each field's two spellings: FC's python3.10 context (snake case) and the SDKs' JSON (camel case).
_SPELLINGS = (
    ("access_key_id", "accessKeyId"),
    ("access_key_secret", "accessKeySecret"),
    ("security_token", "securityToken"),
)
