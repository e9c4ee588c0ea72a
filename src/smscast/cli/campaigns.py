"""`smscast campaigns`: create, preview, launch, pause, resume, cancel, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, print_json
from smscast.core.counts import counted
from smscast.core.errors import UserError
from smscast.core.schedule import parse_clock, parse_duration, parse_moment
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import ABTest, CampaignDraft, change_status, create_campaign
from smscast.engine.campaigns.lifecycle import list_campaigns as list_rows
from smscast.engine.campaigns.overview import campaign_report_with_channels
from smscast.engine.campaigns.preview import preview_campaign

app = typer.Typer(help="Campaigns: create, preview, launch, pause, resume, cancel, report.",
                  no_args_is_help=True)  # fmt: skip

AS_JSON = typer.Option(False, "--json", help="Print JSON")


def _variants(texts: list[str]) -> tuple[tuple[str, str], ...]:
    found = []
    for text in texts:
        name, sep, body = text.partition("=")
        if not sep or not name.strip() or not body:
            raise UserError.of("bad_variant", f'--variant "{text}": write it as NAME=TEXT',
                               field="variant")  # fmt: skip
        found.append((name.strip(), body))
    return tuple(found)


def _split(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError.of("bad_split", f'--split "{text}": percentages like 50,50',
                           field="split") from None  # fmt: skip


def _chain(options: dict[str, Any]) -> tuple[str, ...]:
    """`--channels a,b` or `--channel a` (sms when neither)."""
    if options["channels"]:
        if options["channel"] and options["channel"] not in options["channels"].split(","):
            raise UserError.of("bad_channels", "give --channel for one channel or --channels "
                               "for a chain, not both", field="channel")  # fmt: skip
        return tuple(part.strip() for part in options["channels"].split(","))
    return (options["channel"] or "sms",)


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError.of("bad_file", f"{flag} {path}: {error}", field=flag.lstrip("-")) from None


def _content(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each channel's content: the `--content-file` JSON, then the flags over it.

    The file is {"email": {"subject": …, "html": …, "body": …}, "whatsapp": {"template":
    …, "language": …, "params": […], "body": …}, "push": {"title": …, "url": …, "body":
    …}, "voice": {"body": …}}: handy for a campaign kept in version control.
    """
    content: dict[str, dict[str, Any]] = {}
    if options["content_file"] is not None:
        try:
            loaded = json.loads(_read_text(options["content_file"], "--content-file"))
        except json.JSONDecodeError as error:
            raise UserError.of("bad_file", f"--content-file: not JSON ({error})",
                               field="content-file") from None  # fmt: skip
        if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
            raise UserError.of("bad_file", '--content-file holds {"email": {"subject": …}, …}',
                               field="content-file")  # fmt: skip
        content = {str(channel): dict(fields) for channel, fields in loaded.items()}
    html = _read_text(options["html_file"], "--html-file") if options["html_file"] else None
    given = {
        ("email", "subject"): options["subject"], ("email", "html"): html,
        ("email", "body"): options["body_email"],
        ("whatsapp", "template"): options["template"],
        ("whatsapp", "language"): options["template_language"],
        ("whatsapp", "params"): list(options["template_param"]) or None,
        ("whatsapp", "body"): options["body_whatsapp"],
        ("push", "title"): options["title"], ("push", "url"): options["url"],
        ("push", "body"): options["body_push"], ("voice", "body"): options["body_voice"],
    }  # fmt: skip
    for (channel, name), value in given.items():
        if value is not None:
            content.setdefault(channel, {})[name] = value
    return content


