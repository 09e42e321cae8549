"""``pgwarden doctor``, ``pgwarden queries`` and ``pgwarden top`` (registered through the
``pgwarden.commands`` entry point)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pgwarden.cli._common import (
    EXIT_ERROR,
    EXIT_PENDING,
    AsJson,
    console,
    err_console,
    fail,
    options,
    print_json,
)
from pgwarden.errors import PgwardenError
from pgwarden.ops.monitor import Finding, QueryReport, Report, Severity

_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _evidence(finding: Finding) -> str:
    return ", ".join(
        f"{k}={v:,.4g}" if isinstance(v, float) else f"{k}={v:,}"
        for k, v in finding.evidence.items()
    )


def render_report(report: Report, *, verbose: bool = False) -> None:
    if not report.findings:
        console.print(
            f"[green]No findings[/] ({len(report.checks)} checks, {report.seconds:.2f}s)."
        )
    table = Table(show_lines=False, box=None, pad_edge=False)
    for column in ("severity", "check", "object", "evidence", "advice"):
        table.add_column(column, overflow="fold")
    for f in report.findings:
        fix = f"  [dim]fix: pgwarden doctor --fix {f.check}[/]" if f.fix else ""
        table.add_row(
            f"[{_STYLE[f.severity]}]{f.severity.value}[/]",
            escape(f.check),
            escape(f.object),
            escape(_evidence(f)),
            escape(f.advice) + fix,
        )
        if verbose and f.detail:
            table.add_row("", "", "", "", f"[dim]{escape(f.detail)}[/]")
    if report.findings:
        console.print(table)
        counts = {s: sum(f.severity is s for f in report.findings) for s in Severity}
        console.print(
            f"\n{len(report.findings)} finding(s): "
            + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
            + f" ({len(report.checks)} checks, {report.seconds:.2f}s)"
        )
    if report.silenced:
        console.print(f"[dim]{len(report.silenced)} silenced by [monitor] ignore[/]")
    for n in report.notices:
        console.print(f"[dim]not judged: {escape(n.check)}: {escape(n.reason)}[/]")


def _render_fixes(findings: list[Finding]) -> None:
    for f in findings:
        assert f.fix is not None
        how = "in one transaction" if f.fix.transactional else "outside a transaction"
        console.print(f"[bold]{escape(f.check)}[/] {escape(f.object)}: {escape(f.fix.description)}")
        console.print(f"  [dim]lock {escape(f.fix.lock)}, {how}[/]")
        for statement in f.fix.statements:
            console.print(f"  {escape(statement)};")


def doctor(
    ctx: typer.Context,
    check: Annotated[
        list[str] | None,
        typer.Option(
            "--check", metavar="ID", help="Run only this check, group or pattern (repeatable)."
        ),
    ] = None,
    fix: Annotated[
        str | None,
        typer.Option("--fix", metavar="ID", help="Apply the fixes of this check's findings."),
    ] = None,
    obj: Annotated[
        str | None, typer.Option("--object", help="With --fix: only this finding's object.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply fixes without asking.")] = False,
    list_checks: Annotated[
        bool, typer.Option("--list", help="List every check and what it reads.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show details (queries, plans).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Check the database's health: slow queries, indexes, bloat, vacuum, wraparound,
    sessions, replication, configuration, security, and pgwarden's own features.

    Each finding has a stable check id, a severity, the evidence and one line of advice;
    where a fix exists, `--fix ID` applies it (lock_timeout, retries, CONCURRENTLY).
    Silence findings with `[monitor] ignore` in pgwarden.toml.

    Exit codes: 0 no finding of severity warning or worse, 2 findings, 1 error.
    """
    opts = options(ctx)
    try:
        warden = opts.warden()
        monitor = warden.monitor
        if list_checks:
            infos = monitor.checks()
            if as_json:
                print_json([vars(i) for i in infos])
                return
            for i in infos:
                console.print(f"[bold]{i.id}[/]: {escape(i.title)} [dim]({escape(i.reads)})[/]")
            return
        if fix is not None:
            _fix(monitor, fix, obj, yes=yes, as_json=as_json)
            return
        report = monitor.doctor(check)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(report.to_json())
    else:
        render_report(report, verbose=verbose)
    if not report.ok:
        raise typer.Exit(EXIT_PENDING)


