"""`smscast segments`: count contacts by an expression, save and list named segments."""

from __future__ import annotations

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, print_json
from smscast.core.counts import counted
from smscast.engine.campaigns.segments import (
    count_segment,
    delete_segment,
    list_segments,
    save_segment,
)

app = typer.Typer(help="Segments: who a campaign goes to.", no_args_is_help=True)


@app.command("count")
def count(
    expression: str = typer.Argument(..., help='e.g. country = "PL" and not clicked(last 30 days)'),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """How many contacts the expression selects now."""
    with command_context() as ctx:
        result = count_segment(ctx.engine, ctx.workspace(workspace), expression, now())
    if as_json:
        print_json(result)
    else:
        console.print(counted(result["count"], "contact"))


@app.command("save")
def save(
    name: str = typer.Argument(..., help="Segment name"),
    expression: str = typer.Argument(..., help="Segment expression"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Save (or replace) a named segment, checked first."""
    with command_context() as ctx:
        saved = save_segment(ctx.engine, ctx.workspace(workspace), name, expression,
                             actor=actor(), now=now())  # fmt: skip
    console.print(f"saved segment {saved['name']!r}")


@app.command("list")
def list_(
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Saved segments."""
    with command_context() as ctx:
        rows = list_segments(ctx.engine, ctx.workspace(workspace))
    if as_json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{row['name']}: {row['expression']}", highlight=False)


@app.command("delete")
def delete(name: str = typer.Argument(...), workspace: str | None = WORKSPACE) -> None:
    """Delete a saved segment."""
    with command_context() as ctx:
        delete_segment(ctx.engine, ctx.workspace(workspace), name, actor=actor(), now=now())
    console.print(f"deleted segment {name!r}")
