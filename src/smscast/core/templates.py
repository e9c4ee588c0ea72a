"""Message templates: a small, sandboxed Jinja2 language for personalised texts.

A template is checked when it is written, not when it is sent: syntax errors,
unknown filters and variables the contact schema does not have are errors that
name the line and column.  Rendering reaches nothing but the values passed in (no
globals, no attributes beginning with `_`, bounded string repetition), and a value
that is missing for one contact is an error for that contact, never an empty gap.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import (
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    meta,
    nodes,
    pass_context,
    sandbox,
)
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from smscast.core import formatting
from smscast.core.errors import Problem, UserError
from smscast.core.plain_templates import MissingValue, Piece, plain_pieces, render_pieces

BUILTIN_NAMES = frozenset({"link", "coupon"})
"""Names every template may use: `link(url)` becomes the recipient's tracked short link
and `coupon` their unique code; the engine supplies both for each recipient."""

_LANGUAGE = "_smscast_language"
_TZ = "_smscast_tz"
_MAX_REPEAT = 2000
_TEMPLATE_NAME = "<template>"


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded so a template cannot build a huge string."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise UserError.of("template.limit", "exponent larger than 100 in template")
            return left**right
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > _MAX_REPEAT:
                raise UserError.of("template.limit", "template repeats text too many times")
        return operator.mul(left, right)


def _language(context: Context) -> str:
    return str(context.get(_LANGUAGE) or "en")


@pass_context
def _number(context: Context, value: object, decimals: int | None = None) -> str:
    return formatting.number(formatting.as_number(value, "a number"), _language(context), decimals)


@pass_context
def _currency(context: Context, value: object, code: str) -> str:
    amount = formatting.as_number(value, "an amount")
    return formatting.currency(amount, code, _language(context))


@pass_context
def _percent(context: Context, value: object) -> str:
    return formatting.percent(formatting.as_number(value, "a number"), _language(context))


@pass_context
def _date(context: Context, value: object, style: str = "medium") -> str:
    return formatting.date(formatting.as_date(value, "a date"), style, _language(context))


def _as_datetime(value: object) -> dt.datetime:
    day = formatting.as_date(value, "a date and time")
    return day if isinstance(day, dt.datetime) else dt.datetime.combine(day, dt.time())


@pass_context
def _datetime(context: Context, value: object, style: str = "medium") -> str:
    tz = context.get(_TZ)
    return formatting.date_time(_as_datetime(value), style, _language(context), tz)


@pass_context
def _time(context: Context, value: object, style: str = "short") -> str:
    tz = context.get(_TZ)
    return formatting.time(_as_datetime(value), style, _language(context), tz)


def _make_environment() -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    env.filters.update(
        number=_number,
        currency=_currency,
        percent=_percent,
        date=_date,
        datetime=_datetime,
        time=_time,
    )
    return env


_ENV = _make_environment()


@dataclass(frozen=True, slots=True)
class VariableUse:
    """Where a template first uses a variable (1-based line and column)."""

    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A compiled template, reused for every recipient of a campaign."""

    source: str
    variables: tuple[VariableUse, ...]
    """Variables the template reads, in order of first use (built-ins included)."""
    _render: Any = field(repr=False, compare=False)
    _plain: tuple[Piece, ...] | None = field(default=None, repr=False, compare=False)
    """The same template as plain pieces when it is in that subset (see `plain_templates`)."""

    def position(self, name: str) -> VariableUse | None:
        return next((v for v in self.variables if v.name == name), None)

    @property
    def plain(self) -> bool:
        """Whether it renders without Jinja, values copied in as they are (`plain_templates`)."""
        return self._plain is not None


def _positions(source: str) -> Iterator[tuple[int, int, str, str, str]]:
    """(line, column, token type, value, previous significant token) of each lexed token."""
    line, column = 1, 1
    previous = ""
    for _lineno, kind, value in _ENV.lex(source):
        if kind != "whitespace":
            yield line, column, kind, value, previous
            previous = value
        newlines = value.count("\n")
        if newlines:
            line += newlines
            column = len(value) - value.rfind("\n")
        else:
            column += len(value)


def _variable_uses(source: str, names: Collection[str]) -> tuple[VariableUse, ...]:
    seen: dict[str, VariableUse] = {}
    for line, column, kind, value, previous in _positions(source):
        if kind == "name" and value in names and value not in seen and previous not in (".", "|"):
            seen[value] = VariableUse(value, line, column)
    for name in names:  # a name the lexer placed oddly still gets reported
        seen.setdefault(name, VariableUse(name, 1, 1))
    return tuple(seen.values())


def _syntax_problem(source: str, exc: TemplateSyntaxError) -> UserError:
    line = exc.lineno or 1
    column = None
    unknown = re.search(r"No (filter|test) named '([^']+)'", exc.message or "")
    if unknown:
        for tline, tcol, kind, value, previous in _positions(source):
            if tline == line and kind == "name" and value == unknown[2] and previous in ("|", "is"):
                column = tcol
                break
        message = f"line {line}: unknown {unknown[1]} {unknown[2]!r}"
    else:
        message = f"line {line}: {exc.message}"
    if column is not None:
        message = message.replace(f"line {line}:", f"line {line}, column {column}:", 1)
    return UserError.of("template.syntax", message, field="template", line=line, column=column)


