"""Which declared views can be maintained from audit's change feed, read from their SQL.

A view qualifies when its query is ``SELECT <keys>, <aggregates> FROM <one table> [alias]
[WHERE <condition>] GROUP BY <keys>`` where each aggregate is ``count(*)``, ``count(x)``,
``sum(x)``, ``min(x)`` or ``max(x)`` of one expression over that table's row, and nothing in
it depends on the time or on another table. This module only reads the text (a small
tokenizer that knows strings, quoted names and comments); what the server says about the
parts (columns, types, volatility, the audit options of the table) is checked by the plan
(``_incremental.py``). Everything else gets a reason, shown in the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<space>\s+|--[^\n]*|/\*.*?\*/)
    | (?P<string>[EeBbXxNn]?'(?:[^']|'')*'|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
    | (?P<quoted>"(?:[^"]|"")+")
    | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<op>::|<=|>=|<>|!=|\|\||[-+*/%<>=~!@\#^&|`?.,;()\[\]:])
    """,
    re.VERBOSE | re.DOTALL,
)

_CLAUSES = ("select", "from", "where", "group", "having", "window", "order", "limit", "offset")
_SET_OPS = {"union", "intersect", "except"}
_AGGREGATES = {"count", "sum", "min", "max"}
# Words (no parentheses) that read the clock: a view using them changes without any event.
_TIME_WORDS = {"current_date", "current_time", "current_timestamp", "localtime", "localtimestamp"}
# Stable functions that read the clock (volatile ones are refused by their volatility).
_TIME_FUNCTIONS = {"now", "statement_timestamp", "transaction_timestamp", "age"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def word(self) -> str:
        """Lowercased for words, the text otherwise (SQL keywords are case-insensitive)."""
        return self.text.lower() if self.kind == "word" else self.text


@dataclass(frozen=True)
class Aggregate:
    """One aggregate column: ``func`` of ``arg`` (None for ``count(*)``)."""

    name: str
    func: str
    arg: str | None


@dataclass(frozen=True)
class Shape:
    """A query that qualifies, in parts (each part is the user's own text)."""

    table: str
    alias: str
    where: str | None
    keys: tuple[tuple[str, str], ...]
    """(column name, expression) of each GROUP BY column, in the view's column order."""
    aggregates: tuple[Aggregate, ...]
    columns: tuple[str, ...]
    """Every column of the view, in order."""
    functions: tuple[str, ...]
    """Names of the functions called anywhere (their volatility is checked by the plan)."""


class NotIncremental(Exception):
    """The query's shape does not qualify; the message says why."""


def tokens(text: str) -> list[Token]:
    found: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise NotIncremental(f"cannot read the query near {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or "op"
        if kind == "tag":
            kind = "string"
        if kind != "space":
            found.append(Token(kind, match.group(0)))
    return found


def _text(part: list[Token]) -> str:
    """The tokens as SQL again (one space between tokens, which SQL allows everywhere)."""
    return " ".join(t.text for t in part)


def _norm(part: list[Token]) -> str:
    """The same, keywords and names lowercased: to compare two expressions."""
    return " ".join(t.word for t in part)


def _split(part: list[Token], on: str = ",") -> list[list[Token]]:
    """``part`` cut at ``on`` outside parentheses."""
    pieces: list[list[Token]] = [[]]
    depth = 0
    for tok in part:
        if tok.text in "([":
            depth += 1
        elif tok.text in ")]":
            depth -= 1
        if depth == 0 and tok.word == on:
            pieces.append([])
        else:
            pieces[-1].append(tok)
    return pieces


def _clauses(toks: list[Token]) -> dict[str, list[Token]]:
    """The top-level clauses of one SELECT, by keyword."""
    found: dict[str, list[Token]] = {}
    current: str | None = None
    depth = 0
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        if depth == 0 and tok.kind == "word" and tok.word in _SET_OPS:
            raise NotIncremental(f"it combines queries with {tok.word.upper()}")
        if depth == 0 and tok.kind == "word" and tok.word in _CLAUSES:
            current = tok.word
            if current in found:
                raise NotIncremental(f"it has two {current.upper()} clauses")
            found[current] = []
            if current in ("group", "order") and i + 1 < len(toks) and toks[i + 1].word == "by":
                i += 1
            i += 1
            continue
        if current is None:
            raise NotIncremental("it does not start with SELECT")
        found[current].append(tok)
        i += 1
    return found


def _is_aggregate_call(part: list[Token]) -> Aggregate | None:
    """``count(*)`` / ``sum(x)`` ... alone (no DISTINCT, FILTER, ORDER BY or OVER)."""
    if len(part) < 3 or part[0].kind != "word" or part[0].word not in _AGGREGATES:
        return None
    if part[1].text != "(" or part[-1].text != ")":
        return None
    inner = part[2:-1]
    depth = 0
    for tok in inner:  # the parentheses must close only at the end
        depth += tok.text == "("
        depth -= tok.text == ")"
        if depth < 0:
            return None
    func = part[0].word
    if inner and inner[0].word in ("distinct", "all"):
        raise NotIncremental(f"{func}({inner[0].word.upper()} ...) is not maintained")
    if any(t.word == "order" for t in inner):
        raise NotIncremental(f"{func}(... ORDER BY ...) is not maintained")
    if len(inner) == 1 and inner[0].text == "*":
        if func != "count":
            raise NotIncremental(f"{func}(*) is not an aggregate")
        return Aggregate("", func, None)
    if not inner or len(_split(inner)) != 1:
        raise NotIncremental(f"{func} of more than one argument is not maintained")
    return Aggregate("", func, _text(inner))


def _item(part: list[Token]) -> tuple[list[Token], str | None]:
    """A select-list item: its expression and its alias (``AS name`` or a trailing name)."""
    if len(part) >= 3 and part[-2].word == "as":
        return part[:-2], _name(part[-1])
    if len(part) >= 2 and part[-1].kind in ("word", "quoted") and part[-2].text not in ".:":
        prev = part[-2]
        if prev.kind in ("word", "quoted", "string", "number") or prev.text in ")]":
            return part[:-1], _name(part[-1])
    return part, None


def _name(tok: Token) -> str:
    return tok.text[1:-1].replace('""', '"') if tok.kind == "quoted" else tok.text.lower()


def _contains_aggregate(part: list[Token]) -> bool:
    return any(
        t.kind == "word"
        and t.word in _AGGREGATES | {"avg", "array_agg", "string_agg"}
        and i + 1 < len(part)
        and part[i + 1].text == "("
        for i, t in enumerate(part)
    )


def analyze(query: str, columns: list[str]) -> Shape:
    """The parts of ``query`` (whose result columns the server named ``columns``), or
    :class:`NotIncremental` with the reason it does not qualify."""
    toks = tokens(query)
    if toks and toks[0].word == "with":
        raise NotIncremental("it is a WITH query")
    if not toks or toks[0].word != "select":
        raise NotIncremental("it does not start with SELECT")
    if any(t.kind == "word" and t.word == "select" for t in toks[1:]):
        raise NotIncremental("it has a subquery (reads more than one table's rows)")
    for t in toks:
        if t.kind == "word" and t.word in _TIME_WORDS:
            raise NotIncremental(f"it reads the clock ({t.text}): rows age without any change")
        if t.kind == "word" and t.word == "over":
            raise NotIncremental("it uses a window function")
    for i, t in enumerate(toks[:-1]):
        if t.kind == "word" and t.word in _TIME_FUNCTIONS and toks[i + 1].text == "(":
            raise NotIncremental(f"it reads the clock ({t.text}()): rows age without any change")
    parts = _clauses(toks)
    select = parts.get("select", [])
    if select and select[0].word in ("distinct", "all"):
        raise NotIncremental("it is a SELECT DISTINCT")
    for clause in ("having", "window", "order", "limit", "offset"):
        if clause in parts:
            raise NotIncremental(f"it has {clause.upper()}{' BY' if clause == 'order' else ''}")
    if "group" not in parts:
        raise NotIncremental("it has no GROUP BY")
    source = parts.get("from", [])
    if any(t.word in ("join", "lateral", "tablesample", "only") or t.text in ",(" for t in source):
        raise NotIncremental("it reads more than one table (a join, a function, a subquery)")
    table, alias = _source(source)
    where = _text(parts["where"]) if parts.get("where") else None

    items = _split(select)
    if len(items) != len(columns):
        raise NotIncremental("its select list could not be read")
    keys: list[tuple[str, str]] = []
    aggregates: list[Aggregate] = []
    key_items: dict[str, int] = {}
    for position, (part, column) in enumerate(zip(items, columns, strict=True), start=1):
        expr, _alias = _item(part)
        if not expr or any(t.text == "*" and len(expr) == 1 for t in expr):
            raise NotIncremental("its select list has *")
        found = _is_aggregate_call(expr)
        if found is not None:
            aggregates.append(Aggregate(column, found.func, found.arg))
            continue
        if _contains_aggregate(expr):
            raise NotIncremental(
                f"column {column!r} is an expression over aggregates (only count, sum, min, "
                "max alone are maintained: keep sum and count and divide when reading)"
            )
        keys.append((column, _text(expr)))
        key_items[_norm(expr)] = position
    if not aggregates:
        raise NotIncremental("it has no count, sum, min or max")
    _group_by(parts["group"], keys, columns, key_items)
    return Shape(
        table=table,
        alias=alias,
        where=where,
        keys=tuple(keys),
        aggregates=tuple(aggregates),
        columns=tuple(columns),
        functions=tuple(
            sorted(
                {
                    t.word
                    for i, t in enumerate(toks[:-1])
                    if t.kind == "word" and toks[i + 1].text == "("
                }
            )
        ),
    )


def _source(source: list[Token]) -> tuple[str, str]:
    """``schema.table [AS] alias`` → (table as written, the name its columns go by)."""
    names: list[Token] = []
    i = 0
    while i < len(source) and source[i].kind in ("word", "quoted"):
        names.append(source[i])
        if i + 1 < len(source) and source[i + 1].text == ".":
            i += 2
            continue
        i += 1
        break
    rest = source[i:]
    if not names or len(names) > 2:
        raise NotIncremental("its FROM is not one table")
    if rest and rest[0].word == "as":
        rest = rest[1:]
    if len(rest) > 1 or (rest and rest[0].kind not in ("word", "quoted")):
        raise NotIncremental("its FROM is not one table")
    table = ".".join(t.text for t in names)
    alias = rest[0].text if rest else names[-1].text
    return table, alias


def _group_by(
    group: list[Token],
    keys: list[tuple[str, str]],
    columns: list[str],
    key_items: dict[str, int],
) -> None:
    """Every GROUP BY item is a key column of the view, and every key column is grouped."""
    grouped: set[str] = set()
    key_names = {name for name, _ in keys}
    for part in _split(group):
        if part and part[0].word in ("rollup", "cube", "grouping"):
            raise NotIncremental("it groups by ROLLUP / CUBE / GROUPING SETS")
        text = _text(part)
        if len(part) == 1 and part[0].kind == "number" and part[0].text.isdigit():
            index = int(part[0].text) - 1
            if not 0 <= index < len(columns) or columns[index] not in key_names:
                raise NotIncremental(f"GROUP BY {text} is not a key column of the view")
            grouped.add(columns[index])
        elif _norm(part) in key_items:
            grouped.add(columns[key_items[_norm(part)] - 1])
        elif len(part) == 1 and _name(part[0]) in key_names:
            grouped.add(_name(part[0]))
        else:
            raise NotIncremental(
                f"GROUP BY {text} is not a column of the view (each group must be one row)"
            )
    missing = key_names - grouped
    if missing:
        raise NotIncremental(f"column {sorted(missing)[0]!r} is neither grouped nor aggregated")
