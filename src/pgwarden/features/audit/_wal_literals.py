"""Row values as the staging COPY carries them: row literals for a cast to the table's type,
text[] literals for columns cast one by one, escaped for COPY's text format. The follower
builds one or two per event: the common case (nothing to escape) is one join."""

from __future__ import annotations

import re
from typing import Any

from pgwarden.features.audit import _pgoutput

_COPY_SPECIAL = re.compile(rb"[\\\t\n\r]")


def copy_text(value: bytes) -> bytes:
    if _COPY_SPECIAL.search(value) is None:  # most values: nothing to escape
        return value
    return (
        value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
    )  # fmt: skip


NUL = _pgoutput.NULL
"""NULL, as the decoder gives it: a NUL byte."""


def record(values: list[Any] | tuple[Any, ...]) -> bytes:
    """A row literal ``("v1","v2",)`` (empty: NULL), for a cast to the table's type."""
    if not values:
        return b"()"
    joined = b'","'.join(values)
    # The separators hold two quotes each: any more are in the values, to be doubled.
    if joined.count(b'"') == 2 * (len(values) - 1) and b"\\" not in joined:
        return plain_record(values)
    return b"(" + b",".join(
        b'"' + v.replace(b"\\", b"\\\\").replace(b'"', b'""') + b'"' if v != NUL else b""
        for v in values
    ) + b")"  # fmt: skip


def plain_record(values: list[Any] | tuple[Any, ...]) -> bytes:
    """:func:`record` of values holding nothing to escape (:attr:`RowChange.plain`), already
    a valid COPY text field."""
    if not values:
        return b"()"
    joined = b'("' + b'","'.join(values) + b'")'
    # A NULL is a NUL byte, never in a value: the quotes around it go with it.
    return joined.replace(b'"\x00"', b"") if NUL in joined else joined


def array(values: list[Any] | tuple[Any, ...]) -> bytes:
    """A text[] literal of the values (for columns cast one by one)."""
    return b"{" + b",".join(
        b'"' + v.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"' if v != NUL else b"NULL"
        for v in values
    ) + b"}"  # fmt: skip
