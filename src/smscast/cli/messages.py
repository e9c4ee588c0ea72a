"""`smscast messages`: find texts by phone, status or campaign, and read one's story."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from smscast.cli.context import command_context, now
from smscast.cli.output import WORKSPACE, console, counted, print_json
from smscast.engine.delivery.messages_view import list_messages, show_message

app = typer.Typer(help="Messages: list with filters, show one.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON")


@app.command("list")
def list_(
    phone: str | None = typer.Option(None, "--phone", help="Any common format: 601 234 567"),
    status: str | None = typer.Option(
        None,
        "--status",
        help="queued, sending, sent, delivered, undelivered, failed, expired, "
        "unknown, cancelled, received",
    ),
    campaign: int | None = typer.Option(None, "--campaign", help="A campaign's id"),
    after: int = typer.Option(0, "--after", help="Only messages with a higher id (next page)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many"),
    workspace: str | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """Messages both ways that match every filter given, oldest first."""
    with command_context() as ctx:
        items = list_messages(ctx.engine, ctx.workspace(workspace), after=after, limit=limit,
                              phone=phone, status=status, campaign_id=campaign)  # fmt: skip
    if as_json:
        print_json(items)
        return
    for m in items:
        arrow = "←" if m["direction"] == "in" else "→"
        why = f"  {m['error_code']}" if m["error_code"] else ""
        console.print(f"#{m['id']}  {_at(m['created_at'])}  {arrow} {m['phone']}  "
                      f"{m['kind']:<11} {m['status']:<11}{why}  {_short(m['body'])}",
                      highlight=False)  # fmt: skip
    if not items:
        console.print("no messages")
    elif len(items) == limit:
        console.print(f"{counted(len(items), 'message')}; more with --after {items[-1]['id']}")


@app.command("show")
def show(
    message: int = typer.Argument(..., help="The message's id"),
    workspace: str | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """A message's story: status history, parts, carrier exchanges, why it waits or failed."""
    with command_context() as ctx:
        m = show_message(ctx.engine, ctx.workspace(workspace), message, now())
    if as_json:
        print_json(m)
        return
    arrow = "←" if m["direction"] == "in" else "→"
    campaign = f"  campaign #{m['campaign_id']}" if m["campaign_id"] else ""
    console.print(f"[bold]#{m['id']}[/] {arrow} {m['phone']}  {m['kind']} ({m['purpose']})  "
                  f"{m['status']}{campaign}", highlight=False)  # fmt: skip
    console.print(f"  {m['body']}", highlight=False, soft_wrap=True)
    national = f", national {m['national']}" if m["national"] else ""
    console.print(f"  {m['encoding']}{national}, {counted(m['parts'], 'part')}, "
                  f"cost {m['cost']}", highlight=False)  # fmt: skip
    if m["smart_changes"]:
        changed = ", ".join(f"{a}→{b}" for a, b in m["smart_changes"].items())
        console.print(f"  smart encoding replaced: {changed}", highlight=False)
    if m["waiting"]:
        console.print(f"  waiting: {m['waiting']}", highlight=False)
    if m["failure"]:
        console.print(f"  failure: {m['failure']}", highlight=False)
    _section("history", [f"{_at(s['at'])}  {s['status']:<11} {s['detail']}" for s in m["history"]])
    _section("parts", [f"part {p['part'] + 1}: carrier id {p['carrier_id']}  {p['state'] or '-'}"
                       for p in m["carrier_parts"]])  # fmt: skip
    _section("carrier exchanges", [_exchange(e) for e in m["carrier_log"]])
    if m["route"]:
        r = m["route"]
        keyword = f" {r['keyword']}" if r["keyword"] else ""
        held = f", {r['suppressed']} held back by the loop guard" if r["suppressed"] else ""
        console.print(f"  routed as {r['route']}{keyword}: {counted(r['replies'], 'answer')} "
                      f"queued{held}", highlight=False)  # fmt: skip
        if r["detail"]:
            console.print(f"  {r['detail']}", highlight=False)
    _section("answers", [f"#{a['id']} {a['kind']} {a['status']}"
                         f"{'  ' + (a['error'] or a['error_code']) if a['error_code'] else ''}"
                         for a in m["answers"]])  # fmt: skip


def _section(title: str, lines: list[str]) -> None:
    if not lines:
        return
    console.print(f"  {title}:")
    for line in lines:
        console.print(f"    {line}", highlight=False, soft_wrap=True)


def _exchange(entry: dict[str, Any]) -> str:
    said = " → ".join(part for part in (entry["request"], entry["response"]) if part)
    error = f"  ({entry['error']})" if entry["error"] else ""
    return f"{_at(entry['at'])}  {entry['kind']}  {said}{error}"


def _at(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}" if at is not None else "-"


def _short(body: str, width: int = 40) -> str:
    line = body.replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"