def _fix(monitor: object, check: str, obj: str | None, *, yes: bool, as_json: bool) -> None:
    from pgwarden.ops.monitor import Monitor

    assert isinstance(monitor, Monitor)
    report = monitor.doctor([check])
    chosen = [
        f
        for f in report.findings
        if f.check == check and f.fix is not None and (obj is None or f.object == obj)
    ]
    if not chosen:
        if as_json:
            print_json({"fixed": [], "findings": []})
        else:
            console.print(f"Nothing to fix for {escape(check)}.")
        return
    if not yes:
        if not sys.stdin.isatty():
            err_console.print("refusing to apply fixes without --yes: no terminal to ask on")
            raise typer.Exit(EXIT_ERROR)
        _render_fixes(chosen)
        if not typer.confirm(f"\nApply {len(chosen)} fix(es)?", default=False):
            err_console.print("Nothing applied.")
            raise typer.Exit(EXIT_ERROR)
    fixed: list[Finding] = []
    for finding in chosen:
        monitor.fix(check, finding.object)
        fixed.append(finding)
        if not as_json:
            console.print(f"[green]fixed[/] {escape(finding.check)} {escape(finding.object)}")
    left = monitor.doctor([check])
    remaining = [f for f in left.findings if f.check == check]
    if as_json:
        print_json(
            {"fixed": [f.to_json() for f in fixed], "findings": [f.to_json() for f in remaining]}
        )
    elif remaining:
        console.print(f"[yellow]{len(remaining)} finding(s) of {escape(check)} remain[/]")
    if remaining:
        raise typer.Exit(EXIT_PENDING)


def render_queries(report: QueryReport) -> None:
    where = "snapshots" if report.source == "history" else "pg_stat_statements since its reset"
    console.print(f"[bold]Top statements by total time[/] [dim](from {where})[/]")
    table = Table(box=None, pad_edge=False)
    for column in ("queryid", "calls", "total ms", "mean ms", "rows", "hit %", "change", "query"):
        table.add_column(column, justify="left" if column == "query" else "right", overflow="fold")
    for q in report.queries:
        change = "-" if q.change is None else f"{q.change:.2f}x"
        if q.change is None and q.previous_total_ms == 0:
            change = "new"
        table.add_row(
            str(q.queryid),
            f"{q.calls:,}",
            f"{q.total_ms:,.1f}",
            f"{q.mean_ms:,.3f}",
            f"{q.rows:,}",
            "-" if q.cache_hit is None else f"{100 * q.cache_hit:.1f}",
            change,
            escape(" ".join((q.query or "").split())[:120]),
        )
    console.print(table)


def queries(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window: '15min', '1h', '1 day'.")] = "1h",
    top: Annotated[int, typer.Option("--top", min=1, help="How many statements.")] = 10,
    as_json: AsJson = False,
) -> None:
    """Top statements by total time over a window, from the history the monitor-snapshot
    job keeps (calls, mean, rows, cache hit, change against the window before)."""
    try:
        report = options(ctx).warden().monitor.queries(since=since, top=top)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(report.to_json())
    else:
        render_queries(report)


def top(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, max=1.0, help="Seconds between refreshes.")
    ] = 1.0,
    iterations: Annotated[
        int | None, typer.Option("--iterations", min=1, help="Stop after this many refreshes.")
    ] = None,
    cancel: Annotated[
        int | None, typer.Option("--cancel", metavar="PID", help="Cancel this backend's query.")
    ] = None,
    terminate: Annotated[
        int | None, typer.Option("--terminate", metavar="PID", help="End this backend's session.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Signal without asking.")] = False,
    as_json: AsJson = False,
) -> None:
    """Live view of running queries, waits and the blocking tree.

    On a terminal: `c` cancels a backend's query, `t` terminates its session (each asks for
    the pid and a confirmation), `q` quits. `--cancel PID` / `--terminate PID` do it once.
    """
    from pgwarden.cli._top import run_top, signal

    try:
        monitor = options(ctx).warden().monitor
        if cancel is not None or terminate is not None:
            signal(monitor, cancel, terminate, yes=yes)
            return
        if as_json:
            print_json([a.to_json() for a in monitor.activity()])
            return
        run_top(monitor, interval=interval, iterations=iterations)
    except PgwardenError as exc:
        fail(exc)


def register(app: typer.Typer) -> None:
    """Add the monitoring commands to the root app."""
    app.command()(doctor)
    app.command()(queries)
    app.command()(top)
