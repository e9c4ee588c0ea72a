"""`smscast bootstrap`: the first workspace and admin on a new installation."""

from __future__ import annotations

import typer

from smscast.cli.context import command_context, now
from smscast.cli.output import console
from smscast.engine.accounts.workspaces import ensure_first_run


def register(app: typer.Typer) -> None:
    @app.command("bootstrap")
    def bootstrap() -> None:
        """Create a first workspace and admin user if there are none (prints the login once).

        That admin owns the workspace and is an instance administrator: the one who may
        create more workspaces and name other instance administrators.
        """
        with command_context() as ctx:
            settings = ctx.settings
            first = ensure_first_run(
                ctx.engine,
                country=settings.default_country,
                timezone=settings.default_timezone,
                admin_email=settings.admin_email,
                now=now(),
            )
        if first is None:
            return
        console.print(
            f"Created workspace [bold]{first.workspace.name}[/] ({first.workspace.country}, "
            f"{first.workspace.timezone}) and its admin, an instance administrator.\n"
            f"  login:    [bold]{first.admin_email}[/]\n"
            f"  password: [bold]{first.admin_password}[/]   (shown once: keep it now)"
        )
