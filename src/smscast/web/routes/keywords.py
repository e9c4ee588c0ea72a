"""Keyword rules per number, the match preview, and the compliance words and answers.

`/keywords?number=<id>` lists the number's rules (on, off, edit, delete), the match
preview and the compliance lists. The preview is `inbound.preview_route`: the
router's own decision on the number's stored routing, never a copy of it here; it
follows typing (htmx asks `/keywords/preview`, debounced) and works without JavaScript
through its "Preview" button. The rule editor turns its fields into the rule's JSON
actions (`core.rule_actions`) in a fixed order, and keeps actions it has no field for.
Everyone in the workspace reads; writing takes `numbers.write`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.core.rule_actions import action_to_json
from smscast.engine.campaigns.lifecycle import list_campaigns
from smscast.engine.inbound.keyword_rules import (
    COMPLIANCE_REPLIES,
    add_keyword_rule,
    compliance_replies,
    compliance_words_by_language,
    edit_compliance_word,
    keyword_rule_by_id,
    list_keyword_rules,
    remove_keyword_rule,
    set_compliance_reply,
    set_keyword_rule_enabled,
    update_keyword_rule,
)
from smscast.engine.inbound.numbers import list_numbers
from smscast.engine.inbound.route_preview import RoutePreview, preview_route
from smscast.engine.webhooks.targets import address_policy
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
NAV = [NavItem(55, N_("Keywords"), "/keywords", Permission.READ)]

writer_page = page_for(Permission.NUMBERS_WRITE)
MAX_SAMPLE = 1600  # as long as a text the router would see (10 UCS-2 parts and more)
CONSENT_KINDS = ("opt_in", "double_opt_in", "opt_out")
PURPOSES = ("promotional", "informational", "all")
DEFAULT_PROMPT = N_("Reply YES to confirm your subscription.")
# An engine refusal, by its code, in the reader's words (the form field is the engine's).
PROBLEMS = {
    "rule_exists": N_("This number already has a rule for this keyword."),
    "compliance_keyword": N_(
        "This word is a compliance word (STOP, START or HELP) and always means that. "
        "Take it off the compliance list below first."
    ),
    "empty_keyword": N_("A keyword needs letters or digits."),
    "invalid_match": N_("Choose how the keyword matches."),
    "unknown_campaign": N_("There is no such campaign in this workspace."),
    "unsafe_url": N_("Webhooks go only to public addresses that answer: check the address."),
    "invalid_kind": N_("Choose a list."),
    "invalid_reply": N_("Choose an answer."),
    "empty_template": N_("Write the answer, or go back to the built-in one."),
}
SEPARATORS = re.compile(r"[,;\n]+")
# What the router decided (core.router.Route), and why (route_preview.Why), in words.
ROUTE_NAMES = {
    "empty": N_("Nothing to do"),
    "flood": N_("Set aside"),
    "opt_out": N_("Opt-out (compliance word)"),
    "opt_in": N_("Opt-in (compliance word)"),
    "help": N_("Help (compliance word)"),
    "confirm_opt_in": N_("Double opt-in confirmed"),
    "keyword": N_("Keyword rule"),
    "default": N_("The number's reply"),
    "campaign_reply": N_("Reply to a campaign"),
    "ticket": N_("Ticket for an agent"),
}
REASONS = {
    "empty": N_("The text is empty."),
    "flood": N_("This sender sent too many texts in the last minute: the text is set aside."),
    "compliance": N_("“%(word)s” is a compliance word: it comes before every keyword rule."),
    "confirm": N_("The sender was asked to confirm a subscription and answered yes."),
    "keyword_exact": N_("The whole text is the keyword “%(word)s”."),
    "keyword_first": N_("The text begins with the keyword “%(word)s”."),
    "alias_exact": N_("The whole text is “%(word)s”, an alias of the keyword “%(keyword)s”."),
    "alias_first": N_("The text begins with “%(word)s”, an alias of the keyword “%(keyword)s”."),
    "default": N_("No keyword matches: the number's reply answers."),
    "campaign": N_(
        "No rule matches, and the sender is answering a campaign that asked for replies."
    ),
    "ticket": N_("Nothing else matches: the text goes to an agent as a ticket."),
}
# The router's order (core.router), each step with the routes it ends in.
STEPS = (
    (N_("Compliance words (STOP, START, HELP)"), ("opt_out", "opt_in", "help")),
    (N_("A YES to a double opt-in"), ("confirm_opt_in",)),
    (N_("Keyword rules"), ("keyword",)),
    (N_("The number's reply"), ("default",)),
    (N_("Reply to a campaign"), ("campaign_reply",)),
    (N_("Ticket for an agent"), ("ticket",)),
)
LANGUAGE_NAMES = {"en": N_("English"), "pl": N_("Polish")}
LIST_NAMES = {"opt_out": N_("Opt-out"), "opt_in": N_("Opt-in"), "help": N_("Help")}
ANSWER_NAMES = {
    "opt_out": N_("Answer to an opt-out (STOP)"),
    "opt_in": N_("Answer to an opt-in (START)"),
    "help": N_("Answer to HELP"),
    "confirmed": N_("Answer to a confirmed double opt-in (YES)"),
}

WORDS = {
    "route_names": ROUTE_NAMES, "reasons": REASONS, "steps": STEPS,
    "language_names": LANGUAGE_NAMES, "list_names": LIST_NAMES, "answer_names": ANSWER_NAMES,
}  # fmt: skip


@dataclass
class RuleForm:
    """The editor's fields; `extra` are the rule's actions the fields cannot show (a
    second reply, say), kept as they are when the rule is saved."""

    keyword: str = ""
    aliases: str = ""
    match: str = "first_word"
    reply: str = ""
    tags: str = ""
    consent: str = ""
    purpose: str = "promotional"
    confirm_prompt: str = ""
    attribute: str = ""
    webhook: str = ""
    ticket: bool = False
    campaign_id: str = ""
    enabled: bool = True
    extra: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of_rule(cls, rule: dict[str, Any]) -> RuleForm:
        form = cls(
            keyword=rule["keyword"] or "",
            aliases=", ".join(rule["aliases"] or []),
            match=rule["match"],
            campaign_id=str(rule["campaign_id"] or ""),
            enabled=bool(rule["enabled"]),
        )
        tags: list[str] = []
        for action in rule["actions"] or []:
            if not form._take(action, tags):
                form.extra.append(action)
        form.tags = ", ".join(tags)
        return form

    def _take(self, action: dict[str, Any], tags: list[str]) -> bool:
        """Puts an action in its field; False when the field is taken or there is none."""
        kind = action.get("type")
        if kind == "tag":
            tags.append(str(action.get("name", "")))
        elif kind == "reply" and not self.reply:
            self.reply = str(action.get("text", ""))
        elif kind in CONSENT_KINDS and not self.consent:
            self.consent = str(kind)
            self.purpose = str(action.get("purpose") or self.purpose)
            self.confirm_prompt = str(action.get("text", ""))
        elif kind == "set_attribute" and not self.attribute and not action.get("text"):
            self.attribute = str(action.get("name", ""))
        elif kind == "webhook" and not self.webhook:
            self.webhook = str(action.get("url", ""))
        elif kind == "ticket" and not self.ticket:
            self.ticket = True
        else:
            return False
        return True

    def actions(self) -> tuple[list[dict[str, Any]], list[str]]:
        """(the rule's actions, the editor field of each) in the order they are done:
        consent first, then tags and the saved attribute, the reply, the double opt-in
        prompt, the webhook, the ticket, then the kept ones."""
        out: list[tuple[dict[str, Any], str]] = []
        if self.consent in ("opt_in", "opt_out"):
            out.append(({"type": self.consent, "purpose": self.purpose}, "consent"))
        for tag in split_words(self.tags):
            out.append(({"type": "tag", "name": tag}, "tags"))
        if self.attribute.strip():
            out.append(({"type": "set_attribute", "name": self.attribute.strip()}, "attribute"))
        if self.reply.strip():
            out.append(({"type": "reply", "text": self.reply}, "reply"))
        if self.consent == "double_opt_in":
            prompt = {"type": "double_opt_in", "text": self.confirm_prompt,
                      "purpose": self.purpose}  # fmt: skip
            out.append((prompt, "confirm_prompt"))
        if self.webhook.strip():
            out.append(({"type": "webhook", "url": self.webhook.strip()}, "webhook"))
        if self.ticket:
            out.append(({"type": "ticket"}, "ticket"))
        out.extend((action, "reply") for action in self.extra)
        return [a for a, _ in out], [f for _, f in out]


def split_words(text: str) -> list[str]:
    return [word.strip() for word in SEPARATORS.split(text) if word.strip()]


# ---- the page -------------------------------------------------------------------------


@router.get("/keywords")
def keywords_page(
    page: Page = Depends(reader_page),
    number: int | None = None,
    text: str | None = None,
    phone: str = "",
    saved: int | None = None,
    deleted: bool = False,
    changed: str = "",
) -> Response:
    """The chosen number's rules, the preview (filled when a sample text was sent with
    the "Preview" button) and the compliance words and answers."""
    numbers = list_numbers(page.engine, page.workspace)
    chosen = next((n for n in numbers if n["id"] == number), numbers[0] if numbers else None)
    if number is not None and (chosen is None or chosen["id"] != number):
        return _missing(page, N_("There is no such number in this workspace."))
    return _page(page, numbers, chosen, text, phone, saved=saved, deleted=deleted,
                 changed=changed)  # fmt: skip


def _page(
    page: Page, numbers: list[dict[str, Any]], chosen: dict[str, Any] | None,
    text: str | None, phone: str, *, errors: list[FieldError] | None = None,
    saved: int | None = None, deleted: bool = False, changed: str = "",
    typed: dict[str, str] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    _ = gettext_for(page.request)
    rules = list_keyword_rules(page.engine, page.workspace, chosen["number"]) if chosen else []
    words = compliance_words_by_language(page.engine, page.workspace)
    languages = list(words)
    shown = _preview(page, chosen, text, phone) if text is not None and chosen else None
    context = {
        "numbers": numbers,
        "chosen": chosen,
        "rules": sorted(rules, key=lambda r: (r["keyword"] is None, r["keyword"] or "")),
        "campaign_names": _campaign_names(page),
        "sample": text or "",
        "phone": phone,
        "shown": shown,
        "words": words,
        "answers": compliance_replies(page.engine, page.workspace, chosen["id"]) if chosen else [],
        "errors": errors or [],
        "saved": next((r for r in rules if r["id"] == saved), None),
        "deleted": deleted,
        "changed": changed,
        "max_sample": MAX_SAMPLE,
        "typed": typed or {},
        "number_options": [(n["id"], n["number"]) for n in numbers],
        "language_options": [(code, _(LANGUAGE_NAMES.get(code, code))) for code in languages],
        "list_options": [(kind, _(name)) for kind, name in LIST_NAMES.items()],
        **WORDS,
    }
    return render(page.request, "keywords/page.html", context, status_code=status_code)


@dataclass(frozen=True, slots=True)
class Shown:
    """The preview's answer for `_preview.html`: the router's decision, or why none."""

    preview: RoutePreview | None = None
    problem: str = ""  # msgid

    @property
    def actions(self) -> list[dict[str, str]]:
        """The decision's actions as a rule stores them, for `_actions.html`."""
        if self.preview is None:
            return []
        return [action_to_json(a) for a in self.preview.decision.actions]


