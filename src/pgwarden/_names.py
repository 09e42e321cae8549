"""Names of database objects: qualified table names, owned-object names, closest matches."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

MAX_IDENTIFIER = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names


@dataclass(frozen=True, order=True)
class QualifiedName:
    """``schema.name`` of a relation, as the user writes it and as SQL needs it."""

    schema: str
    name: str

    @classmethod
    def parse(cls, text: str, *, default_schema: str = "public") -> QualifiedName:
        """Parse ``schema.table``, ``table`` or the quoted ``"My Schema"."My.Table"`` forms.

        Raises ``ValueError`` with a sentence fit for the user when the text is not a name.
        """
        parts = _split_dotted(text.strip())
        if len(parts) == 1:
            return cls(default_schema, parts[0])
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise ValueError(f"{text!r} is not a table name: write it as schema.table")

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def regclass_text(self) -> str:
        """The quoted form ``to_regclass()`` understands whatever the case or punctuation."""
        return sql.Identifier(self.schema, self.name).as_string(None)

    def __str__(self) -> str:
        return f"{_display(self.schema)}.{_display(self.name)}"


def _display(part: str) -> str:
    plain = part.replace("_", "a").isalnum() and part == part.lower() and not part[0].isdigit()
    return part if plain else '"' + part.replace('"', '""') + '"'


def _split_dotted(text: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    i, quoted = 0, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1 : i + 2] == '"':
                buf.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise ValueError(f"{text!r} has an unterminated quote")
    parts.append("".join(buf))
    if any(not p for p in parts):
        raise ValueError(f"{text!r} is not a table name: write it as schema.table")
    return parts


def owned_name(*parts: str, suffix: str) -> str:
    """A deterministic identifier ``<parts>__<suffix>`` that fits in 63 bytes and is unique
    for distinct ``parts``.

    Readable (``public_items__timestamps``) when joining cannot be ambiguous; otherwise
    (``public.a_b`` vs ``public_a.b``, or a name too long) a short hash of the exact parts is
    added, so two tables never share an owned object.
    """
    base = "_".join(parts)
    full = f"{base}__{suffix}"
    plain = all(p and "_" not in p for p in parts[:-1]) and "\0" not in base
    if plain and len(full.encode()) <= MAX_IDENTIFIER:
        return full
    digest = hashlib.sha1("\0".join([*parts, suffix]).encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER - len(suffix.encode()) - len(digest) - 3
    cut = base.encode()[:room].decode(errors="ignore")
    return f"{cut}_{digest}__{suffix}"


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word`` (for "did you mean ...?"), or None."""
    pool = list(candidates)
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if found:
        return found[0]
    lowered = {c.lower(): c for c in pool}
    hit = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None
