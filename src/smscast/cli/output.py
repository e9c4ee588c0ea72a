"""Printing for the CLI: one console for output, one for errors, and JSON."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console

from smscast.core.counts import counted as counted  # "1 contact", "2 contacts": for every command
from smscast.core.errors import Problem

console = Console()
err_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """Prints plain JSON (no colours) so scripts can read it."""
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def fail(problem: Problem | str, code: int = 1) -> NoReturn:
    """Prints what is wrong to stderr and exits non-zero."""
    message = problem.message if isinstance(problem, Problem) else problem
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


#: The `--workspace` option every workspace-scoped command takes; SMSCAST_WORKSPACE
#: names it once for a shell where several workspaces exist.
WORKSPACE = typer.Option(
    None,
    "--workspace",
    "-w",
    envvar="SMSCAST_WORKSPACE",
    help="Workspace name or id (default: SMSCAST_WORKSPACE, else the only one)",
)
