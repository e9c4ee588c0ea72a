"""The header's navigation: each page module lists its own entries (`NAV`), so the menu
shows exactly the pages that are registered, and only those the viewer's role may see."""

from __future__ import annotations

from dataclasses import dataclass

from smscast.core.roles import Permission


@dataclass(frozen=True, slots=True, order=True)
class NavItem:
    """One menu entry; `label` is an English msgid marked with `N_` (translated when shown),
    `order` places it (Dashboard 10, Campaigns 20, Contacts 30, Segments 40 …)."""

    order: int
    label: str
    path: str
    permission: Permission = Permission.READ
