"""Tracked short links: tokens for recipients and telling people from preview bots.

Tokens come from a random source the caller passes in (a seeded one in tests, the
system's in production): 9 random bytes, 12 URL-safe characters, one per recipient.
A recipient's second and later links in the same text add `.2`, `.3` … to the token.
"""

from __future__ import annotations

import base64
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_BYTES = 9
TOKEN_LENGTH = 12

PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|whatsapp|twitterbot|slackbot|slack-imgproxy|telegrambot|"
    r"discordbot|linkedinbot|skypeuripreview|applebot|googlebot|bingbot|yandex|"
    r"embedly|pinterest|redditbot|snapchat|vkshare|iframely|preview|crawler|spider|bot\b",
    re.IGNORECASE,
)
"""User agents of link-preview fetchers and crawlers; real phones' browsers match none."""

BOT_DELAY = timedelta(seconds=2)
"""A request this soon after delivery is a phone or carrier fetching a preview."""

_TOKEN = re.compile(r"^([A-Za-z0-9_-]{12})(?:\.([1-9][0-9]{0,2}))?$")


def new_tokens(rng: random.Random, count: int) -> list[str]:
    """`count` fresh tokens from `rng`, made in one piece for launches of millions."""
    raw = base64.urlsafe_b64encode(rng.randbytes(TOKEN_BYTES * count)).decode("ascii")
    return [raw[i : i + TOKEN_LENGTH] for i in range(0, len(raw), TOKEN_LENGTH)]


def short_url(short_domain: str, token: str, position: int = 1) -> str:
    """The link a recipient sees for the `position`-th URL of their text."""
    suffix = "" if position == 1 else f".{position}"
    return f"{short_domain.rstrip('/')}/l/{token}{suffix}"


@dataclass(frozen=True, slots=True)
class LinkPath:
    token: str
    position: int


def parse_link_path(text: str) -> LinkPath | None:
    """The token and link position of `/l/<text>`, or None for anything not ours."""
    found = _TOKEN.match(text)
    if found is None:
        return None
    return LinkPath(found[1], int(found[2] or 1))


def is_preview_bot(user_agent: str, at: datetime, delivered_at: datetime | None) -> bool:
    """Whether a click came from a preview fetcher rather than the person."""
    if not user_agent.strip() or PREVIEW_AGENTS.search(user_agent):
        return True
    return delivered_at is not None and timedelta(0) <= at - delivered_at < BOT_DELAY
