"""Human renderings of plans and status (the ``--json`` forms come from ``to_json``)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from pgwarden.engine import Change, Plan, Status

_STYLE = {
    "migrate": "cyan",
    "create": "green",
    "replace": "yellow",
    "repair": "magenta",
    "drop": "red",
    "forget": "dim",
}


def render_plan(console: Console, plan: Plan, *, where: str, show_sql: bool = True) -> None:
    server = plan.server
    head = f"database [bold]{server.database}[/] on PostgreSQL {server.version} — {where}"
    console.print(head)
    if plan.empty:
        console.print(
            f"[green]No changes.[/] The database matches the declaration "
            f"({plan.declared_tables} table(s) declared)."
        )
        _notes(console, plan)
        return
    console.print()
    for change in plan.changes:  # in the order apply runs them
        render_change(console, change, show_sql=show_sql)
    counts = {a: sum(1 for c in plan.changes if c.action == a) for a in _STYLE}
    summary = ", ".join(f"{n} to {a}" for a, n in counts.items() if n)
    console.print(f"\nPlan: {summary}.")
    if any(c.destructive for c in plan.changes):
        console.print("[bold red]Some changes drop data[/] (marked [red]destroys data[/]).")
    if plan.drift:
        console.print(f"[magenta]{len(plan.drift)} object(s) drifted[/] and will be repaired.")
    _notes(console, plan)


def _notes(console: Console, plan: Plan) -> None:
    for note in plan.notes:  # advice: not applied by this plan
        console.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)


def render_change(console: Console, change: Change, *, show_sql: bool) -> None:
    style = _STYLE[change.action]
    notes = [str(change.lock)]
    if not change.transactional:
        notes.append("outside a transaction")
    if change.destructive:
        notes.append("[red]destroys data[/]")
    reason = f" ([italic]{escape(change.reason)}[/])" if change.reason else ""
    console.print(
        f"  [{style}]{change.symbol} {change.action:<7}[/] {escape(change.description)}{reason}"
        f"  [dim]{' · '.join(notes)}[/]",
        soft_wrap=True,
    )
    if show_sql and change.statements:
        for line in change.sql.splitlines():
            console.print(f"      [dim]{escape(line)}[/]", soft_wrap=True)


def render_status(console: Console, status: Status, *, where: str) -> None:
    server = status.server
    console.print(f"database [bold]{server.database}[/] on PostgreSQL {server.version} — {where}")
    if not status.schema_version:
        console.print("pgwarden has not been applied to this database yet.")
    else:
        last = status.last_apply.strftime("%Y-%m-%d %H:%M:%S %Z") if status.last_apply else "-"
        console.print(f"warden schema version {status.schema_version}; last apply {last}")
    if status.objects:
        table = RichTable("table", "feature", "object", "state", box=None, pad_edge=False)
        for item in status.objects:
            state = item.state
            color = {"ok": "green", "altered": "yellow", "missing": "red"}[state]
            table.add_row(
                str(item.owned.table or "(database)"),
                item.owned.feature,
                item.owned.ref.key,
                f"[{color}]{state}",
            )
        console.print(table)
    if status.drift:
        console.print(
            f"[magenta]{len(status.drift)} object(s) drifted[/]: `pgwarden apply` repairs them."
        )
    for note in status.notes:
        console.print(f"[cyan]{escape(note)}")
    if status.pending:
        console.print(f"{len(status.pending)} change(s) pending: see `pgwarden plan`.")
    elif status.schema_version:
        console.print("[green]Up to date.[/]")
