"""The best rows of each common word, kept with their rank so that a one-word query reads the
page's entries in rank order (an index on word, rank, key) and looks up about as many rows as
the page holds, instead of ranking every match (GIN cannot return rows in rank order). Exact:
the query uses them only when they hold the whole page (see ``docs/search.md``, "Fast common
words")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import function_body, sql_template, trigger, trigger_function
from pgwarden.features.search._options import SearchOptions
from pgwarden.features.search._plan import _PACKAGE, NAME, function_ref
from pgwarden.maintenance import Job, JobContext

# Part of what the ranking pass records having run for: a new value makes the next apply
# replace the marker, so the pass starts over once. Changed when a fix means that rankings
# made before it may lack rows: a pass before the ranking-race fix ("search: keep rows written
# during the ranking pass") could miss a row written meanwhile, and neither `maintain` nor
# anything else adds it until the row's searched columns are written again. ":rank": the kept
# table holds each entry's rank (a new table, filled afresh).
RANKING_SINCE = ":rank"


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
    rank_index: str

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
        owned_name(table.name.schema, table.name.name, suffix="search_top_rank"),
    )  # fmt: skip


# writers need no right on the kept tables
_DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


def kept_trigger(
    k: Kept, options: SearchOptions, watched: list[sql.Identifier]
) -> list[DesiredObject]:
    """The function and AFTER trigger keeping a row's entries (see kept_trigger.sql)."""
    table = k.table
    function = function_ref(table, "search_kept")
    body = function_body(
        sql_template(_PACKAGE, "kept_trigger.sql"),
        vector=sql.Identifier(options.column),
        new_keys=k.of("new"),
        old_keys=k.of("old"),
        keep_top=_keep_entries(k, options.column),
    )
    timing = sql.SQL("AFTER INSERT OR UPDATE OF {} ON {} FOR EACH ROW").format(
        sql.SQL(", ").join([*watched, sql.Identifier(options.column)]), table.name.ident
    )
    return [
        trigger_function(
            NAME, table, function, body, attributes=_DEFINER,
            description=f"function keeping the entries of {table.name}'s rows among the best",
        ),
        trigger(
            NAME, table, "pgwarden_search_kept", timing, function,
            description=f"trigger keeping the best rows of {table.name}'s common words",
        ),
    ]  # fmt: skip


def _keep_entries(k: Kept, vector: str) -> sql.Composable:
    """The row's kept entries follow its new vector."""
    v = sql.Identifier(vector)
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in k.keys)
    # An entry already there for the key (a deleted row's, or one added for an older version
    # of the row) is not left as it is but updated, to this row's rank: the query orders the
    # entries by the rank they hold. And the ranking pass may be removing it under a snapshot
    # that does not see this row yet; it removes only entries older than its snapshot, which
    # it checks again on the version this makes (see top.sql). No extra statement: the usual
    # path is the one INSERT.
    return sql.SQL(
        """
    if tg_op = 'UPDATE' then
        delete from {kept} c
         where c.lexeme = any (tsvector_to_array(old.{v})) and ({keys}) = ({old});
    end if;
    insert into {kept} as c (lexeme, {keys}, rank)
    select s.lexeme, {new}, ts_rank(new.{v}, s.query) from {terms} s
     where s.lexeme = any (tsvector_to_array(new.{v})) and ts_rank(new.{v}, s.query) >= s.theta
    on conflict (lexeme, {keys}) do update set rank = excluded.rank;"""
    ).format(kept=k.kept, terms=k.terms, v=v, keys=keys, old=k.of("old"), new=k.of("new"))


def query_part(
    k: Kept | None,
    vector: str,
    live: sql.Composable,
    page: Callable[[sql.Composable, sql.Composable], sql.Composable],
) -> sql.Composable:
    """The search function's first step for a one-word query of a common word: the word's
    kept entries in rank order, and the page from them when they hold it. ``page`` makes the
    returned page (headlines) of a ranked select and a condition on it."""
    if k is None:
        return sql.SQL("")
    v = sql.Identifier(vector)
    # $4 the word, $5 its threshold, $6 how many entries to read. The first $6 entries in the
    # order of the index on (lexeme, rank desc, key) (an explicit LIMIT: with it the planner
    # walks that index, where a join it expects few rows of would sort every entry), each
    # checked against its row (still there, still that rank: a deleted row's entry, or one a
    # row written back under its key did not rewrite, is not). Materialized: counted, then
    # returned.
    ranked = sql.SQL(
        "with p as materialized (select t as item, c.rank from (select * from {kept} c"
        " where c.lexeme = $4 and c.rank >= $5 order by c.rank desc, {keys} limit $6) c"
        " join {table} t on {join} where t.{v} @@ $1 and ts_rank(t.{v}, $1) = c.rank{live}"
        " order by c.rank desc, {keys} limit $2 offset $3) "
    ).format(
        kept=k.kept, table=k.table.name.ident, join=k.join("t", "c"), v=v, live=live,
        keys=k.of("c"),
    )  # fmt: skip
    statement = sql.Composed([
        ranked,
        page(sql.SQL("select * from p"), sql.SQL(" where (select count(*) from p) >= $2")),
    ])  # fmt: skip
    count = sql.SQL("select count(*) from {kept} c where c.lexeme = $1 and c.rank >= $2").format(
        kept=k.kept
    )
    return sql.SQL(
        """
    -- a one-word query of a common word: its kept best rows, when they hold the whole page
    -- (exact: every row ranking at least the word's threshold is kept, with its rank; see
    -- top.sql). The page's entries and a margin for stale ones first; if those do not hold
    -- the page and there are more, all of them; then, if still not, every match is ranked.
    select s.lexeme, s.theta into common_word, common_theta
      from {terms} s where s.query = tsq and s.ready;
    if found then
        entries := 2 * ($2::bigint + $3) + 10;
        loop
            return query execute {statement}
                using tsq, $2, $3, common_word, common_theta, entries;
            if found then
                return;
            end if;
            execute {count} into kept_entries using common_word, common_theta;
            exit when kept_entries <= entries;
            entries := kept_entries;
        end loop;
    end if;"""
    ).format(
        terms=k.terms, statement=sql.Literal(statement.as_string(None)),
        count=sql.Literal(count.as_string(None)),
    )  # fmt: skip


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
            # A new (or replaced) table holds no entry: no word may be ready for it until the
            # ranking pass has run (it starts over: the marker's definition changes with it).
            create=sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (lexeme text NOT NULL, {columns}, rank real NOT"
                " NULL, PRIMARY KEY (lexeme, {keys})); CREATE INDEX IF NOT EXISTS {index} ON {t}"
                " (lexeme, rank DESC, {keys}); ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"
                " {visible}; GRANT SELECT ON {t} TO PUBLIC; DELETE FROM {terms}"
            ).format(
                t=k.kept,
                columns=columns,
                keys=keys,
                visible=visible,
                index=sql.Identifier(k.rank_index),
                terms=k.terms,
            ),
            drop=sql.SQL("DROP TABLE IF EXISTS {}").format(k.kept),
            description=(
                f"table of the best rows of each common word of {table.name}, with their rank"
                " (a row shows only to whom the row itself shows)"
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
