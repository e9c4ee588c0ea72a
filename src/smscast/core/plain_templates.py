"""A fast path for the templates most campaigns use: text, plain values, defaults, links.

A launch renders one template a million times.  Through Jinja each render builds a
context, resolves every name and calls through the sandbox, which costs more than
the rest of composing the text.  A template whose output nodes are only literal
text, `{{ name }}`, `{{ name | default(...) }}` (or `d`) with constant arguments and
`{{ link("url") }}` is turned here into a short list of pieces that a loop joins
with exactly Jinja's result (a hypothesis test compares the two); anything else
returns None and renders through Jinja as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from jinja2 import nodes

LITERAL: Final = 0
VALUE: Final = 1
DEFAULT: Final = 2
LINK: Final = 3

_SPECIAL = frozenset({"link", "self", "loop", "super", "caller", "varargs", "kwargs"})
"""Names Jinja or our `render` give a meaning of their own: those templates take Jinja's path."""

Piece = tuple[int, str, object, bool]
"""(kind, literal text or variable name or URL, default value, default's `boolean`)."""


class MissingValue(Exception):
    """A variable with no value and no default; the caller turns it into a UserError."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _plain_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load":
        name = node.name
        if name not in _SPECIAL and not name.startswith("_"):
            return name
    return None


def _constants(args: list[nodes.Expr]) -> list[object] | None:
    values = [arg.value for arg in args if isinstance(arg, nodes.Const)]
    return values if len(values) == len(args) else None


def _default_piece(node: nodes.Filter) -> Piece | None:
    name = _plain_name(node.node) if node.node is not None else None
    args = _constants(node.args)
    plain_call = not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None
    if name is None or args is None or not plain_call or len(args) > 2:
        return None
    default = args[0] if args else ""
    boolean = args[1] if len(args) == 2 else False
    if not isinstance(boolean, bool):
        return None
    return (DEFAULT, name, default, boolean)


def _link_piece(node: nodes.Call) -> Piece | None:
    target = node.node
    plain_call = not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None
    if not (isinstance(target, nodes.Name) and target.name == "link" and plain_call):
        return None
    if len(node.args) != 1 or not isinstance(node.args[0], nodes.Const):
        return None
    url = node.args[0].value
    return (LINK, url, None, False) if isinstance(url, str) else None


def _piece(node: nodes.Node) -> Piece | None:
    if isinstance(node, nodes.TemplateData):
        return (LITERAL, node.data, None, False)
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return (LITERAL, node.value, None, False)
    name = _plain_name(node)
    if name is not None:
        return (VALUE, name, None, False)
    if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
        return _default_piece(node)
    if isinstance(node, nodes.Call):
        return _link_piece(node)
    return None


def plain_pieces(tree: nodes.Template) -> tuple[Piece, ...] | None:
    """The pieces of a template in the plain subset, or None when it needs Jinja."""
    pieces: list[Piece] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            piece = _piece(node)
            if piece is None:
                return None
            pieces.append(piece)
    return tuple(pieces)


def render_pieces(
    pieces: tuple[Piece, ...], values: Mapping[str, object], link: Callable[[str], str]
) -> str:
    """Joins the pieces for one recipient as Jinja would (`str()` of each value)."""
    out: list[str] = []
    append = out.append
    for kind, text, default, boolean in pieces:
        if kind == LITERAL:
            append(text)
            continue
        if kind == LINK:
            append(str(link(text)))
            continue
        if text in values:
            value = values[text]
            if kind == DEFAULT and boolean and not value:
                value = default
        elif kind == DEFAULT:
            value = default
        else:
            raise MissingValue(text)
        append(value if type(value) is str else str(value))
    return "".join(out)
