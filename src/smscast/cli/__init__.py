"""The `smscast` command: one Typer app, one sub-app per subject.

Commands parse arguments, call the use-case functions in `engine`, and print.
They never write tables themselves.
"""

from __future__ import annotations

from smscast.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
