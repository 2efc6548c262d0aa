"""Blanking out credentials that a service echoes back, before any of its answer becomes a message.

Careless services repeat the request's headers in error pages. The API key is removed from the
whole answer as it arrives, before it is parsed or cut to a snippet, so a key longer than the
snippet cannot survive in part; so are the values of credential headers (`Authorization`,
`Bearer …`, `api-key` …), whoever's they are. Messages (short) also lose any run of 12 or more
characters of the key, for a service that echoes only the start of it.
"""

from __future__ import annotations

import re

MASK = "***"
_FRAGMENT = 12  # this many characters of the key in a row count as the key
_VALUE = r"[^\s\"',;}\]]+"
_BEARER = re.compile(r"(?i)(\bbearer\s+)" + _VALUE)
_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization|\bx?-?api[-_]?key|\bapi[-_]?token|\baccess[-_]?token)"
    r"(\"?\s*[:=]\s*\"?)" + _VALUE
)


def redact_answer(text: str, key: str | None) -> str:
    """An answer with the key and every credential header value replaced by ***."""
    if key and len(key) >= 4:
        text = text.replace(key, MASK)
    text = _BEARER.sub(r"\1" + MASK, text)
    return _HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def redact_message(text: str, key: str | None) -> str:
    """redact_answer, and any 12 characters in a row of the key (a message is short)."""
    text = redact_answer(text, key)
    if not key or len(key) < 2 * _FRAGMENT:
        return text
    grams = {key[i : i + _FRAGMENT] for i in range(len(key) - _FRAGMENT + 1)}
    out, i = [], 0
    while i < len(text):
        if text[i : i + _FRAGMENT] in grams:
            j = i + _FRAGMENT
            while j < len(text) and text[j - _FRAGMENT + 1 : j + 1] in grams:
                j += 1
            out.append(MASK)
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
