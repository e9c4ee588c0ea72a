"""Following a tracked link: find the recipient's message, record the click, give the target.

A preview fetcher (by user agent, or a request within two seconds of delivery) is
recorded too, marked as a bot and counted apart, so click rates count people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, exists, insert, select

from smscast.core.links import is_preview_bot, parse_link_path
from smscast.engine.stats import bump_campaign_stats
from smscast.engine.traffic import bump_traffic, traffic_key
from smscast.store.campaign_models import CampaignLink, Click
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
clicks = table_of(Click)
campaign_links = table_of(CampaignLink)


@dataclass(frozen=True, slots=True)
class Followed:
    url: str
    message_id: int
    is_bot: bool


def follow_link(engine: Engine, path: str, user_agent: str, now: datetime) -> Followed | None:
    """The target of `/l/<path>` after recording the click; None when no such link exists."""
    link = parse_link_path(path)
    if link is None:
        return None
    with engine.begin() as conn:
        message = conn.execute(
            select(messages.c.id, messages.c.campaign_id, messages.c.contact_id,
                   messages.c.status, messages.c.done_at, messages.c.sent_at,
                   messages.c.workspace_id, messages.c.connector_id, messages.c.number_id,
                   messages.c.purpose)
            .where(messages.c.link_token == link.token)
        ).first()  # fmt: skip
        if message is None or message.campaign_id is None:
            return None
        url = conn.execute(
            select(campaign_links.c.url).where(
                campaign_links.c.campaign_id == message.campaign_id,
                campaign_links.c.position == link.position,
            )
        ).scalar()
        if url is None:
            return None
        delivered = message.done_at if message.status == "delivered" else message.sent_at
        bot = is_preview_bot(user_agent, now, delivered)
        clicked_before = conn.execute(
            select(exists().where(clicks.c.message_id == message.id, clicks.c.is_bot.is_(False)))
        ).scalar()
        conn.execute(
            insert(clicks).values(
                message_id=message.id, campaign_id=message.campaign_id,
                contact_id=message.contact_id, position=link.position, is_bot=bot,
                user_agent=user_agent[:500], at=now,
            )
        )  # fmt: skip
        if bot:
            bump_campaign_stats(conn, message.campaign_id, now, bot_clicks=1)
        else:
            unique = 0 if clicked_before else 1
            bump_campaign_stats(conn, message.campaign_id, now, clicks=1, unique_clicks=unique)
            route = traffic_key(message.workspace_id, message.connector_id, message.number_id,
                                message.purpose, message.campaign_id)  # fmt: skip
            bump_traffic(conn, route, now, clicks=1, unique_clicks=unique)
    return Followed(str(url), int(message.id), bot)
