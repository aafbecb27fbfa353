"""Numbers in paths, queries and headers: ASCII digits only, bounded in length.

`str.isdigit()` is true for "²" and "١", which `int()` then refuses or reads as another
number; an id of 50 digits overflows the database's integer (issue 14: both were 500s)."""

from __future__ import annotations


def parse_id(raw: str, *, max_digits: int = 18) -> int | None:
    """The non-negative integer `raw` spells in ASCII digits, or None."""
    if not raw or len(raw) > max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)
