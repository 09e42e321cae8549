"""A reader of PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1),
as returned by ``pg_logical_slot_peek_binary_changes``: committed transactions, in commit
order, each with its row changes and logical messages in WAL order.

Only what WAL capture needs: relations, inserts, updates, deletes, transactional messages.
Column values are kept as PostgreSQL's text output, undecoded bytes (:data:`NULL` for NULL): the
database casts them back to their types when it builds the events.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_I64 = struct.Struct("!q")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!bQQq")

NULL = b"\x00"
"""A NULL value: a NUL byte, never in PostgreSQL's text output. Bytes, not None, so that a row's
values join into a row literal in one call (the follower's hot path)."""
UNCHANGED = object()
"""A TOASTed value the UPDATE did not change (pgoutput does not resend it)."""


class DecodeError(ValueError):
    """A message this reader does not understand (its type byte is in the text)."""


@dataclass(frozen=True)
class Relation:
    """A table as its changes were written: columns by position, with type oid and modifier."""

    oid: int
    schema: str
    name: str
    columns: tuple[str, ...]
    types: tuple[int, ...]
    typmods: tuple[int, ...]


class RowChange:
    """One row's change. A plain class with slots, not a dataclass: one is made for every
    row the follower reads, and a frozen dataclass's ``__init__`` costs several times more."""

    __slots__ = ("new", "old", "op", "plain", "relation", "unchanged")

    def __init__(
        self,
        op: str,
        relation: Relation,
        old: tuple[object, ...] | None,
        new: tuple[object, ...] | None,
        *,
        plain: bool = False,
        unchanged: bool = False,
    ) -> None:
        self.op = op  # "I", "U" or "D"
        self.relation = relation
        self.old = old
        """The row before (UPDATE/DELETE). With REPLICA IDENTITY FULL, every column. Values
        are bytes (text output, :data:`NULL` for NULL) or :data:`UNCHANGED`."""
        self.new = new
        self.plain = plain
        """No value holds a byte that a row literal or a COPY line must escape (``"``,
        backslash, tab, newline, carriage return): checked once on the whole message."""
        self.unchanged = unchanged
        """Some value of ``new`` is :data:`UNCHANGED`."""


@dataclass(frozen=True)
class Message:
    prefix: str
    content: bytes


@dataclass
class Transaction:
    xid: int
    end_lsn: int
    committed_at: dt.datetime
    items: list[RowChange | Message] = field(default_factory=list)


def _timestamp(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> str:
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values

    def int16(self) -> int:
        return self.unpack(_I16)[0]

    def int32(self) -> int:
        return self.unpack(_I32)[0]

    def string(self) -> str:
        end = self.data.index(0, self.pos)
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value


def decode(messages: Iterable[bytes]) -> list[Transaction]:
    """The committed transactions in ``messages`` (a slot's ``data`` column, in order).

    A transaction cut off by the end of ``messages`` (no Commit yet) is left out: it is read
    again, whole, next time.
    """
    decoder = Decoder()
    done = []
    for data in messages:
        tx = decoder.feed(data)
        if tx is not None:
            done.append(tx)
    return done


class Decoder:
    """Messages in, committed transactions out, one message at a time: the state (the
    relations seen, the transaction being read) lasts as long as the stream does."""

    __slots__ = ("current", "relations")

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.current: Transaction | None = None
        """The transaction being read (its Begin seen, not yet its Commit)."""

    def feed(self, data: bytes | memoryview, start: int = 0) -> Transaction | None:
        """Read one message (``data`` from ``start``); returns the transaction it committed,
        if it was a Commit."""
        data = bytes(data)
        kind = data[start]
        current = self.current
        if kind in _ROW_KINDS:  # the hot path: one per row, inline
            if current is None:
                raise DecodeError(f"pgoutput {chr(kind)} outside a transaction")
            relation = self.relations[_U32.unpack_from(data, start + 1)[0]]
            pos = start + 5
            old: tuple[object, ...] | None = None
            new: tuple[object, ...] | None = None
            unchanged = False
            marker = data[pos]
            pos += 1
            if marker == 75 or marker == 79:  # the key only (K), or the row (O): FULL
                old, pos, _ = _tuple(data, pos)
                if kind == 85:  # 'U'
                    marker = data[pos]
                    pos += 1
            if marker == 78:  # 'N'
                new, pos, unchanged = _tuple(data, pos)
            plain = _SPECIAL.search(data, start) is None
            current.items.append(
                RowChange(chr(kind), relation, old, new, plain=plain, unchanged=unchanged)
            )
            return None
        r = _Reader(data)
        r.pos = start + 1
        if kind == 66:  # 'B'
            _final_lsn, _micros, xid = r.unpack(_BEGIN)
            self.current = Transaction(xid, 0, _EPOCH)  # its commit time comes with Commit
        elif kind == 67:  # 'C'
            _flags, _commit_lsn, end_lsn, micros = r.unpack(_COMMIT)
            if current is None:
                raise DecodeError("pgoutput Commit without Begin")
            current.end_lsn = end_lsn
            current.committed_at = _timestamp(micros)
            self.current = None
            return current
        elif kind == 82:  # 'R'
            oid = r.unpack(_U32)[0]
            schema, name = r.string(), r.string()
            r.byte()  # replica identity setting
            columns, types, typmods = [], [], []
            for _ in range(r.int16()):
                r.byte()  # flags (part of the key)
                columns.append(r.string())
                types.append(r.unpack(_U32)[0])
                typmods.append(r.int32())
            self.relations[oid] = Relation(
                oid, schema, name, tuple(columns), tuple(types), tuple(typmods)
            )
        elif kind == 77:  # 'M'
            flags = r.byte()
            r.unpack(_I64)  # the message's LSN
            prefix = r.string()
            size = r.int32()
            content = r.data[r.pos : r.pos + size]
            # A non-transactional message is not part of any transaction: not ours.
            if ord(flags) & 1 and current is not None:
                current.items.append(Message(prefix, content))
        elif kind not in b"OYT":  # origin, type and truncate messages: nothing WAL capture uses
            raise DecodeError(f"pgoutput message type {chr(kind)!r}")
        return None


_ROW_KINDS = frozenset(b"IUD")
_SPECIAL = re.compile(rb'["\\\t\n\r]')
"""Bytes a row literal or a COPY text line escapes. Searched on a whole row message, length
fields and all: a length or an oid holding one of these bytes only sends that row down the
slower, escaping path."""


def _tuple(data: bytes, pos: int) -> tuple[tuple[object, ...], int, bool]:
    """The column values at ``pos``, where the next field starts, and whether any value is
    :data:`UNCHANGED`."""
    count = _I16.unpack_from(data, pos)[0]
    pos += 2
    values: list[object] = []
    append = values.append
    unchanged = False
    unpack = _I32.unpack_from
    for _ in range(count):
        kind = data[pos]
        if kind == 116:  # 't': text
            size = unpack(data, pos + 1)[0]
            pos += 5
            append(data[pos : pos + size])
            pos += size
        elif kind == 110:  # 'n'
            append(NULL)
            pos += 1
        elif kind == 117:  # 'u'
            append(UNCHANGED)
            unchanged = True
            pos += 1
        else:
            raise DecodeError(f"pgoutput column kind {chr(kind)!r} (binary mode is not used)")
    return tuple(values), pos, unchanged
