"""Page sizes and opaque page tokens for the List methods."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hsmkms.domain import Cursor
from hsmkms.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("page_size: must not be negative")
    if requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size: must be <= {MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def encode_token(cursor: Cursor) -> str:
    raw = json.dumps([cursor.created_at_us, cursor.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> Cursor | None:
    """The cursor in a page token; None for the first page. Raises InvalidArgument."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at_us, id_ = json.loads(raw)
        if not isinstance(created_at_us, int) or not isinstance(id_, str):
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgument("page_token: not a token returned by this method") from None
    return Cursor(created_at_us, id_)


def paginate(
    fetch: Callable[[Cursor | None, int], Sequence[T]],
    token: str,
    size: int,
    position: Callable[[T], tuple[datetime, str]],
) -> Page[T]:
    """Fetch one page (asking for one extra item to know whether another page follows)."""
    limit = page_size(size)
    items = list(fetch(decode_token(token), limit + 1))
    if len(items) <= limit:
        return Page(items, "")
    items = items[:limit]
    return Page(items, encode_token(Cursor.at(*position(items[-1]))))
