"""Errors a user can cause, as values that name what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with user input: a code for programs, a message for people.

    `field` names the column, parameter or template variable; `line` and `column`
    locate it in a file or expression when that makes sense.
    """

    code: str
    message: str
    field: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return self.message


class UserError(Exception):
    """Raised where input cannot be used at all; carries the `Problem` that says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem

    @classmethod
    def of(
        cls,
        code: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> UserError:
        return cls(Problem(code, message, field=field, line=line, column=column))
