"""Splitting migration SQL into statements, with where each starts and ends (for findings)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text (without the ``;``) and its first and last line
    (0-based, as squawk reports them)."""

    text: str
    first_line: int
    last_line: int

    @property
    def words(self) -> list[str]:
        """Its leading words, upper-cased, comments left out (``["ALTER", "TABLE", ...]``)."""
        return re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\S", _strip_comments(self.text).upper())


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", re.sub(r"--[^\n]*", " ", text), flags=re.S)


def split(text: str) -> list[Statement]:
    """Statements of ``text`` split at the top-level ``;`` (not inside quotes, quoted
    identifiers, dollar quotes or comments). Statements that are only comments are left out."""
    found: list[Statement] = []
    start = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif c in "'\"":
            end = i + 1
            while end < n:
                if text[end] == c:
                    if end + 1 < n and text[end + 1] == c:  # doubled quote
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            continue
        elif c == "$":
            tag = _DOLLAR.match(text, i)
            if tag:
                end = text.find(tag.group(0), tag.end())
                i = n if end < 0 else end + len(tag.group(0))
                continue
        elif c == ";":
            _add(found, text, start, i)
            start = i + 1
        i += 1
    _add(found, text, start, n)
    return found


def _add(found: list[Statement], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    if not _strip_comments(chunk).strip():
        return
    # The statement starts after any leading whitespace and comments.
    lead = re.match(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", chunk, re.S)
    skip = lead.end() if lead else 0
    first = text.count("\n", 0, start + skip)
    found.append(Statement(chunk[skip:].strip(), first, text.count("\n", 0, end)))
