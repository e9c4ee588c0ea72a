"""`smscast workspace`: teams that share one installation."""

from __future__ import annotations

import typer
from sqlalchemy import select

from smscast.cli import workspace_settings
from smscast.cli.context import actor, command_context, now
from smscast.cli.output import console, print_json
from smscast.engine.accounts.workspaces import create_workspace
from smscast.store.models import Workspace, table_of

app = typer.Typer(help="Create and list workspaces; their campaign rules.", no_args_is_help=True)
workspace_settings.register(app)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Name of the workspace"),
    country: str = typer.Option(..., help="Default country of its numbers (ISO code, e.g. PL)"),
    timezone: str = typer.Option(..., help="Default time zone (e.g. Europe/Warsaw)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Create a workspace."""
    with command_context() as ctx:
        workspace = create_workspace(ctx.engine, name, country, timezone, actor=actor(), now=now())
    if as_json:
        print_json({"id": workspace.id, "name": workspace.name, "country": workspace.country,
                    "timezone": workspace.timezone})  # fmt: skip
    else:
        console.print(f"Created workspace [bold]{workspace.name}[/] (#{workspace.id}, "
                      f"{workspace.country}, {workspace.timezone})")  # fmt: skip


@app.command("list")
def list_workspaces(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """List workspaces."""
    with command_context() as ctx, ctx.engine.connect() as conn:
        table = table_of(Workspace)
        rows = conn.execute(select(table).order_by(table.c.id)).all()
    items = [{"id": r.id, "name": r.name, "country": r.country, "timezone": r.timezone}
             for r in rows]  # fmt: skip
    if as_json:
        print_json(items)
        return
    for item in items:
        console.print(f"#{item['id']}  {item['name']}  {item['country']}  {item['timezone']}")
