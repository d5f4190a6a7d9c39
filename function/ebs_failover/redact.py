"""The one place that masks secrets: log lines, results, channel errors and the command line's output.

Two rules, applied by :meth:`Redactor.scrub` to any JSON-like value:

* a value under a secret-looking key (``secret``, ``password``, ``security_token``, ``authorization``,
  ``signature``, ``credential``, ``access_key``; any case, anywhere in the key) is replaced by ``***``;
* every registered secret value (the AccessKey secret, the STS token, the callback token, robot secrets), in
  any of the forms it takes inside an event (:func:`forms`: in clear, URL-encoded as a form body or a
  query carries it, JSON-escaped as a raw event's text holds it), is replaced by ``***`` wherever it
  stands in a string.

Text is shortened in one way only, :func:`shorten`, which ends a cut text in ``...``: the cut may have
taken the end of a secret, so whatever ends in the first characters of a registered secret just before
``...`` is masked as well. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["CUT", "MASK", "REDACTOR", "Redactor", "is_secret_key", "mask_named", "one_line", "shorten"]

MASK = "***"
#: How a shortened text ends.
CUT = "..."
#: Values shorter than this are not secrets worth masking (and would mask too much).
_SHORTEST_SECRET = 4
_SECRET_KEY = re.compile(
    r"secret|password|security_?token|authorization|signature|credential|access_?key", re.I
)
#: Keys that look secret but hold what must stay readable (a ClientToken is an idempotency key, not a secret).
_NOT_SECRET = frozenset({"client_token"})


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in :data:`CUT` when cut."""
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks included) folded into one space."""
    return " ".join(text.split())


def forms(secret: str) -> frozenset[str]:
    """The texts ``secret`` may be written as inside an event: in clear, URL-encoded (``%2B`` or ``+`` for
    a space), JSON-escaped (ASCII-only or not, ``/`` escaped or not)."""
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return frozenset(
        {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            *escaped,
            *(e.replace("/", "\\/") for e in escaped),
        }
    )


def is_secret_key(key: str) -> bool:
    """Whether a value stored under ``key`` must be masked whatever it is."""
    return key not in _NOT_SECRET and _SECRET_KEY.search(key) is not None


class Redactor:
    """Masks secrets in values; :meth:`register` adds the values to mask anywhere."""

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()
        #: The pattern of every form of every secret, and those forms, longest first: replaced whole,
        #: so that a concurrent scrub reads one registration's pair, never half of the next.
        self._masks: tuple[re.Pattern[str], tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def register(self, values: Iterable[str | None]) -> None:
        """Mask these values from now on (empty and very short ones are ignored)."""
        fresh = {value for value in values if value and len(value) >= _SHORTEST_SECRET} - self._secrets
        if not fresh:
            return
        with self._lock:
            secrets = self._secrets | fresh
            # Longest first, so that a value and its encodings are masked in one pass.
            every_form = tuple(
                sorted({f for value in secrets for f in forms(value)}, key=lambda f: (-len(f), f))
            )
            self._masks = (re.compile("|".join(map(re.escape, every_form))), every_form)
            self._secrets = secrets

    def scrub(self, value: Any, key: str = "") -> Any:
        """``value`` (a JSON-like structure) with every secret masked; ``value`` itself is not changed.

        A value of any other type becomes its ``repr``, masked: that is how a log line would show it.
        """
        if key and is_secret_key(key) and value not in (None, ""):
            return MASK
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {
                (self.scrub_text(k) if isinstance(k, str) else k): self.scrub(v, str(k))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.scrub(item) for item in value]
        return self.scrub_text(repr(value))

    def scrub_text(self, text: str) -> str:
        """``text`` with every registered secret masked, a cut one (before :data:`CUT`) included."""
        masks = self._masks
        if masks is None:
            return text
        pattern, every_form = masks
        text = pattern.sub(MASK, text)
        if CUT in text:
            pieces = text.split(CUT)
            text = CUT.join([*(_mask_cut_end(piece, every_form) for piece in pieces[:-1]), pieces[-1]])
        return text


def _mask_cut_end(head: str, every_form: tuple[str, ...]) -> str:
    """``head`` with the longest start of a secret (in any of its forms) that ends it masked: the cut took
    the rest."""
    longest = max(
        (
            length
            for form in every_form
            for length in range(min(len(form) - 1, len(head)), _SHORTEST_SECRET - 1, -1)
            if head.endswith(form[:length])
        ),
        default=0,
    )
    return head[:-longest] + MASK if longest else head


#: Words that make a name a secret's in a query, a header or a form (``token``, ``access_token``,
#: ``x-acs-signature``, ``sign``, ``secret``, ``password``, ``authorization``): what a raw event may carry
#: that no registration knows, such as the wrong token a caller sent.
_SECRET_WORDS = re.compile(r"token|signature|secret|sign|password|authorization", re.I)
#: A name (``"name"`` in JSON, ``name`` in a form), ``:`` or ``=``, and its value. Linear on any input:
#: a name starts only where a word does, and no part can match the same text two ways.
_NAMED_VALUE = re.compile(
    r'(?<![\w.-])(?P<key>"[\w.-]{1,128}"|[\w.-]{1,128})(?P<sep>\s*[:=]\s*)'
    r'(?P<value>"(?:[^"\\]|\\.)*"|\[\s*"(?:[^"\\]|\\.)*"(?:\s*,\s*"(?:[^"\\]|\\.)*")*\s*\]|[^&\s",}\]]+)'
)


def _is_secret_name(name: str) -> bool:
    return _SECRET_WORDS.search(name) is not None


def mask_named(value: Any) -> Any:
    """``value`` (a raw event: text, or a JSON-like structure) with every value named like a secret masked:
    ``token=…`` in a query or a form, ``"token": "…"`` in JSON text, a dict's ``token`` key. For
    ``LOG_EVENT``, where a wrong callback token is a secret nobody registered."""
    if isinstance(value, str):
        return _NAMED_VALUE.sub(_masked, value)
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and _is_secret_name(k) and v not in (None, "") else mask_named(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_named(item) for item in value]
    return value


def _masked(match: re.Match[str]) -> str:
    if not _is_secret_name(match.group("key")):
        return match.group(0)
    found = match.group("value")
    shown = f'"{MASK}"' if found.startswith('"') else f'["{MASK}"]' if found.startswith("[") else MASK
    return match.group("key") + match.group("sep") + shown


#: The process's redactor: the handler registers every secret an invocation holds, and the log, the
#: channels and the command line all mask through it.
REDACTOR = Redactor()