def _draft(workspace: WorkspaceRef, options: dict[str, Any]) -> CampaignDraft:
    if options["at"] and options["local_time"]:
        raise UserError.of("bad_schedule", "give --at or --local-time, not both", field="at")
    if options["segment"] is None and not options["segment_name"]:
        raise UserError.of("no_segment", "give --segment 'EXPR' or --segment-name NAME",
                           field="segment")  # fmt: skip
    ab = None
    if options["ab_sample"]:
        ab = ABTest(
            options["ab_sample"],
            options["ab_metric"],
            parse_duration(options["ab_decide_after"], field="ab-decide-after"),
        )
    return CampaignDraft(
        name=options["name"], body=options["body"], segment=options["segment"] or "",
        segment_name=options["segment_name"], variants=_variants(options["variant"]),
        split=_split(options["split"]), purpose=options["purpose"],
        from_number=options["from_number"],
        at=parse_moment(options["at"], workspace.timezone) if options["at"] else None,
        local_time=parse_clock(options["local_time"], field="local-time")
        if options["local_time"] else None,
        spread=parse_duration(options["spread"], field="spread") if options["spread"]
        else parse_duration("0s"),
        cron=options["cron"], coupon_pool=options["coupon_pool"],
        smart_encoding=options["smart_encoding"], expects_reply=options["expects_reply"],
        validity=parse_duration(options["validity"], field="validity")
        if options["validity"] else None,
        ab_test=ab, channels=_chain(options),
        fallback_after=parse_duration(options["fallback_after"], field="fallback-after")
        if options["fallback_after"] else None,
        content=_content(options),
    )  # fmt: skip


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Campaign name"),
    body: str = typer.Option(..., "--body", help="Message template (variant A)"),
    segment: str | None = typer.Option(None, "--segment", help="Segment expression"),
    segment_name: str | None = typer.Option(None, "--segment-name", help="A saved segment"),
    variant: list[str] = typer.Option([], "--variant", help="Another variant: NAME=TEMPLATE"),
    split: str | None = typer.Option(None, "--split", help="Percent per variant: 50,50"),
    purpose: str = typer.Option("promotional", "--purpose", help="promotional|informational"),
    from_number: str | None = typer.Option(None, "--from", help="Sending number"),
    at: str | None = typer.Option(None, "--at", help="Start at (ISO; workspace time if no zone)"),
    local_time: str | None = typer.Option(
        None, "--local-time", help="HH:MM in each recipient's zone"
    ),
    spread: str | None = typer.Option(None, "--spread", help="Spread sending over (2h, 90m)"),
    cron: str | None = typer.Option(None, "--cron", help="Recurring: '0 10 * * MON'"),
    coupon_pool: str | None = typer.Option(None, "--coupon-pool", help="Pool for {{ coupon }}"),
    smart_encoding: bool = typer.Option(
        False, "--smart-encoding", help="Replace look-alikes to stay GSM-7"
    ),
    expects_reply: bool = typer.Option(
        False, "--expects-reply", help="Replies belong to this campaign"
    ),
    validity: str | None = typer.Option(None, "--validity", help="Give up after (48h)"),
    ab_sample: int = typer.Option(0, "--ab-sample", help="A/B test phase: percent of segment"),
    ab_metric: str = typer.Option("click", "--ab-metric", help="delivery|click|reply"),
    ab_decide_after: str = typer.Option("2h", "--ab-decide-after", help="Pick the winner after"),
    channel: str | None = typer.Option(
        None, "--channel", help="sms|email|whatsapp|push|voice (default sms)"
    ),
    channels: str | None = typer.Option(
        None, "--channels", help="A chain tried in order per person: whatsapp,sms"
    ),
    fallback_after: str | None = typer.Option(
        None, "--fallback-after", help="Next channel when not delivered within (10m; 1h)"
    ),
    subject: str | None = typer.Option(None, "--subject", help="Email: the subject (template)"),
    html_file: Path | None = typer.Option(
        None, "--html-file", help="Email: an HTML template, rendered like the body"
    ),
    body_email: str | None = typer.Option(None, "--body-email", help="Email: its own text"),
    template: str | None = typer.Option(
        None, "--template", help="WhatsApp: the approved template's name"
    ),
    template_language: str | None = typer.Option(
        None,
        "--template-language",
        help="WhatsApp: the template's language (default: the contact's)",
    ),
    template_param: list[str] = typer.Option(
        [], "--template-param", help="WhatsApp: the next template parameter (a template)"
    ),
    body_whatsapp: str | None = typer.Option(
        None, "--body-whatsapp", help="WhatsApp: the text kept with the message"
    ),
    title: str | None = typer.Option(None, "--title", help="Push: the notification's title"),
    url: str | None = typer.Option(None, "--url", help="Push: the page a click opens"),
    body_push: str | None = typer.Option(None, "--body-push", help="Push: its own text"),
    body_voice: str | None = typer.Option(None, "--body-voice", help="Voice: the words spoken"),
    content_file: Path | None = typer.Option(
        None, "--content-file", help="JSON of each channel's content; flags override it"
    ),
    workspace: str | None = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Create a draft campaign; prints its id.

    On another channel than SMS, or on a chain (`--channels whatsapp,sms
    --fallback-after 10m`): each person gets the first channel they have an address and
    consent on, and the next one only if it is not delivered in time. Every text (the
    body, `--subject`, `--html-file`, `--template-param`, `--title`, `--url`, the
    `--body-<channel>` texts) is personalised the same way, with the same coupon and
    tracked link on every channel.
    """
    options = dict(locals())
    with command_context() as ctx:
        ref = ctx.workspace(workspace)
        campaign_id = create_campaign(ctx.engine, ref, _draft(ref, options), actor=actor(),
                                      now=now())  # fmt: skip
    if as_json:
        print_json({"id": campaign_id})
    else:
        typer.echo(campaign_id)


@app.command("launch")
def launch(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
           as_json: bool = AS_JSON) -> None:  # fmt: skip
    """Launch now (or schedule, when it has a time or a cron); again to finish a stopped launch."""
    with command_context() as ctx:
        result = launch_campaign(ctx.engine, ctx.settings, ctx.workspace(workspace), campaign_id,
                                 actor=actor(), now=now())  # fmt: skip
    if as_json:
        print_json(result)
        return
    if result["status"] == "scheduled":
        console.print(f"campaign {campaign_id} scheduled for {result['next_run_at']}")
        return
    excluded = ", ".join(f"{k} {v}" for k, v in result["excluded"].items()) or "none"
    console.print(f"campaign {campaign_id} running: {result['queued']} queued; excluded: "
                  f"{excluded}", highlight=False)  # fmt: skip
    for problem in result["problems"]:
        console.print(f"  {problem}", highlight=False)
    if result.get("taken_over"):
        console.print("  this launch stood still for a minute and a worker carried it on; the "
                      "count above is what this command queued", highlight=False)  # fmt: skip


def _change(campaign_id: int, workspace: str | None, action: str, as_json: bool) -> None:
    with command_context() as ctx:
        result = change_status(ctx.engine, ctx.workspace(workspace), campaign_id, action,
                               actor=actor(), now=now())  # fmt: skip
    if as_json:
        print_json(result)
    else:
        console.print(f"campaign {campaign_id} {result['status']}")


@app.command("pause")
def pause(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
          as_json: bool = AS_JSON) -> None:  # fmt: skip
    """Stop sending; queued messages wait."""
    _change(campaign_id, workspace, "pause", as_json)


@app.command("resume")
def resume(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
           as_json: bool = AS_JSON) -> None:  # fmt: skip
    """Carry on sending a paused campaign."""
    _change(campaign_id, workspace, "resume", as_json)


@app.command("cancel")
def cancel(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
           as_json: bool = AS_JSON) -> None:  # fmt: skip
    """Stop for good; queued messages become cancelled."""
    _change(campaign_id, workspace, "cancel", as_json)


@app.command("list")
def list_(workspace: str | None = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Campaigns with their status."""
    with command_context() as ctx:
        rows = list_rows(ctx.engine, ctx.workspace(workspace))
    if as_json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{row['id']:>5}  {row['status']:<10} {row['name']}  ({row['queued']} "
                      "queued)", highlight=False)  # fmt: skip