def _preview(page: Page, chosen: dict[str, Any], text: str, phone: str) -> Shown:
    if len(text) > MAX_SAMPLE:
        return Shown(problem=N_("The sample text is too long."))
    try:
        found = preview_route(page.engine, page.settings, page.workspace, int(chosen["id"]),
                              text, phone=phone or None, now=page.now)  # fmt: skip
    except UserError as error:
        if error.problem.field == "phone":
            return Shown(problem=N_("This is not a phone number: leave it empty for a new sender."))
        raise
    return Shown(preview=found)


@router.get("/keywords/preview")
def preview_fragment(
    page: Page = Depends(reader_page), number: int = 0, text: str = "", phone: str = ""
) -> Response:
    """The preview's result, swapped in by htmx as the sample is typed."""
    chosen = next((n for n in list_numbers(page.engine, page.workspace) if n["id"] == number),
                  None)  # fmt: skip
    if chosen is None:
        return _missing(page, N_("There is no such number in this workspace."))
    shown = _preview(page, chosen, text, phone)
    context = {"shown": shown, "sample": text, "chosen": chosen, **WORDS}
    return render(page.request, "keywords/_preview.html", context)


def _campaign_names(page: Page) -> dict[int, str]:
    return {int(c["id"]): str(c["name"]) for c in list_campaigns(page.engine, page.workspace)}


