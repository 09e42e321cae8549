"""What a feature is: a name, an options model, and a function from a table to owned objects."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, Column, Table
from pgwarden.engine import DesiredObject, Kind, Lock, ObjectRef, Stream
from pgwarden.errors import FeatureNotApplicable
from pgwarden.spec import FeatureOptions, Spec

if TYPE_CHECKING:
    import typer

    from pgwarden.maintenance import Job
    from pgwarden.warden import Warden


@dataclass(frozen=True)
class PlanContext:
    """Everything a feature may look at while deciding what it needs."""

    catalog: Catalog
    spec: Spec
    owned: frozenset[str] = frozenset()
    """Keys of the objects pgwarden owns already (see ``ObjectRef.key``)."""
    state: dict[str, Any] = field(default_factory=dict)
    """What each feature's :meth:`Feature.prepare` read, by feature name."""
    features: Mapping[str, Feature] = field(default_factory=dict)

    def owns(self, ref: ObjectRef) -> bool:
        """True when pgwarden created this object (so it is not the user's to adopt)."""
        return ref.key in self.owned

    def with_columns_to_come(self, table: Table) -> Table:
        """``table`` as it will be once this apply has run: with the columns other features
        declared on it add (soft delete's ``deleted_at``, timestamps' ``updated_at``...), so
        that a feature mirroring the table's columns (archive, views) settles in one apply."""
        declared = self.spec.tables.get(table.name)
        have = set(table.column_names)
        extra: list[Column] = []
        for name, options in declared.features.items() if declared else ():
            feature = self.features.get(name)
            for column in feature.columns_to_come(table, options) if feature else ():
                if column.name not in have:
                    have.add(column.name)
                    extra.append(column)
        # The engine adds them in the order of their object keys: by name.
        extra.sort(key=lambda c: c.name)
        added = tuple(replace(c, position=len(table.columns) + i) for i, c in enumerate(extra, 1))
        return replace(table, columns=table.columns + added) if added else table

    def partitions_to_come(self, table: Table) -> list[Table]:
        """Partitions of ``table`` the same apply will create (not in the catalog yet), as
        stand-ins with their name, so features that put objects on each partition (audit's
        TRUNCATE trigger) plan them in the same apply."""
        declared = self.spec.tables.get(table.name)
        found: list[Table] = []
        for name, options in declared.features.items() if declared else ():
            feature = self.features.get(name)
            if feature is None:
                continue
            for part in feature.partitions_to_come(table, options, self):
                if self.catalog.get(part) is None:
                    found.append(
                        replace(table, name=part, kind="table", partition_of=table.name, oid=0)
                    )
        return found

    def partitions_below(self, table: Table) -> list[Table]:
        """Every partition below ``table``, at any depth, and those this apply creates: what
        features that put objects on each partition (triggers, policies) cover."""
        found: list[Table] = []
        level = [table.name]
        while level:
            below = sorted(
                (t for t in self.catalog.tables.values() if t.partition_of in level),
                key=lambda t: t.name,
            )
            found.extend(below)
            level = [t.name for t in below]
        return found + self.partitions_to_come(table)


class FeatureAPI:
    """A feature's Python API, reached from a :class:`~pgwarden.Warden` as
    ``warden.<feature's attribute>`` (``warden.audit.history(...)``) or, for any installed
    feature, ``warden.api(SomeAPI)``. It holds the ``Warden`` and uses its connections,
    sessions and declaration; it keeps no state of its own."""

    attribute: ClassVar[str | None] = None
    """Its name on a ``Warden`` (default: the feature's name)."""

    def __init__(self, warden: Warden) -> None:
        self.warden = warden


