"""Page tokens and cursors: opaque to clients, parsed strictly at the edge."""

from __future__ import annotations

import base64
import binascii
import re

from server.errors import InvalidArgument

_POSITION = re.compile(r"[0-9]{1,19}")
_MAX_POSITION = 2**63 - 1


def parse_position(text: str) -> int | None:
    """A non-negative SQLite integer written in ASCII digits, or None."""
    if not _POSITION.fullmatch(text):
        return None
    value = int(text)
    return value if value <= _MAX_POSITION else None


def encode_page_token(kind: str, last: int) -> str:
    """The token that resumes a listing of `kind` after row `last`."""
    return base64.urlsafe_b64encode(f"ecx-{kind}:{last}".encode()).decode()


def decode_page_token(kind: str, token: str, *, first: int) -> int:
    """The row a page token of `kind` resumes after; `first` when there is no token."""
    if not token:
        return first
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode("ascii")
    except (binascii.Error, ValueError) as e:
        raise InvalidArgument.field("page_token", "not a token from a previous page") from e
    prefix = f"ecx-{kind}:"
    value = parse_position(raw[len(prefix) :]) if raw.startswith(prefix) else None
    if value is None:
        raise InvalidArgument.field("page_token", "not a token from a previous page")
    return value