# ---- the rule editor ------------------------------------------------------------------


@router.get("/keywords/new")
def new_rule_page(page: Page = Depends(writer_page), number: int = 0) -> Response:
    chosen = _number_or_none(page, number)
    if chosen is None:
        return _missing(page, N_("There is no such number in this workspace."))
    prompt = gettext_for(page.request)(DEFAULT_PROMPT)
    return _editor(page, chosen, None, RuleForm(confirm_prompt=prompt), [])


def rule_form(
    keyword: str = Form(""),
    aliases: str = Form(""),
    match: str = Form("first_word"),
    reply: str = Form(""),
    tags: str = Form(""),
    consent: str = Form(""),
    purpose: str = Form("promotional"),
    confirm_prompt: str = Form(""),
    attribute: str = Form(""),
    webhook: str = Form(""),
    ticket: str = Form(""),
    campaign_id: str = Form(""),
    enabled: str = Form(""),
) -> RuleForm:
    """The editor's fields as posted (an unticked box is not posted at all)."""
    fields = (keyword, aliases, match, reply, tags, consent, purpose, confirm_prompt, attribute)
    return RuleForm(*fields, webhook, bool(ticket), campaign_id.strip(), bool(enabled))


@router.post("/keywords/new")
def create_rule(
    page: Page = Depends(writer_page), number: int = Form(0), form: RuleForm = Depends(rule_form)
) -> Response:
    chosen = _number_or_none(page, number)
    if chosen is None:
        return _missing(page, N_("There is no such number in this workspace."))
    return _save_rule(page, chosen, None, form)


