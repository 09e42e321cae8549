"""The best rows of each common word, kept so that a one-word query ranks a few hundred rows
instead of every match (GIN cannot return rows in rank order). Exact: the query uses them only
when they hold the whole page (see ``docs/search.md``, "Fast common words")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import function_body, sql_template
from pgwarden.features.search._options import SearchOptions
from pgwarden.features.search._plan import _PACKAGE, NAME, function_ref
from pgwarden.maintenance import Job, JobContext

# Part of what the ranking pass records having run for: a new value makes the next apply
# replace the marker, so the pass starts over once. Changed when a fix means that rankings
# made before it may lack rows: a pass before the ranking-race fix ("search: keep rows written
# during the ranking pass") could miss a row written meanwhile, and neither `maintain` nor
# anything else adds it until the row's searched columns are written again.
RANKING_SINCE = ":race-fix"


@dataclass(frozen=True)
class Kept:
    """The two tables of one searched table: its common words (with their thresholds) and
    the rows kept per word."""

    table: Table
    keys: tuple[str, ...]
    terms: sql.Identifier
    kept: sql.Identifier
    terms_name: str
    kept_name: str

    def join(self, row: str, other: str) -> sql.Composable:
        return sql.SQL(" and ").join(
            sql.SQL("{} = {}").format(sql.Identifier(row, k), sql.Identifier(other, k))
            for k in self.keys
        )

    def of(self, row: str) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("{}.{}").format(sql.SQL(row), sql.Identifier(k)) for k in self.keys
        )


def kept_for(table: Table, options: SearchOptions) -> Kept | None:
    """None when nothing is kept: ``top = 0``, or no primary key to point at rows with."""
    if options.top == 0 or table.primary_key is None:
        return None
    terms = owned_name(table.name.schema, table.name.name, suffix="search_terms")
    kept = owned_name(table.name.schema, table.name.name, suffix="search_top")
    return Kept(
        table, table.primary_key.columns, sql.Identifier("warden", terms),
        sql.Identifier("warden", kept), terms, kept,
    )  # fmt: skip


def trigger_part(k: Kept | None, vector: str) -> sql.Composable:
    """What the vector's trigger adds: the row's kept entries follow its new vector."""
    if k is None:
        return sql.SQL("")
    v = sql.Identifier(vector)
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in k.keys)
    # An entry already there for the key (a deleted row's, or one added for an older version
    # of the row) is not left as it is but updated: the ranking pass may be removing it under
    # a snapshot that does not see this row yet, and it removes only entries older than its
    # snapshot, which it checks again on the version this makes (see top.sql). No extra
    # statement: the usual path is the one INSERT.
    return sql.SQL(
        """
    if tg_op = 'UPDATE' then
        delete from {kept} c
         where c.lexeme = any (tsvector_to_array(old.{v})) and ({keys}) = ({old});
    end if;
    insert into {kept} (lexeme, {keys})
    select s.lexeme, {new} from {terms} s
     where s.lexeme = any (tsvector_to_array(new.{v})) and ts_rank(new.{v}, s.query) >= s.theta
    on conflict (lexeme, {keys}) do update set lexeme = excluded.lexeme;"""
    ).format(kept=k.kept, terms=k.terms, v=v, keys=keys, old=k.of("old"), new=k.of("new"))


def query_part(
    k: Kept | None,
    vector: str,
    live: sql.Composable,
    order_key: sql.Composable,
    page: Callable[[sql.Composable, sql.Composable], sql.Composable],
) -> sql.Composable:
    """The search function's first step for a one-word query of a common word: rank the
    word's kept rows, and answer with them when they hold the whole page. ``page`` makes the
    returned page (headlines) of a ranked select and a condition on it."""
    if k is None:
        return sql.SQL("")
    v = sql.Identifier(vector)
    ranked = sql.SQL(
        "select t as item, ts_rank(t.{v}, $1) as rank, count(*) over () as n"
        " from {terms} s join {kept} c on c.lexeme = s.lexeme join {table} t on {join}"
        " where s.query = $1 and s.ready and t.{v} @@ $1 and ts_rank(t.{v}, $1) >= s.theta{live}"
        " order by 2 desc, {order_key} limit $2 offset $3"
    ).format(
        v=v, terms=k.terms, kept=k.kept, table=k.table.name.ident, join=k.join("t", "c"),
        live=live, order_key=order_key,
    )  # fmt: skip
    statement = page(ranked, sql.SQL(" where h.n >= $2::bigint + $3"))
    return sql.SQL(
        """
    -- a one-word query of a common word: its kept best rows, when they hold the whole page
    -- (exact: every row ranking at least the word's threshold is kept, see top.sql)
    perform from {terms} s where s.query = tsq and s.ready;
    if found then
        return query execute {statement} using tsq, $2, $3;
        if found then
            return;
        end if;
    end if;"""
    ).format(terms=k.terms, statement=sql.Literal(statement.as_string(None)))


def kept_objects(k: Kept, options: SearchOptions, definition: str) -> list[DesiredObject]:
    """The tables, the procedure ranking the common words, and its run (after the index)."""
    table = k.table
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_type(table, c))) for c in k.keys
    )
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in k.keys)
    visible = sql.SQL(
        "CREATE POLICY pgwarden_visible ON {kept} USING "
        "(EXISTS (SELECT FROM {table} t WHERE {join}))"
    ).format(kept=k.kept, table=table.name.ident, join=k.join("t", k.kept_name))
    found = [
        DesiredObject(
            ref=ObjectRef("table", "warden", k.terms_name),
            feature=NAME,
            table=table.name,
            create=sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (lexeme text PRIMARY KEY, query tsquery NOT NULL"
                " UNIQUE, theta real NOT NULL, ready boolean NOT NULL DEFAULT false);"
                " GRANT SELECT ON {t} TO PUBLIC"
            ).format(t=k.terms),
            drop=sql.SQL("DROP TABLE IF EXISTS {}").format(k.terms),
            description=f"table of {table.name}'s common words and their rank thresholds",
        ),
        DesiredObject(
            ref=ObjectRef("table", "warden", k.kept_name),
            feature=NAME,
            table=table.name,
            create=sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (lexeme text NOT NULL, {columns},"
                " PRIMARY KEY (lexeme, {keys})); ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"
                " {visible}; GRANT SELECT ON {t} TO PUBLIC"
            ).format(t=k.kept, columns=columns, keys=keys, visible=visible),
            drop=sql.SQL("DROP TABLE IF EXISTS {}").format(k.kept),
            description=(
                f"table of the best rows of each common word of {table.name} (a row shows "
                "only to whom the row itself shows)"
            ),
        ),
    ]
    run = function_ref(table, "search_top_run", "integer, integer, text, boolean")
    marker = function_ref(table, "search_ranked")
    marker_text = sql.Literal(sql.Identifier(marker.schema, marker.name).as_string(None))
    sample = sql.SQL("select {} from {} tablesample system (").format(
        sql.Identifier(options.column), table.name.ident
    )
    body = function_body(
        sql_template(_PACKAGE, "top.sql"),
        table=table.name.ident,
        table_text=sql.Literal(table.name.regclass_text),
        vector=sql.Identifier(options.column),
        terms=k.terms,
        kept=k.kept,
        marker_text=marker_text,
        sample_sql=sql.Literal(sample.as_string(None)),
        key_columns=keys,
        row_keys=k.of("t"),
        join_keys=k.join("t", "c"),
    )
    ident = sql.Identifier(run.schema, run.name)
    stamp = f"{definition}:{options.top}:{options.common}{RANKING_SINCE}"
    found += [
        DesiredObject(
            ref=run,
            feature=NAME,
            table=table.name,
            create=sql.SQL(
                "CREATE OR REPLACE PROCEDURE {}(top integer, common integer, definition text,"
                " refresh boolean) LANGUAGE plpgsql AS {}"
            ).format(ident, body),
            drop=sql.SQL("DROP PROCEDURE IF EXISTS {}(integer, integer, text, boolean)").format(
                ident
            ),
            description=f"procedure keeping the best rows of {table.name}'s common words",
        ),
        DesiredObject(
            ref=marker,
            feature=NAME,
            table=table.name,
            create=sql.SQL("CALL {}({}, {}, {}, false)").format(
                ident, sql.Literal(options.top), sql.Literal(options.common), sql.Literal(stamp)
            ),
            drop=sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
                sql.Identifier(marker.schema, marker.name)
            ),
            description=(
                f"keep the {options.top} best rows of each word of {table.name} in "
                f"{options.common}+ rows, one committed word at a time, after the GIN index"
            ),
            transactional=False,
            rank=55,  # after the indexes (50): it looks each common word up in the GIN index
        ),
    ]
    return found


def refresh_job(table: Table, options: SearchOptions) -> Job:
    """``pgwarden maintain``: thresholds again (rows deleted or changed since), and the words
    that became common."""
    run = function_ref(table, "search_top_run", "integer, integer, text, boolean")
    call = sql.SQL("CALL {}({}, {}, NULL, true)").format(
        sql.Identifier(run.schema, run.name), sql.Literal(options.top), sql.Literal(options.common)
    )

    def work(ctx: JobContext) -> tuple[int, str]:
        if ctx.dry_run:
            return 0, "would rank the common words again"
        ctx.conn.execute(call)
        row = ctx.conn.execute(
            sql.SQL("select count(*) filter (where ready), count(*) from warden.{}").format(
                sql.Identifier(
                    owned_name(table.name.schema, table.name.name, suffix="search_terms")
                )
            )
        ).fetchone()
        ready, words = (row[0], row[1]) if row else (0, 0)
        return int(ready), f"{ready} of {words} common words ranked"

    return Job(
        name=f"search-rank:{table.name}",
        feature=NAME,
        table=table.name,
        description=f"keep the best rows of {table.name}'s common words",
        run=work,
    )


def _type(table: Table, name: str) -> str:
    column = table.column(name)
    assert column is not None
    return column.type
