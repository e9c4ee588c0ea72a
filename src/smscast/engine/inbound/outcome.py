"""What became of an inbound text, in words: for `smscast simulator send-mo`.

The simulator is a channel and knows nothing of routing; it only hands the text to
the bound connector. The engine stores and routes it a moment later, so a caller that
wants to say what happened notes the newest inbound id before injecting and then
looks for the first text after it from that sender.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from smscast.engine.inbound.receive import clean_text
from smscast.store.inbound_models import InboundRoute
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

messages = table_of(Message)
routes = table_of(InboundRoute)
campaigns = table_of(Campaign)


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """One stored inbound text and its route, as `inbound_routes` recorded it."""

    message_id: int
    phone: str
    route: str
    keyword: str | None
    rule_id: int | None
    campaign_id: int | None
    campaign_name: str | None
    ticket_id: int | None
    replies: int
    suppressed: int
    detail: str | None

    def describe(self) -> str:
        """One line a person reads: what the text did and what was sent back."""
        said = f" ({self.keyword})" if self.keyword else ""
        what = {
            "opt_out": f"opt-out{said}: {self.phone} gets no more texts of that purpose",
            "opt_in": f"opt-in{said}: {self.phone} opted in",
            "help": f"help request{said}: the help text is the answer",
            "confirm_opt_in": f"double opt-in confirmed{said}",
            "keyword": f"keyword {self.keyword} (rule #{self.rule_id})",
            "default": f"the number's default rule (rule #{self.rule_id})",
            "campaign_reply": f'reply to campaign #{self.campaign_id} "{self.campaign_name}"',
            "ticket": f"ticket #{self.ticket_id} for an agent",
            "flood": "set aside as a flood from this sender",
            "empty": "an empty text, nothing to route",
            "duplicate": "a resend of a text already stored, not answered again",
        }.get(self.route, f"not routed ({self.route})")
        if self.ticket_id is not None and self.route != "ticket":
            what += f", in ticket #{self.ticket_id}"
        if self.replies:
            answers = "reply" if self.replies == 1 else "replies"
            what += f"; {self.replies} automatic {answers} queued"
        if self.detail:
            what += f"; {self.detail}"
        return f"inbound #{self.message_id} from {self.phone}: {what}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.describe()}


def last_inbound_id(engine: Engine) -> int:
    """The newest inbound text's id (0 when there is none): the mark to look after."""
    with engine.connect() as conn:
        found = conn.execute(
            select(func.max(messages.c.id)).where(messages.c.direction == "in")
        ).scalar()
    return int(found or 0)


def find_inbound_outcome(
    engine: Engine, *, after_id: int, sender: str, text: str
) -> InboundOutcome | None:
    """The first routed inbound text after `after_id` from `sender` saying `text`, if any.

    The sender is matched on its digits' end (the simulator's "600100200" is stored as
    "+48600100200"); an alphanumeric sender or an email address on the text alone.
    """
    digits = "" if "@" in sender else "".join(ch for ch in sender if ch.isdigit())
    query = (
        select(
            messages.c.id, messages.c.phone, messages.c.body, messages.c.ticket_id,
            routes.c.route, routes.c.keyword, routes.c.rule_id, routes.c.campaign_id,
            campaigns.c.name.label("campaign_name"), routes.c.replies, routes.c.suppressed,
            routes.c.detail,
        )
        .join(routes, routes.c.message_id == messages.c.id)
        .outerjoin(campaigns, campaigns.c.id == routes.c.campaign_id)
        .where(messages.c.direction == "in", messages.c.id > after_id)
        .order_by(messages.c.id)
        .limit(1000)
    )  # fmt: skip
    if digits:
        query = query.where(messages.c.phone.endswith(digits, autoescape=True))
    wanted = clean_text(text)
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.body != wanted:
                continue
            return InboundOutcome(
                message_id=int(row.id), phone=row.phone, route=row.route, keyword=row.keyword,
                rule_id=row.rule_id, campaign_id=row.campaign_id,
                campaign_name=row.campaign_name, ticket_id=row.ticket_id,
                replies=int(row.replies or 0), suppressed=int(row.suppressed or 0),
                detail=row.detail,
            )  # fmt: skip
    return None