@router.post("/keywords/{rule_id}")
def change_rule(
    rule_id: int, page: Page = Depends(writer_page), form: RuleForm = Depends(rule_form)
) -> Response:
    rule = _rule_or_none(page, rule_id)
    if rule is None:
        return _missing(page, N_("There is no such keyword rule in this workspace."))
    chosen = _number_or_none(page, int(rule["number_id"]))
    assert chosen is not None
    form.extra = RuleForm.of_rule(rule).extra
    return _save_rule(page, chosen, rule, form)


def _save_rule(
    page: Page, chosen: dict[str, Any], rule: dict[str, Any] | None, form: RuleForm
) -> Response:
    """Saves the rule and goes back to the number's rules, or shows the editor again with
    what was typed and each problem beside its field."""
    _ = gettext_for(page.request)
    errors = _form_errors(page, form)
    actions, fields = form.actions()
    if not errors:
        campaign_id = int(form.campaign_id) if form.campaign_id else None
        aliases = split_words(form.aliases)
        common: dict[str, Any] = {
            "aliases": aliases, "match": form.match, "campaign_id": campaign_id,
            "actor": page.caller.actor, "now": page.now, "policy": address_policy(page.settings),
        }  # fmt: skip
        try:
            if rule is None:
                saved = add_keyword_rule(page.engine, page.workspace, str(chosen["number"]),
                                         form.keyword, actions, **common)  # fmt: skip
                if not form.enabled:
                    set_keyword_rule_enabled(page.engine, page.workspace, int(saved["id"]), False,
                                             actor=page.caller.actor, now=page.now)  # fmt: skip
            else:
                keyword = form.keyword if rule["keyword"] is not None else None
                saved = update_keyword_rule(page.engine, page.workspace, int(rule["id"]), keyword,
                                            actions, enabled=form.enabled, **common)  # fmt: skip
        except UserError as error:
            errors.append(_field_error(page, error, fields))
        else:
            target = f"/keywords?number={chosen['id']}&saved={saved['id']}"
            return RedirectResponse(target, status_code=303)
    return _editor(page, chosen, rule, form, errors, status_code=422)