class Feature(ABC):
    """A capability declared per table in ``pgwarden.toml``.

    Subclasses set ``name`` (the key in the file), ``summary`` (one line for ``init`` and
    ``--help``) and ``options`` (a :class:`FeatureOptions` model), and implement
    :meth:`objects`. The engine does the rest: ordering, ledger, drift, exact removal.

    Optional parts of the contract: ``requires`` (features that must be declared on the same
    table; the engine refuses the plan otherwise), ``api`` (the class of its Python API),
    :meth:`commands` (its CLI command group), :meth:`jobs` (recurring work), :meth:`health`.
    A feature registers under the entry-point group ``pgwarden.features``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[type[FeatureOptions]]
    requires: ClassVar[tuple[str, ...]] = ()
    """Features this one needs on the same table (versioning reads audit's events)."""
    api: ClassVar[type[FeatureAPI] | None] = None
    """Its Python API, built per ``Warden`` (``warden.api(cls)``)."""
    keeps_history: ClassVar[bool] = False
    """Declaring it says a table's rows are worth keeping (so an ON DELETE CASCADE key into
    the table, which destroys rows silently, is worth converting: ``pgwarden foreign-keys``)."""

    def commands(self, app: typer.Typer) -> None:
        """Add this feature's commands (a command group, usually) to the ``pgwarden`` CLI.
        Default: none."""
        return None

    def prepare(self, conn: psycopg.Connection[Any]) -> Any:
        """Read what this feature keeps in pgwarden's own tables before planning (runs once
        per plan; the result is ``ctx.state[name]``). Reads only; default: nothing."""
        return None

    @abstractmethod
    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        """The objects this feature needs on ``table``; raise ``FeatureNotApplicable`` when
        the table cannot have it (saying why)."""

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        """The objects this feature needs once for the whole database (event triggers, an
        extension), with ``table=None``: planned when the feature is declared on at least
        one table, removed with its last declaration. Default: none."""
        return []

    def kinds(self) -> list[Kind]:
        """Object kinds this feature adds to the engine's (e.g. a row in one of its own
        tables), registered before planning. Default: none."""
        return []

    def stream(self) -> Stream | None:
        """What this feature keeps in the ``warden`` schema: its state migrations (tables,
        data moves) in a version stream of its own, and its SQL functions and views, each
        defined once in a ``.sql`` file and planned as an object (see
        :class:`pgwarden.engine.Stream`). Default: none."""
        return None

    def relation_replaced(
        self, conn: psycopg.Connection[Any], old_oid: int, new: QualifiedName
    ) -> None:
        """The table of oid ``old_oid`` is being replaced, in the caller's transaction, by
        relation ``new``, which takes its name (another feature's operation, through
        :func:`pgwarden.engine.relation_replaced`): move what this feature keeps by oid or
        attribute number. Default: nothing."""
        return None

    def columns_to_come(self, table: Table, options: FeatureOptions) -> list[Column]:
        """Columns this feature adds to ``table`` (see
        :meth:`PlanContext.with_columns_to_come`). Default: none."""
        return []

    def partitions_to_come(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[QualifiedName]:
        """Partitions of ``table`` this feature's objects create (see
        :meth:`PlanContext.partitions_to_come`). Default: none."""
        return []

    def before_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        """Work that must precede the apply transaction (``conn`` in autocommit, under the
        apply lock), e.g. a replication slot. Default: nothing."""
        return None

    def after_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        """Work that must follow a committed apply (``conn`` in autocommit). Default: nothing."""
        return None

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        """Lines for ``pgwarden status`` about this feature's running state (work waiting,
        space held). Reads only; default: nothing."""
        return []

    def advice(self, ctx: PlanContext) -> list[str]:
        """Lines ``pgwarden plan`` shows beside its changes: what the declaration makes worth
        doing that apply does not do by itself, and the command that does it. Asked of every
        registered feature, declared or not; reads only. Default: nothing."""
        return []

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        """The recurring work this feature needs on the tables that declare it (purge,
        archive, retention...), for ``pgwarden maintain``. Default: none."""
        return []


def sql_template(package: str, filename: str) -> str:
    """A PL/pgSQL body kept beside its feature as a ``.sql`` file."""
    return resources.files(package).joinpath(filename).read_text()


def function_body(template: str, **parts: sql.Composable) -> sql.Literal:
    """Fill a ``.sql`` template's ``{placeholders}`` with composed identifiers, and return the
    body as a literal ready for ``CREATE FUNCTION ... AS {}``.

    The template is package data (ours), the parts are :class:`psycopg.sql` objects: nothing
    from the user's file is pasted in as text.
    """
    body = sql.SQL(template).format(**parts).as_string(None)
    return sql.Literal(body)


def no_public_execute(function: sql.Identifier) -> sql.Composed:
    """No EXECUTE for PUBLIC on a trigger function of ours. A trigger fires whatever the
    writer's privileges, and PostgreSQL refuses to call a trigger function directly; revoked
    anyway, so no role holds a right to a SECURITY DEFINER function it has no use for (what
    RLS linters flag: pgrls SEC042)."""
    return sql.SQL("REVOKE EXECUTE ON FUNCTION {}() FROM PUBLIC").format(function)


def trigger_function(
    feature: str,
    table: Table,
    ref: ObjectRef,
    body: sql.Literal,
    *,
    description: str,
    attributes: str = "",
    declared: Table | None = None,
) -> DesiredObject:
    """A ``RETURNS trigger`` PL/pgSQL function owned by ``feature`` for ``table`` (or for
    ``declared``, the table the feature is declared on, when the function serves another).

    ``attributes`` are fixed words of ours (``SECURITY DEFINER SET ...``), never user input.
    """
    function = sql.Identifier(ref.schema, ref.name)
    words = sql.SQL(attributes + " " if attributes else "")
    return DesiredObject(
        ref=ref,
        feature=feature,
        table=(declared or table).name,
        create=sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql {}AS {};\n{}"
        ).format(function, words, body, no_public_execute(function)),
        drop=sql.SQL("DROP FUNCTION IF EXISTS {}()").format(function),
        description=description,
    )


def trigger(
    feature: str,
    table: Table,
    name: str,
    timing: sql.Composable,
    function: ObjectRef,
    *,
    description: str,
    declared: Table | None = None,
    args: Sequence[str] = (),
) -> DesiredObject:
    """A trigger on ``table`` calling ``function``; ``timing`` is everything between the
    trigger's name and EXECUTE FUNCTION (``AFTER UPDATE ON t ... FOR EACH ROW``).
    ``declared`` is the table the feature is declared on, when the trigger lives elsewhere
    (on one of its partitions); ``args`` the function's trigger arguments."""
    return DesiredObject(
        ref=ObjectRef("trigger", table.name.schema, name, table.name),
        feature=feature,
        table=(declared or table).name,
        create=sql.SQL("CREATE OR REPLACE TRIGGER {} {} EXECUTE FUNCTION {}({})").format(
            sql.Identifier(name),
            timing,
            sql.Identifier(function.schema, function.name),
            sql.SQL(", ").join(map(sql.Literal, args)),
        ),
        drop=sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
            sql.Identifier(name), table.name.ident
        ),
        description=description,
        lock=Lock("SHARE ROW EXCLUSIVE", table.name),
    )


