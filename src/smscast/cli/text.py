"""`smscast text`: how a text will travel (encoding, parts) before anyone pays for it."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from smscast.cli.output import fail, print_json
from smscast.core.encoding import Encoding, TextInfo, analyse, check_sendable
from smscast.core.errors import UserError
from smscast.core.national import national_label, parse_national_tables
from smscast.core.smart import SmartResult, smart_encode

app = typer.Typer(help="Check texts: encoding, parts, smart encoding.", no_args_is_help=True)


def _read_text(text: str | None) -> str:
    """The argument, or stdin without the one line break that `echo` and editors add."""
    if text is not None:
        return text
    data = sys.stdin.read()
    if data.endswith("\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith("\n") else data


def _as_json(info: TextInfo, smart: SmartResult | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "encoding": str(info.encoding),
        "parts": info.parts,
        "units": info.units,
        "per_part": info.per_part,
        "remaining": info.remaining,
        "non_gsm": list(info.non_gsm),
        "national": national_label(info.national),
    }
    if smart is not None:
        out["text"] = smart.text
        out["replaced"] = [list(pair) for pair in smart.replaced]
    return out


def _print_human(info: TextInfo, smart: SmartResult | None) -> None:
    unit = "septets" if info.encoding is Encoding.GSM7 else "UTF-16 units"
    lines = [
        f"Encoding   {info.encoding}",
        f"Parts      {info.parts}",
        f"Units      {info.units} {unit}",
        f"Per part   {info.per_part}",
        f"Remaining  {info.remaining} in the last part",
    ]
    if info.non_gsm:
        lines.append(f"Non-GSM    {' '.join(repr(c) for c in info.non_gsm)}")
    if info.national != (None, None):
        locking, single = info.national
        lines.append(f"National   locking {locking or 'default'}, single {single or 'default'}")
    if smart is not None:
        lines.append(f"Smart      {smart.summary()}")
        if smart.replaced:
            pairs = ", ".join(f"{a!r}→{b!r}" for a, b in smart.replaced)
            lines.append(f"Replaced   {pairs}")
            lines.append(f"Text       {smart.text}")
    for line in lines:
        typer.echo(line)


@app.command("info")
def info(
    text: Annotated[
        str | None, typer.Argument(help="The text; read from stdin when omitted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    smart: Annotated[
        bool,
        typer.Option("--smart", help="Replace characters by GSM-7 look-alikes if it saves parts."),
    ] = False,
    locking: Annotated[
        str | None, typer.Option(help="Allow this national locking shift table (e.g. tr, pt, hi).")
    ] = None,
    single: Annotated[
        str | None, typer.Option(help="Allow this national single shift table (e.g. tr, es, pt).")
    ] = None,
    national: Annotated[
        str | None,
        typer.Option(
            help="Allow these languages' national shift tables, as a connector's "
            "national_tables setting does (e.g. tr,es)."
        ),
    ] = None,
) -> None:
    """Encoding (GSM-7 or UCS-2), parts, units used and left, and what forced UCS-2.

    An empty text has 0 parts: it is shown, and the command fails, as it cannot be sent.
    """
    body = _read_text(text)
    pair = (locking, single)
    try:
        tables = parse_national_tables(national, field="--national")
        result = smart_encode(body, national=pair, tables=tables) if smart else None
        summary = result.after if result is not None else analyse(body, national=pair,
                                                                  tables=tables)  # fmt: skip
    except UserError as exc:
        fail(exc.problem)
    if as_json:
        print_json(_as_json(summary, result))
    else:
        _print_human(summary, result)
    try:
        check_sendable(body)
    except UserError as exc:
        fail(exc.problem)