def _form_errors(page: Page, form: RuleForm) -> list[FieldError]:
    """What the engine cannot be asked about: choices outside the lists, nothing to do."""
    _ = gettext_for(page.request)
    errors: list[FieldError] = []
    if form.match not in ("first_word", "exact"):
        errors.append(FieldError("match", _(PROBLEMS["invalid_match"])))
    if form.consent and form.consent not in CONSENT_KINDS:
        errors.append(FieldError("consent", _("Choose what the rule does with consent.")))
    if form.purpose not in PURPOSES:
        errors.append(FieldError("purpose", _("Choose which messages the consent is for.")))
    if form.consent == "double_opt_in" and not form.confirm_prompt.strip():
        errors.append(FieldError("confirm_prompt", _("Write the question the sender answers "
                                                     "with YES.")))  # fmt: skip
    if form.campaign_id and not form.campaign_id.isdigit():
        errors.append(FieldError("campaign_id", _(PROBLEMS["unknown_campaign"])))
    if not errors and not form.actions()[0]:
        errors.append(FieldError("reply", _("Give the rule something to do: a reply, a tag, "
                                            "consent, a webhook or a ticket.")))  # fmt: skip
    return errors


ACTION_FIELD = re.compile(r"actions\[(\d+)\]")


def _field_error(page: Page, error: UserError, fields: list[str]) -> FieldError:
    """An engine refusal beside the field it concerns, in the reader's words where the
    code is known; a template's or an address's own problem is shown as the engine says
    it (it names the line and column, or the address)."""
    problem = error.problem
    where = problem.field or "keyword"
    found = ACTION_FIELD.match(where)
    if found is not None:
        index = int(found.group(1))
        where = fields[index] if index < len(fields) else "reply"
    return FieldError(where, _said(page, error))


def _said(page: Page, error: UserError) -> str:
    """A refusal in the reader's words where its code is known; else the engine's own
    detail (a template's line and column, an address) after words of ours."""
    _ = gettext_for(page.request)
    problem = error.problem
    if problem.code in PROBLEMS:
        return _(PROBLEMS[problem.code])
    return _("This cannot be saved: %(detail)s", detail=problem.message.split(": ", 1)[-1])


@router.get("/keywords/{rule_id}/edit")
def edit_rule_page(rule_id: int, page: Page = Depends(writer_page)) -> Response:
    rule = _rule_or_none(page, rule_id)
    if rule is None:
        return _missing(page, N_("There is no such keyword rule in this workspace."))
    chosen = _number_or_none(page, int(rule["number_id"]))
    assert chosen is not None
    return _editor(page, chosen, rule, RuleForm.of_rule(rule), [])


@router.post("/keywords/{rule_id}/enabled")
def switch_rule(
    rule_id: int, page: Page = Depends(writer_page), enabled: str = Form("")
) -> Response:
    """Turns a rule on or off from the list; its words and actions stay as they are."""
    rule = _rule_or_none(page, rule_id)
    if rule is None:
        return _missing(page, N_("There is no such keyword rule in this workspace."))
    on = enabled == "true"
    set_keyword_rule_enabled(page.engine, page.workspace, rule_id, on, actor=page.caller.actor,
                             now=page.now)  # fmt: skip
    changed = "enabled" if on else "disabled"
    return RedirectResponse(f"/keywords?number={rule['number_id']}&changed={changed}",
                            status_code=303)  # fmt: skip


@router.get("/keywords/{rule_id}/delete")
def confirm_delete_page(rule_id: int, page: Page = Depends(writer_page)) -> Response:
    """Asks first: texts with this keyword become tickets (or the number's reply)."""
    rule = _rule_or_none(page, rule_id)
    if rule is None:
        return _missing(page, N_("There is no such keyword rule in this workspace."))
    return render(page.request, "keywords/delete.html", {"rule": rule})


