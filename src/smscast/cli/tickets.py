"""`smscast tickets`: support conversations with the people who text us."""

from __future__ import annotations

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, print_json
from smscast.engine.inbound.tickets import (
    add_ticket_note,
    assign_ticket,
    list_tickets,
    reopen_ticket,
    reply_to_ticket,
    show_ticket,
    solve_ticket,
)

app = typer.Typer(
    help="Support tickets: list, show, reply, assign, solve, reopen.", no_args_is_help=True
)

JSON = typer.Option(False, "--json", help="Print JSON")


@app.command("list")
def list_(
    state: str | None = typer.Option(None, help="open, pending or solved"),
    assignee: str | None = typer.Option(None, help="Only tickets of this agent"),
    search: str | None = typer.Option(None, help="Text in a phone, subject or message"),
    workspace: str | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """Tickets, most recently active first."""
    with command_context() as ctx:
        items = list_tickets(ctx.engine, ctx.workspace(workspace), state=state,
                             assignee=assignee, search=search)  # fmt: skip
    if as_json:
        print_json(items)
        return
    for t in items:
        console.print(f"#{t['id']}  {t['state']:<8} {t['phone']} → {t['number']}  "
                      f"{t['assignee'] or '-'}  {t['subject']}", highlight=False)  # fmt: skip
    if not items:
        console.print("no tickets")


@app.command("show")
def show(ticket: int = typer.Argument(...), workspace: str | None = WORKSPACE,
         as_json: bool = JSON) -> None:  # fmt: skip
    """A ticket's thread: texts both ways with delivery status, and internal notes."""
    with command_context() as ctx:
        result = show_ticket(ctx.engine, ctx.workspace(workspace), ticket)
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]#{result['id']}[/] {result['state']}  {result['phone']} → "
                  f"{result['number']}  assignee: {result['assignee'] or '-'}")  # fmt: skip
    for item in result["thread"]:
        at = f"{item['at']:%Y-%m-%d %H:%M}"
        if item["type"] == "note":
            console.print(f"{at}  note by {item['author']}: {item['body']}", highlight=False)
        elif item["direction"] == "in":
            console.print(f"{at}  ← {item['body']}", highlight=False)
        else:
            console.print(f"{at}  → {item['body']}  [{item['status']}]", highlight=False)


@app.command("reply")
def reply(ticket: int = typer.Argument(...), text: str = typer.Argument(..., help="The answer"),
          workspace: str | None = WORKSPACE) -> None:  # fmt: skip
    """Text the customer (through the outbox); the ticket then waits for them."""
    with command_context() as ctx:
        message_id = reply_to_ticket(ctx.engine, ctx.workspace(workspace), ticket, text,
                                     actor=actor(), now=now())  # fmt: skip
    console.print(f"Reply queued (message #{message_id}); ticket #{ticket} is pending")


@app.command("note")
def note(ticket: int = typer.Argument(...), text: str = typer.Argument(...),
         workspace: str | None = WORKSPACE) -> None:  # fmt: skip
    """Add an internal note (never texted)."""
    with command_context() as ctx:
        add_ticket_note(ctx.engine, ctx.workspace(workspace), ticket, text, actor=actor(),
                        now=now())  # fmt: skip
    console.print(f"Note added to ticket #{ticket}")


@app.command("assign")
def assign(ticket: int = typer.Argument(...),
           agent: str = typer.Argument(
               ..., help="Email of a member who may answer tickets; '-' for nobody"),
           workspace: str | None = WORKSPACE) -> None:  # fmt: skip
    """Give a ticket to an agent."""
    with command_context() as ctx:
        assign_ticket(ctx.engine, ctx.workspace(workspace), ticket,
                      None if agent == "-" else agent, actor=actor(), now=now())  # fmt: skip
    console.print(f"Ticket #{ticket} assigned to {agent}")


@app.command("solve")
def solve(ticket: int = typer.Argument(...), workspace: str | None = WORKSPACE) -> None:
    """Mark a ticket solved (a new text from the customer opens it again)."""
    with command_context() as ctx:
        solve_ticket(ctx.engine, ctx.workspace(workspace), ticket, actor=actor(), now=now())
    console.print(f"Ticket #{ticket} solved")


@app.command("reopen")
def reopen(ticket: int = typer.Argument(...), workspace: str | None = WORKSPACE) -> None:
    """Open a solved ticket again (noted in its thread)."""
    with command_context() as ctx:
        reopen_ticket(ctx.engine, ctx.workspace(workspace), ticket, actor=actor(), now=now())
    console.print(f"Ticket #{ticket} is open again")
