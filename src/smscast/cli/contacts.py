"""`smscast contacts`: import, export, look up, count and erase contacts."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.counts import counted
from smscast.engine.contacts.channel_overview import channel_overview
from smscast.engine.contacts.import_jobs import list_imports, show_import
from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.engine.contacts.records import (
    count_contacts,
    erase_contact,
    export_contacts,
    show_contact,
)

app = typer.Typer(help="Import, export, look up and erase contacts.", no_args_is_help=True)

AS_JSON = typer.Option(False, "--json", help="Print JSON")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="CSV file with a header row that names a phone column"),
    workspace: str | None = WORKSPACE,
    consent_source: str | None = typer.Option(
        None,
        "--consent-source",
        help="Where the opt-ins in the consent column came from (kept as evidence); "
        "without it, 'yes' in that column is not recorded",
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Import contacts from CSV: merges by phone, reports bad rows in FILE.errors.csv."""
    with command_context() as ctx:
        request = ImportRequest(file, ctx.workspace(workspace), consent_source, actor(), now())
        with Progress(
            TextColumn("[bold]importing[/]"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]} · {task.fields[rate]:,.0f} rows/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("import", total=file.stat().st_size if file.exists() else 0,
                                     rows=counted(0, "row"), rate=0.0)  # fmt: skip

            def on_progress(done: int, rows: int) -> None:
                elapsed = progress.tasks[0].elapsed or 0.0
                rate = rows / elapsed if elapsed else 0.0
                progress.update(task, completed=done, rows=counted(rows, "row", grouped=True),
                                rate=rate)  # fmt: skip

            summary = import_contacts(ctx.engine, ctx.settings, request, on_progress)
    if as_json:
        print_json(summary.as_dict())
        return
    console.print(
        f"rows read {summary.rows_read:,} · created {summary.created:,} · "
        f"updated {summary.updated:,} · unchanged {summary.unchanged:,} · "
        f"rejected {summary.rejected:,}"
        + (f" · warnings {summary.warnings:,}" if summary.warnings else "")
    )
    if summary.error_report:
        console.print(f"errors by row: {summary.error_report}")


@app.command("imports")
def imports(
    job_id: int | None = typer.Argument(None, help="An import's id (default: list them all)"),
    workspace: str | None = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Show past imports: status (running, finished, failed), counts, and why one failed."""
    with command_context() as ctx:
        ref = ctx.workspace(workspace)
        if job_id is not None:
            jobs = [show_import(ctx.engine, ref, job_id)]
        else:
            jobs = list_imports(ctx.engine, ref, after=0, limit=1_000_000)
    if as_json:
        print_json(jobs if job_id is None else jobs[0])
        return
    for job in jobs:
        console.print(
            f"#{job['id']} {job['filename']} {job['status']} · rows read {job['rows_read']:,} · "
            f"created {job['created']:,} · updated {job['updated']:,} · "
            f"unchanged {job['unchanged']:,} · rejected {job['rejected']:,}",
            highlight=False,
        )
        if job["failure"]:
            console.print(f"    failed: {job['failure']}", highlight=False)


@app.command("export")
def export(
    file: Path = typer.Argument(..., help="CSV file to write"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Export contacts to CSV (a cell that a spreadsheet would run as a formula starts with ')."""
    with command_context() as ctx:
        written = export_contacts(ctx.engine, ctx.workspace(workspace), file)
    console.print(f"exported {counted(written, 'contact', grouped=True)} to {file}")


@app.command("show")
def show(
    phone: str = typer.Argument(..., help="Phone number (E.164 or national)"),
    workspace: str | None = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Show one contact: its addresses on every channel (suppressed ones with the reason),
    web push subscriptions, and current consent per channel."""
    with command_context() as ctx:
        ref = ctx.workspace(workspace)
        contact = show_contact(ctx.engine, ref, phone)
        channels = channel_overview(ctx.engine, ref, contact["id"]).as_dict()
    if as_json:
        print_json({**contact, "channels": channels})
        return
    for key, value in contact.items():
        if key == "consent":
            for state in value:
                console.print(
                    f"consent     {state['channel']}/{state['purpose']}: "
                    f"{state['status']} since {state['changed_at']:%Y-%m-%d %H:%M}"
                )
        else:
            console.print(f"{key:<11} {value}", highlight=False)
    for address in channels["addresses"]:
        line = f"{address['channel']:<11} {address['address'] or '-'}"
        if address["suppressed"]:
            found = address["suppressed"]
            line += f"  suppressed ({found['reason']}, {found['at']:%Y-%m-%d}) {found['detail']}"
        console.print(line.rstrip(), highlight=False)
    for sub in channels["push_subscriptions"]:
        console.print(
            f"push        #{sub['id']} {sub['browser'] or 'unknown browser'}"
            f"{' on ' + sub['system'] if sub['system'] else ''} "
            f"since {sub['created_at']:%Y-%m-%d}",
            highlight=False,
        )


@app.command("count")
def count(workspace: str | None = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Count contacts, and how many are opted in and out of promotional SMS."""
    with command_context() as ctx:
        counts = count_contacts(ctx.engine, ctx.workspace(workspace))
    if as_json:
        print_json(counts)
    else:
        console.print(
            f"{counted(counts['contacts'], 'contact', grouped=True)} · "
            f"{counts['opted_in']:,} opted in · "
            f"{counts['opted_out']:,} opted out"
        )


@app.command("erase")
def erase(
    phone: str = typer.Argument(..., help="Phone number of the person to erase"),
    workspace: str | None = WORKSPACE,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Erase without asking (for scripts; required without a terminal)"
    ),
) -> None:
    """Erase a person's data; a keyed hash of the phone stops a re-import without new consent.

    Erasure cannot be undone, so it asks first; `--yes` skips the question.
    """
    if not yes:
        if not _interactive():
            fail(f"erasing {phone} cannot be undone: confirm with --yes when not at a terminal")
        if not typer.confirm(
            f"Erase {phone} with their texts and consent history? This cannot be undone"
        ):
            fail("nothing erased")
    with command_context() as ctx:
        erased = erase_contact(
            ctx.engine, ctx.settings, ctx.workspace(workspace), phone, actor=actor(), now=now()
        )
    console.print(f"erased {erased}")


def _interactive() -> bool:
    """Whether someone at a terminal can answer a question (not a script or a pipe)."""
    return sys.stdin.isatty()