_INTERNAL_NAMES = frozenset({"mro", *sandbox.UNSAFE_GENERATOR_ATTRIBUTES,
                             *sandbox.UNSAFE_COROUTINE_ATTRIBUTES,
                             *sandbox.UNSAFE_ASYNC_GENERATOR_ATTRIBUTES})  # fmt: skip
"""Attributes the sandbox refuses besides those beginning with `_` (frames, code, mro)."""


def _accessed_name(node: nodes.Node) -> str | None:
    """The attribute a node reads by a literal name: `x.name`, `x|attr("name")`, and
    `x["__name__"]` (a key with one `_` may well be a mapping's own key)."""
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
        return key if isinstance(key, str) and key.startswith("__") else None
    if isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
        first = node.args[0]
        if isinstance(first, nodes.Const) and isinstance(first.value, str):
            return first.value
    return None


def _unsafe_access(source: str, tree: nodes.Template) -> UserError | None:
    """A template reaching past the values it is given (`x.__class__`): the sandbox would
    refuse it for every recipient at send time, so it is refused where it is written."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = _accessed_name(node)
        if name is None or not (name.startswith("_") or name in _INTERNAL_NAMES):
            continue
        line = node.lineno
        column = next((col for at, col, _kind, value, _previous in _positions(source)
                       if at == line and name in value), None)  # fmt: skip
        where = f"line {line}, column {column}" if column else f"line {line}"
        return UserError.of(
            "template.unsafe", f"{where}: a template may not reach {name!r} (only the "
            "contact's values, their attributes and methods are open to it)", field="template",
            line=line, column=column,
        )  # fmt: skip
    return None


def compile_template(source: str, *, known: Collection[str] | None = None) -> MessageTemplate:
    """Parses and checks a template; with `known` (a contact schema), also its variables."""
    try:
        tree = _ENV.parse(source)
        unsafe = _unsafe_access(source, tree)
        if unsafe is not None:
            raise unsafe
        undeclared = meta.find_undeclared_variables(tree)
        plain = plain_pieces(tree)
        compiled = _ENV.from_string(tree)
    except TemplateSyntaxError as exc:
        raise _syntax_problem(source, exc) from None
    except RecursionError:  # the parser and compiler recurse once per nested bracket
        raise UserError.of("template.syntax", "the template nests brackets too deeply") from None
    template = MessageTemplate(source, _variable_uses(source, undeclared), compiled, plain)
    if known is not None:
        problems = unknown_variables(template, known)
        if problems:
            raise UserError(problems[0])
    return template


def unknown_variables(template: MessageTemplate, known: Collection[str]) -> list[Problem]:
    """One problem per variable the schema does not have, each with where it is used."""
    allowed = BUILTIN_NAMES | set(known)
    problems = []
    for use in template.variables:
        if use.name not in allowed:
            problems.append(
                Problem(
                    "template.unknown_variable",
                    f"line {use.line}, column {use.column}: unknown variable {use.name!r}"
                    f" (contacts have: {', '.join(sorted(known)) or 'no attributes'})",
                    field=use.name,
                    line=use.line,
                    column=use.column,
                )
            )
    return problems


def _identity_link(url: str) -> str:
    return url


def render(
    template: MessageTemplate,
    values: Mapping[str, object],
    *,
    language: str = "en",
    tz: dt.tzinfo | None = None,
    link: Callable[[str], str] = _identity_link,
) -> str:
    """The text for one recipient; `link` turns a URL into their tracked short link."""
    if template._plain is not None:
        try:
            return render_pieces(template._plain, values, link)
        except MissingValue as missing:
            raise _missing_value(template, missing.name) from None
    return _render_jinja(template, values, language=language, tz=tz, link=link)


def _render_jinja(
    template: MessageTemplate,
    values: Mapping[str, object],
    *,
    language: str,
    tz: dt.tzinfo | None,
    link: Callable[[str], str],
) -> str:
    context_vars = {**values, "link": link, _LANGUAGE: language, _TZ: tz}
    compiled = template._render
    try:
        return "".join(compiled.root_render_func(compiled.new_context(context_vars, shared=True)))
    except SecurityError as exc:
        raise UserError.of("template.unsafe", f"the template may not do this: {exc}") from None
    except UndefinedError as exc:
        raise _missing(template, exc) from None
    except UserError:
        raise
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        line = _template_line(compiled, exc)
        where = f"line {line}: " if line else ""
        raise UserError.of(
            "template.render", f"{where}{type(exc).__name__}: {exc}", field="template", line=line
        ) from None


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$|has no attribute '([^']+)'")


def _missing(template: MessageTemplate, exc: UndefinedError) -> UserError:
    found = _UNDEFINED.search(str(exc))
    return _missing_value(template, (found[1] or found[2]) if found else "?")


def _missing_value(template: MessageTemplate, name: str) -> UserError:
    use = template.position(name)
    where = f"line {use.line}, column {use.column}: " if use else ""
    return UserError.of(
        "template.missing_value",
        f'{where}no value for {name!r}; give it a default: {{{{ {name} | default("...") }}}}',
        field=name,
        line=use.line if use else None,
        column=use.column if use else None,
    )


def _template_line(compiled: Any, exc: BaseException) -> int | None:
    """The template line of the frame that failed, from the compiled code's line map."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == _TEMPLATE_NAME and frame.lineno:
            return int(compiled.get_corresponding_lineno(frame.lineno))
    return None
