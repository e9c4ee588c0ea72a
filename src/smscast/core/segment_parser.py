"""Reading segment expressions: text → tokens → a tree of `smscast.core.segments` nodes.

    expr      := term ("or" term)*
    term      := factor ("and" factor)*
    factor    := "not" factor | "(" expr ")" | call | condition
    condition := field ( op value | ["not"] "in" "(" value, … ")" | "contains" text
                       | "is" ["not"] "set" )
    call      := name "(" [arg ("," arg)*] ")"     arg := text | number | word | period
    period    := "last" number unit | "since" date
    value     := text | number | true | false | number unit "ago"

Words are case-insensitive; text is in double or single quotes with backslash
escapes. An error names the line and column where the expression stops making sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from smscast.core.segments import (
    BUILTIN_FIELDS,
    DATE_FIELDS,
    FUNCTIONS,
    UNITS,
    Ago,
    And,
    Call,
    Compare,
    Contains,
    Everyone,
    Field,
    InList,
    IsSet,
    Node,
    Not,
    Or,
    Period,
    Value,
    Where,
    error_at,
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<text>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")
ATTRIBUTE_PREFIXES = ("attributes", "attr")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, text, op, punct, word, end
    value: str
    where: Where

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.lower() in words


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(source):
        found = _TOKEN.match(source, pos)
        where = Where(line, pos - line_start + 1)
        if found is None:
            if source[pos] in "\"'":
                raise error_at(where, "segment.syntax", "text in quotes is not closed")
            raise error_at(where, "segment.syntax", f"unexpected character {source[pos]!r}")
        kind = found.lastgroup or ""
        text = found.group()
        if kind == "space":
            newlines = text.count("\n")
            if newlines:
                line += newlines
                line_start = pos + text.rfind("\n") + 1
        elif kind == "text":
            tokens.append(Token(kind, _ESCAPE.sub(r"\1", text[1:-1]), where))
        else:
            tokens.append(Token(kind, text, where))
        pos = found.end()
    tokens.append(Token("end", "", Where(line, pos - line_start + 1)))
    return tokens


def parse_segment(source: str) -> Node:
    """The tree of `source`; an empty expression means every contact."""
    parser = _Parser(tokenize(source))
    if parser.peek().kind == "end":
        return Everyone(Where(1, 1))
    tree = parser.expression()
    parser.expect_end()
    return tree


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    return f'"{token.value}"' if token.kind == "text" else repr(token.value)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def fail(self, expected: str) -> Exception:
        token = self.peek()
        return error_at(
            token.where, "segment.syntax", f"expected {expected}, found {_describe(token)}"
        )

    def expect_punct(self, char: str) -> Token:
        if self.peek().kind == "punct" and self.peek().value == char:
            return self.take()
        raise self.fail(f"{char!r}")

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.fail("'and', 'or' or the end of the expression")

    def expression(self) -> Node:
        start = self.peek().where
        items = [self.term()]
        while self.peek().is_word("or"):
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items), start)

    def term(self) -> Node:
        start = self.peek().where
        items = [self.factor()]
        while self.peek().is_word("and"):
            self.take()
            items.append(self.factor())
        return items[0] if len(items) == 1 else And(tuple(items), start)

    def factor(self) -> Node:
        token = self.peek()
        if token.is_word("not"):
            self.take()
            return Not(self.factor(), token.where)
        if token.kind == "punct" and token.value == "(":
            self.take()
            inner = self.expression()
            self.expect_punct(")")
            return inner
        if token.kind != "word":
            raise self.fail("a field, a function or '('")
        following = self.peek(1)
        if following.kind == "punct" and following.value == "(":
            return self.call()
        return self.condition()

    def call(self) -> Call:
        name_token = self.take()
        name = name_token.value.lower()
        if name not in FUNCTIONS:
            raise error_at(
                name_token.where, "segment.unknown_function",
                f"unknown function {name_token.value!r} (functions: {', '.join(FUNCTIONS)})",
            )  # fmt: skip
        self.expect_punct("(")
        args: list[str | int] = []
        period: Period | None = None
        if not (self.peek().kind == "punct" and self.peek().value == ")"):
            while True:
                token = self.peek()
                if token.is_word("last", "since"):
                    period = self.period()
                elif token.kind == "text":
                    args.append(self.take().value)
                elif token.kind == "word":
                    args.append(self.take().value.lower())
                elif token.kind == "number" and token.value.isdigit():
                    args.append(int(self.take().value))
                else:
                    raise self.fail("a campaign, text in quotes, 'last' or 'since'")
                if period is not None or self.peek().value != ",":
                    break
                self.take()
        self.expect_punct(")")
        return Call(name, tuple(args), period, name_token.where)

    def period(self) -> Period:
        word = self.take()
        if word.is_word("last"):
            return Period(self.ago_amount())
        token = self.take()
        if token.kind != "text":
            self.index -= 1
            raise self.fail('a date in quotes after since ("2026-11-01")')
        return Period(_moment(token))

    def ago_amount(self) -> Ago:
        number = self.take()
        if number.kind != "number" or not number.value.isdigit():
            self.index -= 1
            raise self.fail("a whole number (like 30)")
        unit = self.take()
        base = unit.value.lower().removesuffix("s") if unit.kind == "word" else ""
        if base not in UNITS:
            self.index -= 1
            raise self.fail("minutes, hours, days or weeks")
        return Ago(int(number.value) * UNITS[base])

    def field(self) -> Field:
        token = self.take()
        name = token.value
        if name.lower() in ATTRIBUTE_PREFIXES and self.peek().value == ".":
            self.take()
            attribute = self.take()
            if attribute.kind != "word":
                self.index -= 1
                raise self.fail("an attribute name after 'attributes.'")
            return Field(attribute.value, True, token.where)
        if name.lower() in BUILTIN_FIELDS:
            return Field(name.lower(), False, token.where)
        return Field(name, True, token.where)

    def condition(self) -> Node:
        field = self.field()
        token = self.peek()
        if token.kind == "op":
            self.take()
            op = "!=" if token.value == "<>" else token.value
            return Compare(field, op, self.value(field), field.where)
        negated = False
        if token.is_word("not") and self.peek(1).is_word("in"):
            self.take()
            negated = True
        if self.peek().is_word("in"):
            self.take()
            return InList(field, self.value_list(field), negated, field.where)
        if token.is_word("contains"):
            self.take()
            text = self.take()
            if text.kind != "text":
                self.index -= 1
                raise self.fail("text in quotes after contains")
            return Contains(field, text.value, field.where)
        if token.is_word("is"):
            self.take()
            is_not = self.peek().is_word("not")
            self.index += is_not
            if not self.peek().is_word("set"):
                raise self.fail("'set' (is set, is not set)")
            self.take()
            return IsSet(field, is_not, field.where)
        raise self.fail("an operator (= != < <= > >= in, not in, contains, is set)")

    def value_list(self, field: Field) -> tuple[Value | Ago, ...]:
        self.expect_punct("(")
        values = [self.value(field)]
        while self.peek().kind == "punct" and self.peek().value == ",":
            self.take()
            values.append(self.value(field))
        self.expect_punct(")")
        return tuple(values)

    def value(self, field: Field) -> Value | Ago:
        token = self.peek()
        if token.kind == "number" and self.peek(1).kind == "word" and self.peek(2).is_word("ago"):
            amount = self.ago_amount()
            self.take()
            return amount
        self.take()
        if token.kind == "text":
            if not field.attribute and field.name in DATE_FIELDS:
                return _moment(token)
            return token.value
        if token.kind == "number":
            return float(token.value)
        if token.is_word("true", "false"):
            return token.value.lower() == "true"
        self.index -= 1
        raise self.fail("a value (text in quotes, a number, true, false or N days ago)")


def _moment(token: Token) -> datetime:
    try:
        moment = datetime.fromisoformat(token.value)
    except ValueError:
        raise error_at(
            token.where, "segment.bad_value",
            f'"{token.value}" is not a date (2026-11-01 or 2026-11-01T10:00)',
        ) from None  # fmt: skip
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
