"""What a keyword rule does: its actions, read from JSON and checked when written.

Rules are stored as a JSON list of actions, e.g.
`[{"type": "reply", "text": "Hi {{ first_name | default('there') }}!"}, {"type": "tag",
"name": "pizza"}]`, so an operator's mistake is caught with the item and field named
when the rule is saved, not when the first customer texts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from smscast.core.errors import UserError
from smscast.core.templates import compile_template


class ActionKind(enum.StrEnum):
    REPLY = "reply"  # text: the answer's template
    OPT_IN = "opt_in"  # purpose
    OPT_OUT = "opt_out"  # purpose
    TAG = "tag"  # name: the tag added
    SET_ATTRIBUTE = "set_attribute"  # name, text: the value's template
    DOUBLE_OPT_IN = "double_opt_in"  # text: the prompt ("Reply YES to confirm")
    CONFIRM_OPT_IN = "confirm_opt_in"  # made by the router only, for the YES
    WEBHOOK = "webhook"  # url: gets the inbound as a signed, retried webhook delivery
    TICKET = "ticket"  # create or append to the contact's ticket on this number


class ReplyKind(enum.StrEnum):
    """The `kind` of the outgoing message row an answer becomes."""

    AUTO_REPLY = "auto_reply"
    HELP = "help"
    CONFIRM = "confirm"
    AGENT_REPLY = "agent_reply"


@dataclass(frozen=True, slots=True)
class RuleAction:
    kind: ActionKind
    text: str = ""
    name: str = ""
    purpose: str = ""
    url: str = ""
    reply_kind: ReplyKind = ReplyKind.AUTO_REPLY
    guarded: bool = True  # counts against the loop guard (all but the opt-out confirmation)


_PURPOSES = ("promotional", "informational", "all")
_USER_KINDS = tuple(k for k in ActionKind if k != ActionKind.CONFIRM_OPT_IN)


def parse_actions(raw: Any, *, where: str = "actions", first: int = 0) -> tuple[RuleAction, ...]:
    """Reads and checks a rule's JSON actions; raises UserError naming item and field.

    Items are numbered from `first`: 0 for the API's JSON paths, 1 where people count
    (the CLI's `--actions`, whose help calls the first action "1").
    """
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise _bad(where, "must be a list of actions")
    return tuple(_parse_one(item, f"{where}[{i}]") for i, item in enumerate(raw, start=first))


def _parse_one(item: Any, where: str) -> RuleAction:
    if not isinstance(item, Mapping):
        raise _bad(where, 'must be an object with a "type"')
    kind_text = str(item.get("type", ""))
    if kind_text not in _USER_KINDS:
        allowed = ", ".join(_USER_KINDS)
        raise _bad(f"{where}.type", f'"{kind_text}" is not an action ({allowed})')
    kind = ActionKind(kind_text)
    text = _string(item, "text", where)
    name = _string(item, "name", where)
    purpose = _string(item, "purpose", where)
    url = _string(item, "url", where)
    if kind in (ActionKind.REPLY, ActionKind.DOUBLE_OPT_IN, ActionKind.SET_ATTRIBUTE):
        _check_template(text, f"{where}.text", required=kind != ActionKind.SET_ATTRIBUTE)
    if kind in (ActionKind.TAG, ActionKind.SET_ATTRIBUTE) and not name.strip():
        raise _bad(f"{where}.name", f"a {kind} action needs a name")
    if kind in (ActionKind.OPT_IN, ActionKind.OPT_OUT):
        purpose = purpose or ("promotional" if kind == ActionKind.OPT_IN else "all")
        if purpose not in _PURPOSES:
            raise _bad(f"{where}.purpose", f'"{purpose}" is not a purpose ({", ".join(_PURPOSES)})')
    if kind == ActionKind.DOUBLE_OPT_IN:
        purpose = purpose or "promotional"
    if kind == ActionKind.WEBHOOK:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _bad(f"{where}.url", f'"{url}" is not an http(s) URL')
    return RuleAction(kind, text=text, name=name.strip(), purpose=purpose, url=url)


def _string(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str):
        raise _bad(f"{where}.{key}", "must be text")
    return value


def _check_template(text: str, where: str, *, required: bool) -> None:
    if required and not text.strip():
        raise _bad(where, "the text is empty")
    problem = _template_problem(text)
    if problem is not None:
        raise _bad(where, problem)


@lru_cache(maxsize=1024)
def _template_problem(text: str) -> str | None:
    """What is wrong with a template, None when nothing. Rules are read again for every
    batch of inbound texts; compiling their templates each time cost more than routing."""
    try:
        compile_template(text)
    except UserError as error:
        return error.problem.message
    return None


def _bad(where: str, message: str) -> UserError:
    return UserError.of("invalid_action", f"{where}: {message}", field=where)


def action_to_json(action: RuleAction) -> dict[str, str]:
    """The stored form of an action: only the fields it uses."""
    out = {"type": action.kind.value}
    for key in ("text", "name", "purpose", "url"):
        value = getattr(action, key)
        if value:
            out[key] = value
    return out
