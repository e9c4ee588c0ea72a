"""The root `smscast` app: global options and the list of sub-commands.

Each command's module is imported when that command is run (or listed by
`smscast --help`), not before: importing every command and through them the
whole engine took 1-1.5 s before any command could start, and `campaigns launch`
counts that against the first text it sends.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Any

import typer
from typer._click.core import Command  # Typer's own copy of click, which its groups hold
from typer.core import TyperGroup

COMMANDS: dict[str, str] = {
    "serve": "serve",
    "bootstrap": "bootstrap",
    "worker": "worker",
    "db": "db",
    "workspace": "workspace",
    "contacts": "contacts",
    "consent": "consent",
    "text": "text",
    "simulator": "simulator",
    "numbers": "numbers",
    "keywords": "keywords",
    "tickets": "tickets",
    "messages": "messages",
    "segments": "segments",
    "campaigns": "campaigns",
    "coupons": "coupons",
    "users": "users",
    "connectors": "worker",
}
"""Command -> the `smscast.cli` module that makes it, in the order `--help` lists them."""

REGISTERED = frozenset({"serve", "bootstrap", "worker", "connectors"})
"""Commands their module adds to the root app itself (`register(app)`); the others are
the module's `app`, a sub-app."""


def _nothing() -> None:
    """The holder app's callback: with one, Typer always builds a group."""


def load_command(name: str) -> Command:
    """The click command `name`, built from its module as `add_typer`/`register` would."""
    module = import_module(f"smscast.cli.{COMMANDS[name]}")
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    holder.callback()(_nothing)
    if name in REGISTERED:
        module.register(holder)
    else:
        holder.add_typer(module.app, name=name)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands, each imported the first time it is looked up."""

    def __init__(self, made: MutableMapping[str, Command]) -> None:
        self.made = dict(made)

    def __getitem__(self, name: str) -> Command:
        found = self.made.get(name)
        if found is None:
            if name not in COMMANDS:
                raise KeyError(name)
            found = self.made[name] = load_command(name)
        return found

    def __setitem__(self, name: str, command: Command) -> None:
        self.made[name] = command

    def __delitem__(self, name: str) -> None:
        del self.made[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self.made if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self.made if name not in COMMANDS)


class LazyGroup(TyperGroup):
    """The root group: knows every command's name, imports a command's module on use."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(self.commands)


app = typer.Typer(
    name="smscast",
    help="smscast: two-way SMS campaigns you run yourself.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """No global options yet; the callback makes the root a group even with no command
    imported."""