@router.post("/keywords/{rule_id}/delete")
def delete_rule(rule_id: int, page: Page = Depends(writer_page)) -> Response:
    rule = _rule_or_none(page, rule_id)
    if rule is None:
        return _missing(page, N_("There is no such keyword rule in this workspace."))
    remove_keyword_rule(page.engine, page.workspace, rule_id, actor=page.caller.actor,
                        now=page.now)  # fmt: skip
    return RedirectResponse(f"/keywords?number={rule['number_id']}&deleted=true",
                            status_code=303)  # fmt: skip


# ---- compliance words and answers ----------------------------------------------------


@router.post("/keywords/compliance/words")
def change_compliance_word(
    page: Page = Depends(writer_page),
    number: int = Form(0),
    word_kind: str = Form(""),
    word_language: str = Form(""),
    word: str = Form(""),
    action: str = Form("add"),
) -> Response:
    """Adds a word to a compliance list of one language, or takes one off (a default
    too: that is how a word like INFO is freed for a keyword)."""
    _ = gettext_for(page.request)
    languages = compliance_words_by_language(page.engine, page.workspace)
    errors: list[FieldError] = []
    if word_language not in languages:
        errors.append(FieldError("word_language", _("Choose a language.")))
    try:
        if not errors:
            edit_compliance_word(page.engine, page.workspace, word_kind, word,
                                 language=word_language, removed=action == "remove",
                                 actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:
        code = error.problem.code
        field_id = "word_kind" if code == "invalid_kind" else "word"
        errors.append(FieldError(field_id, _(PROBLEMS.get(code, PROBLEMS["empty_keyword"]))))
    if errors:
        return _again(page, number, errors)
    return RedirectResponse(f"/keywords?number={number}&changed=words#compliance",
                            status_code=303)  # fmt: skip


@router.post("/keywords/compliance/answers")
def change_compliance_answer(
    page: Page = Depends(writer_page),
    number: int = Form(0),
    what: str = Form(""),
    template: str = Form(""),
    action: str = Form("save"),
) -> Response:
    """The number's own answer to STOP, START, HELP or a double opt-in's YES, or
    (`action=reset`) back to the built-in one in the contact's language."""
    chosen = _number_or_none(page, number)
    if chosen is None or what not in COMPLIANCE_REPLIES:
        return _missing(page, N_("There is no such number in this workspace."))
    try:
        set_compliance_reply(page.engine, page.workspace, number, what,
                             None if action == "reset" else template,
                             actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:
        message = _said(page, error)
        return _again(page, number, [FieldError(f"answer-{what}", message)],
                      typed={what: template})  # fmt: skip
    return RedirectResponse(f"/keywords?number={number}&changed=answers#answers",
                            status_code=303)  # fmt: skip


def _again(
    page: Page, number: int, errors: list[FieldError], typed: dict[str, str] | None = None
) -> Response:
    numbers = list_numbers(page.engine, page.workspace)
    chosen = next((n for n in numbers if n["id"] == number), numbers[0] if numbers else None)
    return _page(page, numbers, chosen, None, "", errors=errors, typed=typed or {},
                 status_code=422)  # fmt: skip


def _editor(
    page: Page, chosen: dict[str, Any], rule: dict[str, Any] | None, form: RuleForm,
    errors: list[FieldError], *, status_code: int = 200,
) -> Response:  # fmt: skip
    return render(
        page.request,
        "keywords/edit.html",
        {
            "chosen": chosen,
            "rule": rule,
            "form": form,
            "errors": errors,
            "campaign_options": [
                (str(c["id"]), c["name"]) for c in list_campaigns(page.engine, page.workspace)
            ],
            "purposes": PURPOSES,
            **WORDS,
        },
        status_code=status_code,
    )


def _number_or_none(page: Page, number_id: int) -> dict[str, Any] | None:
    return next((n for n in list_numbers(page.engine, page.workspace) if n["id"] == number_id),
                None)  # fmt: skip


def _rule_or_none(page: Page, rule_id: int) -> dict[str, Any] | None:
    try:
        return keyword_rule_by_id(page.engine, page.workspace, rule_id)
    except UserError:
        return None


def _missing(page: Page, reason: str) -> Response:
    return error_page(page.request, 404, reason)
