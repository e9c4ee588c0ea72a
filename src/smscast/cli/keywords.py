"""`smscast keywords`: keyword rules of a number, and the compliance word lists."""

from __future__ import annotations

import json

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.rule_actions import parse_actions
from smscast.engine.inbound.keyword_rules import (
    add_keyword_rule,
    edit_compliance_word,
    link_keyword_campaign,
    list_compliance_words,
    list_keyword_rules,
    remove_keyword_rule,
)
from smscast.engine.webhooks.targets import address_policy

app = typer.Typer(help="Keyword rules and compliance keywords.", no_args_is_help=True)

COMPLIANCE = typer.Option(
    None, "--compliance", help="Edit a compliance list instead: opt_out, opt_in or help"
)


@app.command("add")
def add(
    keyword: str = typer.Argument(..., help="The keyword; '*' for the number's default rule"),
    number: str | None = typer.Option(None, help="The number or short code of the rule"),
    reply: str | None = typer.Option(None, help="Answer template, e.g. 'Hi {{ first_name }}'"),
    actions: str | None = typer.Option(
        None,
        help="More actions, as a JSON list run in order after --reply (action 1 is the first "
        'of the list), e.g. \'[{"type": "tag", "name": "pizza"}, {"type": "opt_in"}]\'. '
        "Types: reply (text), tag (name), set_attribute (name, text), opt_in / opt_out "
        "(purpose: promotional, informational or all), double_opt_in (text: the prompt), "
        "webhook (url), ticket. README: Keyword rules.",
    ),
    alias: list[str] = typer.Option([], help="Other words that mean the same (repeatable)"),
    exact: bool = typer.Option(False, help="Match only a text that is exactly the keyword"),
    campaign: int | None = typer.Option(None, help="Campaign id the keyword belongs to"),
    compliance: str | None = COMPLIANCE,
    language: str = typer.Option("en", help="Language of the compliance word"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Add a keyword rule to a number, or (--compliance) a word to a compliance list."""
    with command_context() as ctx:
        ws = ctx.workspace(workspace)
        if compliance is not None:
            edit_compliance_word(ctx.engine, ws, compliance, keyword, language=language,
                                 removed=False, actor=actor(), now=now())  # fmt: skip
            console.print(f"{keyword} now means {compliance} ({language})")
            return
        if number is None:
            fail("--number is required for a keyword rule")
        items = _actions(reply, actions)
        rule = add_keyword_rule(ctx.engine, ws, number, None if keyword == "*" else keyword,
                                items, aliases=alias, match="exact" if exact else "first_word",
                                campaign_id=campaign, actor=actor(), now=now(),
                                policy=address_policy(ctx.settings))  # fmt: skip
    if as_json:
        print_json(rule)
    else:
        console.print(f"Added rule #{rule['id']} on {rule['number']}: "
                      f"{rule['keyword'] or '(default)'}", highlight=False)  # fmt: skip


def _actions(reply: str | None, actions: str | None) -> list[object]:
    items: list[object] = []
    if reply:
        items.append({"type": "reply", "text": reply})
    if actions:
        try:
            parsed = json.loads(actions)
        except json.JSONDecodeError as error:
            fail(f"--actions is not JSON: {error}")
        listed = parsed if isinstance(parsed, list) else [parsed]
        # Checked here, numbered from 1 as the help counts, before --reply goes in front
        # of them and shifts every position the engine would name.
        parse_actions(listed, where="--actions", first=1)
        items.extend(listed)
    if not items:
        fail("a rule needs --reply or --actions")
    return items


@app.command("list")
def list_(
    number: str | None = typer.Option(None, help="Only the rules of this number"),
    compliance: bool = typer.Option(False, "--compliance", help="List the compliance words"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """List keyword rules (or, with --compliance, the compliance words in force)."""
    with command_context() as ctx:
        ws = ctx.workspace(workspace)
        result: object = (
            list_compliance_words(ctx.engine, ws) if compliance
            else list_keyword_rules(ctx.engine, ws, number)
        )  # fmt: skip
    if as_json:
        print_json(result)
    elif isinstance(result, dict):
        for kind, words in result.items():
            console.print(f"{kind}: {', '.join(words)}", highlight=False)
    else:
        for rule in result:  # type: ignore[attr-defined]
            actions = ", ".join(a["type"] for a in rule["actions"])
            console.print(f"#{rule['id']}  {rule['number']}  "
                          f"{rule['keyword'] or '(default)'}  {rule['match']}  {actions}",
                          highlight=False)  # fmt: skip


@app.command("remove")
def remove(
    rule: str = typer.Argument(..., help="Rule id (or, with --compliance, the word)"),
    compliance: str | None = COMPLIANCE,
    language: str = typer.Option("en", help="Language of the compliance word"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Remove a keyword rule, or (--compliance) take a word off a compliance list."""
    with command_context() as ctx:
        ws = ctx.workspace(workspace)
        if compliance is not None:
            edit_compliance_word(ctx.engine, ws, compliance, rule, language=language,
                                 removed=True, actor=actor(), now=now())  # fmt: skip
            console.print(f"{rule} no longer means {compliance} ({language})")
            return
        if not rule.isdigit():
            fail(f'"{rule}" is not a rule id (see `smscast keywords list`)')
        remove_keyword_rule(ctx.engine, ws, int(rule), actor=actor(), now=now())
    console.print(f"Removed rule #{rule}")


@app.command("link")
def link(
    rule: int = typer.Argument(..., help="Rule id (see `smscast keywords list`)"),
    campaign: str = typer.Argument(..., help="Campaign id the keyword answers; '-' unlinks"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Link a keyword rule to the campaign it answers: its texts count as that campaign's
    responses."""
    if campaign != "-" and not campaign.isdigit():
        fail(f'"{campaign}" is not a campaign id (or - to unlink)')
    campaign_id = None if campaign == "-" else int(campaign)
    with command_context() as ctx:
        result = link_keyword_campaign(ctx.engine, ctx.workspace(workspace), rule, campaign_id,
                                       actor=actor(), now=now())  # fmt: skip
    if as_json:
        print_json(result)
    elif campaign_id is None:
        console.print(f"Rule #{rule} is linked to no campaign")
    else:
        console.print(f"Rule #{rule} now answers campaign #{campaign_id}")
