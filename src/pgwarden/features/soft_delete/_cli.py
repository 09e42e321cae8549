"""``restore``, ``purge`` and ``foreign-keys``: soft delete from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from pgwarden.cli._common import AsJson, console, fail, options, print_json
from pgwarden.cli._maintain import Batch, DryRun, TableOption, run_maintenance
from pgwarden.errors import PgwardenError

TableArg = Annotated[str, typer.Argument(help="The soft-deletable table, e.g. public.users.")]
KeyArgs = Annotated[list[str], typer.Argument(help="The row's key (one value per key column).")]


soft_delete_app = typer.Typer(
    help="Soft-deleted rows: bring them back with what their delete cascaded to, purge old ones.",
    no_args_is_help=True,
)


@soft_delete_app.command()
def restore(
    ctx: typer.Context,
    table: TableArg,
    key: KeyArgs,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Recorded as pgwarden.actor (audit).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Bring back a soft-deleted row, with exactly the rows its delete cascaded to.

    Rows deleted separately stay deleted. Refuses (exit 1, nothing changed) when the row
    references a row that is still deleted: restore that one first.
    """
    value = key[0] if len(key) == 1 else tuple(key)
    try:
        restored = options(ctx).warden().soft_delete.restore(table, value, actor=actor)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json({"table": restored.table, "key": key, "restored": restored.rows})
    elif not restored.rows:
        console.print(f"{escape(table)} {escape(' '.join(key))} is not deleted: nothing to do")
    else:
        parts = ", ".join(f"{n} from {escape(t)}" for t, n in restored.rows.items())
        console.print(f"Restored {restored.total} row(s): {parts}")


@soft_delete_app.command()
def purge(
    ctx: typer.Context,
    table: TableOption = None,
    dry_run: DryRun = False,
    batch: Batch = 10_000,
    as_json: AsJson = False,
) -> None:
    """Hard-delete rows soft-deleted longer ago than their table's purge age.

    In batches, one transaction each; rows a foreign key still protects are kept and counted.
    """
    run_maintenance(
        ctx,
        table=table,
        names=["purge"],
        dry_run=dry_run,
        batch=batch,
        wait=False,
        as_json=as_json,
        nothing='Nothing to purge: no table declares soft_delete = { purge = "..." }.',
    )


keys_app = typer.Typer(
    help="ON DELETE CASCADE keys into tables that keep history, and their conversion.",
    no_args_is_help=True,
)


@keys_app.command("list")
def list_keys(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Foreign keys that delete rows of audited / versioned / soft-deletable / archived
    tables when a referenced row is deleted. Exit 0 when none, 2 when some are found."""
    try:
        keys = options(ctx).warden().soft_delete.cascading_keys()
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json([k.to_json() for k in keys])
    elif not keys:
        console.print("No ON DELETE CASCADE key deletes rows of a table that keeps history.")
    else:
        grid = RichTable(box=None, header_style="bold")
        for column in ("table", "constraint", "references", "keeps history by"):
            grid.add_column(column)
        for k in keys:
            grid.add_row(
                escape(str(k.table)),
                escape(k.name),
                escape(str(k.references)),
                ", ".join(k.features),
            )
        console.print(grid)
        console.print("Convert with: pgwarden foreign-keys restrict TABLE CONSTRAINT (or --all)")
    if keys:
        raise typer.Exit(2)


@keys_app.command("restrict")
def restrict_keys(
    ctx: typer.Context,
    table: Annotated[str | None, typer.Argument(help="The referencing table.")] = None,
    constraint: Annotated[str | None, typer.Argument(help="The foreign key's name.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every key `foreign-keys list` shows.")
    ] = False,
) -> None:
    """Make ON DELETE CASCADE keys RESTRICT, online (NOT VALID, VALIDATE, swap).

    Writes continue meanwhile; each step waits at most lock_timeout, with retries.
    """
    try:
        warden = options(ctx).warden()
        if every:
            targets = [(str(k.table), k.name) for k in warden.soft_delete.cascading_keys()]
        elif table and constraint:
            targets = [(table, constraint)]
        else:
            raise PgwardenError("name a TABLE and CONSTRAINT, or pass --all")
        for target, name in targets:
            changed = warden.soft_delete.restrict_foreign_key(target, name)
            state = "now ON DELETE RESTRICT" if changed else "already RESTRICT"
            console.print(f"{escape(target)} {escape(name)}: {state}")
    except PgwardenError as exc:
        fail(exc)


def register(app: typer.Typer) -> None:
    """``pgwarden soft-delete restore | purge``, ``pgwarden foreign-keys``, and the top-level
    shortcuts ``pgwarden restore`` / ``pgwarden purge``."""
    app.add_typer(soft_delete_app, name="soft-delete")
    app.add_typer(keys_app, name="foreign-keys")
    app.command("restore")(restore)
    app.command("purge")(purge)