def feature_column(
    feature: str,
    table: Table,
    column: str,
    ctx: PlanContext,
    *,
    definition: str,
    accepted: tuple[str, ...],
    alter: str,
) -> DesiredObject | None:
    """A column a feature needs on ``table``: ``None`` when the user's own column of that name
    (of an ``accepted`` type) is adopted and so never dropped by pgwarden; else an owned column
    added as ``definition`` (our fixed words, e.g. ``timestamptz NOT NULL DEFAULT now()``),
    repaired in place with ``alter`` (``{0}`` the table, ``{1}`` the column) and dropped with
    the feature."""
    ref = ObjectRef("column", table.name.schema, column, table.name)
    existing = table.column(column)
    if existing is not None and not ctx.owns(ref):
        if existing.type not in accepted:
            raise FeatureNotApplicable(
                str(table.name),
                feature,
                f"column {column} exists with type {existing.type}; it must be "
                f"{' or '.join(accepted)} (or name another column in the feature's options)",
            )
        if existing.generated:
            raise FeatureNotApplicable(
                str(table.name), feature, f"column {column} is a generated column"
            )
        return None
    return DesiredObject(
        ref=ref,
        feature=feature,
        table=table.name,
        create=sql.SQL("ALTER TABLE {} ADD COLUMN {} " + definition).format(
            table.name.ident, sql.Identifier(column)
        ),
        drop=sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(
            table.name.ident, sql.Identifier(column)
        ),
        alter=sql.SQL(alter).format(table.name.ident, sql.Identifier(column)),
        description=f"column {column} on {table.name}",
        lock=Lock("ACCESS EXCLUSIVE", table.name),
        destructive=True,
    )


def new_column(name: str, type_name: str, type_oid: int, *, not_null: bool = False) -> Column:
    """A column a feature will add (for :meth:`Feature.columns_to_come`)."""
    return Column(
        name=name,
        type=type_name,
        type_oid=type_oid,
        not_null=not_null,
        default=None,
        generated=False,
        identity=False,
        position=0,
    )
