"""``pgwarden roles``: the declared roles as they are; password rotation."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The [roles] roles: what they are and may do; passwords.")

    @group.command("show")
    def show(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Each declared role: created or adopted, its attributes and its grants."""
        from pgwarden.cli._common import console, fail, options, print_json
        from pgwarden.errors import PgwardenError
        from pgwarden.roles._api import RolesAPI

        try:
            found = RolesAPI(options(ctx).warden()).show()
        except PgwardenError as exc:
            fail(exc)
        if json_out:
            print_json([r.to_json() for r in found])
            return
        if not found:
            console.print("No [roles] declared.")
        for r in found:
            origin = "created by pgwarden" if r.created else "adopted"
            if not r.exists:
                origin = "missing (apply creates it)"
            console.print(f"[bold]{r.slot}[/] {r.name}: {origin}; {' '.join(r.attributes)}")
            for where, held in r.privileges.items():
                console.print(f"    {where}: {', '.join(held)}")

    @group.command("password")
    def password(
        ctx: typer.Context,
        slot: str = typer.Argument(help="owner, app, readonly or admin."),
    ) -> None:
        """Set SLOT's password again from its env: variable (rotation); never printed."""
        from pgwarden.cli._common import console, fail, options
        from pgwarden.errors import PgwardenError
        from pgwarden.roles._api import RolesAPI

        try:
            RolesAPI(options(ctx).warden()).set_password(slot)
        except PgwardenError as exc:
            fail(exc)
        console.print(f"password of the {slot} role set")

    app.add_typer(group, name="roles")