def _print_reports_awaited(result: dict[str, Any]) -> None:
    """Sending everything is not the outcome: say so while delivery reports are due."""
    if result["sending_finished_at"] is not None:
        console.print(f"  finished sending at {result['sending_finished_at']}", highlight=False)
    awaited = result["reports_awaited"]
    if awaited:
        reports = "1 delivery report" if awaited == 1 else f"{awaited:,} delivery reports"
        console.print(f"  {reports} awaited; it completes when every text is final",
                      highlight=False)  # fmt: skip


@app.command("report")
def report(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
           as_json: bool = AS_JSON) -> None:  # fmt: skip
    """What a campaign achieved: counters, exclusions by reason, cost, each channel's figures."""
    with command_context() as ctx:
        result = campaign_report_with_channels(ctx.engine, ctx.workspace(workspace).id,
                                               campaign_id, now=now())  # fmt: skip
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{result['name']}[/] ({result['status']}, {result['purpose']})")
    _print_reports_awaited(result)
    for key in ("targeted", "queued", "sent", "delivered", "undelivered", "failed", "expired",
                "unknown", "cancelled", "parts", "cost", "clicks", "unique_clicks", "bot_clicks",
                "replies", "opt_outs", "redemptions"):  # fmt: skip
        console.print(f"  {key:<14} {result[key]}", highlight=False)
    waiting = result["waiting_for_quiet_hours"]
    if waiting["count"]:
        texts = "1 text waits" if waiting["count"] == 1 else f"{waiting['count']:,} texts wait"
        console.print(f"  {texts} for quiet hours to end, the last until {waiting['until']}",
                      highlight=False)  # fmt: skip
    console.print(f"  excluded       {result['excluded_total']}", highlight=False)
    for reason, count in result["excluded"].items():
        if count:
            console.print(f"    {reason:<16} {count}", highlight=False)
    smart = result["smart_encoding"]
    if smart["changed"]:  # what --smart-encoding changed in the texts, never silently
        texts = "1 text" if smart["changed"] == 1 else f"{smart['changed']:,} texts"
        shown = ", ".join(f"{char} → {stand_in}" for char, stand_in in smart["characters"].items())
        console.print(f"  smart encoding changed {texts}: {shown}", highlight=False)
    console.print("  rates", highlight=False)
    for name, (label, numerator, denominator) in RATE_WORDS.items():
        line = _rate_line(result["rates"][name], numerator, denominator)
        console.print(f"    {label:<16} {line}", highlight=False)
    _print_channels(result["channels"])


