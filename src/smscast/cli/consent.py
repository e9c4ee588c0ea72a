"""`smscast consent`: the ledger of opt-ins and opt-outs, per channel (`--channel all`:
the opt-out from everything)."""

from __future__ import annotations

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, print_json
from smscast.core.consent import Action, Channel, ConsentChannel, Source
from smscast.core.counts import counted
from smscast.engine.contacts.consent import (
    ConsentChange,
    consent_history,
    rebuild_consent_state,
    record_consent,
)

app = typer.Typer(help="Consent history, opt-in and opt-out.", no_args_is_help=True)


@app.command("history")
def history(
    phone: str = typer.Argument(..., help="Phone number"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Every consent event of a contact, oldest first, with its evidence."""
    with command_context() as ctx:
        result = consent_history(ctx.engine, ctx.workspace(workspace), phone)
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{result['phone']}[/]")
    for event in result["events"]:
        console.print(
            f"{event['occurred_at']:%Y-%m-%d %H:%M:%S}  {event['channel']}/{event['purpose']}  "
            f"{event['action']}  via {event['source']} by {event['actor']}  "
            f"evidence: {event['evidence']!r}",
            highlight=False,
        )
    if not result["events"]:
        console.print("no consent events")


def _change(phone: str, workspace: str | None, action: Action, channel: ConsentChannel | Channel,
            purpose: str, source: Source, evidence: str) -> None:  # fmt: skip
    with command_context() as ctx:
        change = ConsentChange(channel.value, purpose, action, source, evidence, actor(), now())
        result = record_consent(ctx.engine, ctx.settings, ctx.workspace(workspace), phone, change)
    states = ", ".join(f"{s['channel']}/{s['purpose']}: {s['status']}" for s in result["state"])
    console.print(f"{result['phone']}: {states}")


@app.command("opt-out")
def opt_out(
    phone: str = typer.Argument(..., help="Phone number"),
    channel: ConsentChannel = typer.Option(
        ..., help="Channel the person opts out of; all: every channel (opt-out from everything)"
    ),
    purpose: str = typer.Option("all", help="promotional, informational or all"),
    evidence: str = typer.Option("", help="What the person said or did"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Record an opt-out: no promotional message on that channel (or any, with --channel all)
    reaches them again."""
    _change(phone, workspace, Action.OPT_OUT, channel, purpose, Source.CLI,
            evidence or "opt-out recorded by an operator")  # fmt: skip


@app.command("opt-in")
def opt_in(
    phone: str = typer.Argument(..., help="Phone number"),
    channel: Channel = typer.Option(..., help="Channel the person opts in to"),
    evidence: str = typer.Option(
        ..., help="The consent the person gave, in their words or the form's"
    ),
    purpose: str = typer.Option("promotional", help="promotional, informational or all"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Record new consent with its evidence (this also lifts an earlier erasure)."""
    _change(phone, workspace, Action.OPT_IN, channel, purpose, Source.CLI, evidence)


@app.command("rebuild")
def rebuild(workspace: str | None = WORKSPACE) -> None:
    """Rebuild everyone's current consent from the ledger."""
    with command_context() as ctx:
        count = rebuild_consent_state(ctx.engine, ctx.workspace(workspace))
    console.print(
        f"rebuilt consent state of {counted(count, 'contact', grouped=True)} from the ledger"
    )
