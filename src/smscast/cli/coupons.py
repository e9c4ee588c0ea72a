"""`smscast coupons`: pools of unique codes, imported or generated, and redemptions."""

from __future__ import annotations

import random
from pathlib import Path

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.counts import counted
from smscast.engine.campaigns.coupons import (
    add_codes,
    generate_codes,
    pool_summaries,
    redeem_coupon,
)

app = typer.Typer(help="Coupon pools and redemptions.", no_args_is_help=True)


@app.command("import")
def import_(
    pool: str = typer.Argument(..., help="Pool name (created if new)"),
    file: Path = typer.Argument(..., help="Text file, one code per line"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Add codes from a file to a pool; codes it already has are skipped."""
    if not file.is_file():
        fail(f"{file}: no such file")
    codes = file.read_text(encoding="utf-8-sig").splitlines()
    with command_context() as ctx:
        result = add_codes(ctx.engine, ctx.workspace(workspace), pool, codes, actor=actor(),
                           now=now())  # fmt: skip
    console.print(
        f"{counted(result['added'], 'code')} added to {pool!r}, {result['skipped']} skipped"
    )


@app.command("generate")
def generate(
    pool: str = typer.Argument(..., help="Pool name (created if new)"),
    count: int = typer.Option(..., "--count", "-n", help="How many codes"),
    length: int = typer.Option(8, help="Random characters per code"),
    prefix: str = typer.Option("", help="Text every code starts with"),
    workspace: str | None = WORKSPACE,
) -> None:
    """Generate unique random codes into a pool."""
    with command_context() as ctx:
        result = generate_codes(ctx.engine, ctx.workspace(workspace), pool, count,
                                rng=random.SystemRandom(), length=length, prefix=prefix,
                                actor=actor(), now=now())  # fmt: skip
    console.print(f"{counted(result['added'], 'code')} generated into {pool!r}")


@app.command("list")
def list_(
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Pools with their codes: total, handed out, free, redeemed."""
    with command_context() as ctx:
        rows = pool_summaries(ctx.engine, ctx.workspace(workspace))
    if as_json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{row['pool']}: {counted(row['codes'], 'code')}, {row['allocated']} given, "
                      f"{row['free']} free, {row['redeemed']} redeemed")  # fmt: skip


@app.command("redeem")
def redeem(
    code: str = typer.Argument(..., help="The code the customer showed"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Record that a code was used (once); it counts for the campaign that sent it."""
    with command_context() as ctx:
        result = redeem_coupon(ctx.engine, ctx.workspace(workspace), code, actor=actor(),
                               now=now())  # fmt: skip
    if as_json:
        print_json(result)
    else:
        console.print(f"{code} redeemed", highlight=False)
