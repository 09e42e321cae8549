"""``pgwarden doctor``, ``pgwarden queries``, ``pgwarden top`` (entry point
``pgwarden.commands``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the monitoring commands to the root app."""