def _print_channels(channels: list[dict[str, Any]]) -> None:
    """Each channel of the chain in order: what went out on it, what arrived, what failed,
    how many people it handed over to the next channel, and what it cost."""
    console.print("  channels       messages     sent  delivered   failed  fell back     cost",
                  highlight=False)  # fmt: skip
    for row in channels:
        console.print(
            f"    {row['channel']:<12} {row['messages']:>8,} {row['sent']:>8,} "
            f"{row['delivered']:>10,} {row['failed']:>8,} {row['fell_back']:>10,} "
            f"{row['cost']:>8.2f}", highlight=False,
        )  # fmt: skip


RATE_WORDS = {
    "delivery": ("delivery", "delivered", "sent"),
    "click_through": ("click-through", "clicked", "delivered"),
    "reply": ("reply", "replied", "delivered"),
    "opt_out": ("opt-out", "opted out", "delivered"),
    "redemption": ("redemption", "redeemed", "delivered"),
}
"""How the human report names each rate and its two counts."""


def _rate_line(rate: dict[str, Any], numerator: str, denominator: str) -> str:
    """`95.0 % (95 delivered of 100 sent)`; a dash while nothing was counted below it."""
    value = "-" if rate["value"] is None else f"{rate['value'] * 100:.1f} %"
    return f"{value:<8} ({rate['numerator']} {numerator} of {rate['denominator']} {denominator})"


@app.command("preview")
def preview(campaign_id: int = typer.Argument(...), workspace: str | None = WORKSPACE,
            as_json: bool = AS_JSON) -> None:  # fmt: skip
    """Before launch: recipients, exclusions by reason, parts by encoding, total parts, cost."""
    with command_context() as ctx:
        result = preview_campaign(ctx.engine, ctx.settings, ctx.workspace(workspace),
                                  campaign_id, now())  # fmt: skip
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{result['name']}[/] ({result['status']}, {result['purpose']})")
    console.print(f"  {counted(result['targeted'], 'contact', grouped=True)} in the segment, "
                  f"{counted(result['recipients'], 'recipient', grouped=True)}",
                  highlight=False)  # fmt: skip
    console.print(f"  excluded       {result['excluded_total']:,}", highlight=False)
    for reason, count in result["excluded"].items():
        if count:
            console.print(f"    {reason:<16} {count:,}", highlight=False)
    if set(result["channels"]) != {"sms"}:
        shown = ", ".join(f"{channel} {count:,}" for channel, count in result["channels"].items())
        console.print(f"  first channel  {shown or 'none'}", highlight=False)
    for encoding, found in result["encodings"].items():
        console.print(f"  {encoding:<14} {counted(found['messages'], 'message', grouped=True)}, "
                      f"{counted(found['parts'], 'part', grouped=True)}",
                      highlight=False)  # fmt: skip
    console.print(f"  parts          {result['parts']:,} (at most {result['most_parts']} per "
                  "message)", highlight=False)  # fmt: skip
    console.print(f"  cost           {result['cost']:.2f} ({result['part_price']} per part)",
                  highlight=False)  # fmt: skip
    if result["coupons_missing"]:
        console.print(f"  the coupon pool is short of "
                      f"{counted(result['coupons_missing'], 'code', grouped=True)}: "
                      "a launch would be refused", highlight=False)  # fmt: skip
    for problem in result["problems"]:
        console.print(f"  {problem}", highlight=False)
