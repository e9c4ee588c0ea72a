"""Form errors as the templates' macros show them: listed at the top, linked to fields."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from smscast.core.errors import UserError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field: `field` is the input's name (and id), `message` is
    already in the reader's language."""

    field: str
    message: str


def errors_by_field(errors: Iterable[FieldError]) -> dict[str, str]:
    """The first message of each field, for the field macro."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field, error.message)
    return found


def from_user_error(error: UserError, default_field: str) -> FieldError:
    """An engine refusal on the field it names (the engine's message is English: routes
    that expect a refusal should say it in the reader's words where they can)."""
    return FieldError(error.problem.field or default_field, error.problem.message)
