"""``pgwarden init``: a starter pgwarden.toml listing the live tables, every feature off."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pgwarden.catalog import Catalog
from pgwarden.cli._app import app
from pgwarden.cli._common import EXIT_ERROR, console, err_console, fail, options
from pgwarden.config import DEFAULT_CONFIG
from pgwarden.errors import PgwardenError
from pgwarden.features import registered_features


def starter_file(catalog: Catalog, *, url_line: str | None) -> str:
    """The text of a starter declaration for the tables in ``catalog``."""
    lines = [
        "# pgwarden.toml: what your data needs. `pgwarden plan` shows what this builds.",
        "",
        "[database]",
        url_line or '# url = "env:DATABASE_URL"   # absent: the embedded server under .pgwarden/',
        '# lock_timeout = "5s"          # longest wait for one lock while applying',
        "",
        "# Features (true, false, or a table of options):",
    ]
    features = registered_features()
    lines += [f"#   {name:<12} {feature.summary}" for name, feature in features.items()]
    for name in sorted(catalog.tables):
        table = catalog.tables[name]
        if table.partition_of is not None:
            continue  # partitions follow their parent's declaration
        lines += ["", f"[tables.{json.dumps(str(name))}]"]
        lines += [f"{feature} = false" for feature in features]
    return "\n".join(lines) + "\n"


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter pgwarden.toml that lists the database's tables, every feature off."""
    opts = options(ctx)
    path = opts.config or DEFAULT_CONFIG
    if path.exists() and not force:
        err_console.print(f"{path} exists; use --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)
    try:
        warden = opts.warden()
        catalog = warden.catalog()
    except PgwardenError as exc:
        fail(exc)
    url_line = None
    if warden.target.source in ("PGWARDEN_DATABASE_URL", "DATABASE_URL"):
        url_line = f'url = "env:{warden.target.source}"'
    path.write_text(starter_file(catalog, url_line=url_line), encoding="utf-8")
    console.print(f"Wrote {path} with {len(catalog.tables)} table(s); every feature is off.")
