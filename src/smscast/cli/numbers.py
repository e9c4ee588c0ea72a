"""`smscast numbers`: the long numbers and short codes people text."""

from __future__ import annotations

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.counts import counted
from smscast.engine.inbound.numbers import add_number, list_numbers, set_auto_reply
from smscast.engine.inbound.response_report import number_report

app = typer.Typer(
    help="Numbers and short codes: add, list, automatic reply, response report.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    number: str = typer.Argument(..., help="Long number (+48500100200) or short code (4000)"),
    connector: str | None = typer.Option(None, help="Connector (name or id) its texts use"),
    country: str | None = typer.Option(None, help="Country of the number (default: workspace's)"),
    brand: str | None = typer.Option(None, help="Name that starts automatic answers"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Register a number the workspace owns."""
    with command_context() as ctx:
        ref = add_number(ctx.engine, ctx.workspace(workspace), number, connector=connector,
                         country=country, settings={"brand": brand} if brand else {},
                         actor=actor(), now=now())  # fmt: skip
    shown = {"id": ref.id, "number": ref.number, "kind": ref.kind, "country": ref.country,
             "connector_id": ref.connector_id}  # fmt: skip
    if as_json:
        print_json(shown)
    else:
        console.print(f"Added {ref.kind} number [bold]{ref.number}[/] (#{ref.id})")


@app.command("list")
def list_(
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """List the workspace's numbers."""
    with command_context() as ctx:
        items = list_numbers(ctx.engine, ctx.workspace(workspace))
    if as_json:
        print_json(items)
        return
    for item in items:
        console.print(f"#{item['id']}  {item['number']}  {item['kind']}  {item['country']}  "
                      f"connector: {item['connector'] or '-'}", highlight=False)  # fmt: skip
    if not items:
        console.print("no numbers yet; add one with `smscast numbers add NUMBER --connector NAME`")


@app.command("set-reply")
def set_reply(
    number: str = typer.Argument(..., help="The number or short code"),
    template: str | None = typer.Argument(
        None,
        help="Answer to a text that matches no keyword, e.g. 'Thanks, {{ sender }} "
        "answers soon' (contact attributes, phone, text and sender may be used)",
    ),
    off: bool = typer.Option(False, "--off", help="Stop answering texts that match no keyword"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Set (or --off) the number's automatic answer to texts that match no keyword."""
    if off == (template is not None):
        fail("give either a TEMPLATE or --off")
    with command_context() as ctx:
        result = set_auto_reply(ctx.engine, ctx.workspace(workspace), number, template,
                                actor=actor(), now=now())  # fmt: skip
    if off:
        console.print(f"{result['number']} no longer answers texts that match no keyword",
                      highlight=False)  # fmt: skip
    else:
        console.print(f"{result['number']} answers texts that match no keyword with: "
                      f"{template}", highlight=False, markup=False)  # fmt: skip


@app.command("report")
def report(
    number: str = typer.Argument(..., help="The number or short code"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Inbound volume, keyword hits and campaign responses on one number."""
    with command_context() as ctx:
        result = number_report(ctx.engine, ctx.workspace(workspace), number)
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{result['number']}[/] ({result['kind']}): "
                  f"{counted(result['inbound'], 'inbound text')} from "
                  f"{counted(result['unique_senders'], 'sender')}", highlight=False)  # fmt: skip
    median_answer = result["median_first_answer_s"]
    console.print(
        f"  responses {result['responses']}, opt-outs {result['opt_outs']}, response rate to "
        f"its campaigns {_percent(result['response_rate'])}, tickets "
        f"{result['tickets_opened']} (median first answer "
        f"{'-' if median_answer is None else f'{median_answer:.0f}s'})",
        highlight=False,
    )
    for route, count in result["by_route"].items():
        console.print(f"  {route:<16} {count}", highlight=False)
    if result["keywords"]:
        console.print("[bold]keywords[/]")
    for k in result["keywords"]:
        console.print(f"  {k['keyword']:<20} {counted(k['hits'], 'hit')}, "
                      f"{counted(k['unique_senders'], 'sender')}",
                      highlight=False)  # fmt: skip
    if result["campaigns"]:
        console.print("[bold]campaigns[/]")
    for c in result["campaigns"]:
        median = c["median_first_reply_s"]
        console.print(
            f"  #{c['campaign_id']} {c['name']}: sent {c['sent']}, replies {c['replies']}, "
            f"responders {c['unique_responders']} ({_percent(c['response_rate'])}), "
            f"opt-outs {c['opt_outs']} ({_percent(c['opt_out_rate'])}), median first reply "
            f"{'-' if median is None else f'{median:.0f}s'}",
            highlight=False,
        )


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"
