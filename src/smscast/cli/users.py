"""`smscast users`: people across the installation, beyond any one workspace's roles."""

from __future__ import annotations

import sys

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import console, counted
from smscast.engine.accounts.instance_admins import grant_instance_admin, revoke_instance_admin
from smscast.engine.accounts.users import set_password

app = typer.Typer(help="Instance administrators and people's logins.", no_args_is_help=True)


@app.command("grant-admin")
def grant_admin(email: str = typer.Argument(..., help="The user's login email")) -> None:
    """Make a user an instance administrator: they may create workspaces."""
    with command_context() as ctx:
        changed = grant_instance_admin(ctx.engine, email, actor=actor(), now=now())
    if changed:
        console.print(f"{email} is now an instance administrator")
    else:
        console.print(f"{email} already was an instance administrator")


@app.command("revoke-admin")
def revoke_admin(email: str = typer.Argument(..., help="The user's login email")) -> None:
    """Take instance administration away (never from the last instance administrator)."""
    with command_context() as ctx:
        changed = revoke_instance_admin(ctx.engine, email, actor=actor(), now=now())
    if changed:
        console.print(f"{email} is no longer an instance administrator")
    else:
        console.print(f"{email} was not an instance administrator")


@app.command("set-password")
def set_password_(
    email: str = typer.Argument(..., help="The user's login email"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin"
    ),
) -> None:
    """Give a user a new password (for an administrator who lost access): every session of
    theirs ends and a sign-in lock is lifted. At least 10 characters, not all the same."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with command_context() as ctx:
        ended = set_password(ctx.engine, email, password, actor=actor(), now=now())
    console.print(f"{email.strip().lower()} has a new password; {counted(ended, 'session')} ended")
