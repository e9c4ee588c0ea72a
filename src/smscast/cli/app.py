"""The root `smscast` app: global options and the list of sub-commands."""

from __future__ import annotations

import typer

from smscast.cli import (
    bootstrap,
    campaigns,
    consent,
    contacts,
    coupons,
    db,
    keywords,
    messages,
    numbers,
    segments,
    serve,
    simulator,
    text,
    tickets,
    users,
    workspace,
)
from smscast.cli import worker as worker_cli

app = typer.Typer(
    name="smscast",
    help="smscast: two-way SMS campaigns you run yourself.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.add_typer(db.app, name="db")
app.add_typer(workspace.app, name="workspace")
app.add_typer(contacts.app, name="contacts")
app.add_typer(consent.app, name="consent")
app.add_typer(text.app, name="text")
app.add_typer(simulator.app, name="simulator")
app.add_typer(numbers.app, name="numbers")
app.add_typer(keywords.app, name="keywords")
app.add_typer(tickets.app, name="tickets")
app.add_typer(messages.app, name="messages")
app.add_typer(segments.app, name="segments")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(coupons.app, name="coupons")
app.add_typer(users.app, name="users")
serve.register(app)
bootstrap.register(app)
worker_cli.register(app)
