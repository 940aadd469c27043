"""Text the database can hold. PostgreSQL's text type cannot hold NUL (U+0000), which Slack's JSON and form bodies
can carry; SQLite can, but both store the same form so that a record reads alike on either.

A text holding NUL is stored percent-escaped, as RFC 3986 writes those two bytes: each `%` as `%25`, then each NUL
as `%00`. Any other text is stored exactly as given. `original` undoes the escape exactly, so a digest taken over
the text as it arrived (a chain entry's `text_sha256`) is still checked against the stored form: a stored text
that holds `%00` was either typed so or escaped, and the digest matches exactly one of the two readings.
"""

from __future__ import annotations

import re
from typing import overload

NUL = "\x00"
_ESCAPES = re.compile("%(25|00)")


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """`text` as the database can hold it: unchanged unless it holds NUL, then `%` -> `%25` and NUL -> `%00`."""
    if text is None or NUL not in text:
        return text
    return text.replace("%", "%25").replace(NUL, "%00")


def original(stored: str) -> str:
    """The text `storable` was given, from the escaped form it returned (only meaningful for such a form)."""
    return _ESCAPES.sub(lambda m: "%" if m.group(1) == "25" else NUL, stored)
