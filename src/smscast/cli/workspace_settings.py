"""`smscast workspace settings`: quiet hours, frequency caps, footer, links, price, and
the public sign-up form (`sign_up_*`, see `engine.web_sign_up`)."""

from __future__ import annotations

import json
from typing import Any

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.campaign_rules import rules_from_settings
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspace_settings import update_workspace

KNOWN = (
    "quiet_hours", "quiet_hours_informational", "frequency_cap_limit", "frequency_cap_days",
    "opt_out_footer_required", "opt_out_keyword", "short_domain", "part_price",
    "sign_up_open", "sign_up_text", "sign_up_slug", "sign_up_number", "sign_up_prompt",
)  # fmt: skip
#: Taken as written: a consent text or a slug is never JSON ("123" stays text).
TEXT_KEYS = frozenset({"sign_up_text", "sign_up_slug", "sign_up_number", "sign_up_prompt"})


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value`; the value is read as JSON when it is JSON (3, true, {...}), else as text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or key not in KNOWN:
        raise UserError.of(
            "unknown_setting",
            f'"{text}" is not KEY=VALUE with KEY one of: {", ".join(KNOWN)}',
            field="set",
        )
    if key in TEXT_KEYS:
        return key, raw
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def register(app: typer.Typer) -> None:
    @app.command("settings")
    def settings(
        assignments: list[str] = typer.Option(
            [],
            "--set",
            help="KEY=VALUE, e.g. frequency_cap_limit=3 or "
            'quiet_hours=\'{"start": "22:00", "end": "07:00"}\' or quiet_hours=off (repeatable); '
            "changing quiet hours re-times the texts they hold",
        ),
        workspace: str | None = WORKSPACE,
        as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    ) -> None:
        """Show the workspace's campaign rules, or change them with --set."""
        with command_context() as ctx:
            ref = ctx.workspace(workspace)
            if assignments:
                changes = dict(parse_assignment(item) for item in assignments)
                rules_from_settings({**ref.settings, **changes})
                caller = Caller("cli", 0, ref, "owner", actor().removeprefix("cli:"))
                ref_settings = update_workspace(
                    ctx.engine, ref, {"settings": changes}, caller=caller, now=now()
                )["settings"]
            else:
                ref_settings = ref.settings
        try:
            rules = rules_from_settings(ref_settings, short_domain=ctx.settings.served_url())
        except UserError as error:
            fail(error.problem)
        shown = {
            "quiet_hours": {
                "start": rules.quiet.start.strftime("%H:%M"),
                "end": rules.quiet.end.strftime("%H:%M"),
            }
            if rules.quiet.enabled
            else "off",
            "quiet_hours_informational": rules.quiet_informational,
            "frequency_cap_limit": rules.cap.limit,
            "frequency_cap_days": rules.cap.window.days,
            "opt_out_footer_required": rules.footer_required,
            "opt_out_keyword": rules.opt_out_keyword,
            "short_domain": rules.short_domain,
            "part_price": rules.part_price,
            **{key: ref_settings.get(key) for key in KNOWN if key.startswith("sign_up_")},
            "sign_up_open": ref_settings.get("sign_up_open", False),
        }
        if as_json:
            print_json(shown)
            return
        for key, value in shown.items():
            console.print(f"{key:<26} {json.dumps(value)}", highlight=False)
