"""The commands about an edition: build, send (and settling it), history, ledger."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .frame import NOW_OPTION, Globals, cli, confirm, edition_option, reports_errors

if TYPE_CHECKING:
    from ..sending.settle import Settle

# What --resend-uncertain and --accept-uncertain hold when given without a FILE: not a
# name a shell can pass, so an empty "$FILE" is an error, never "every uncertain reader".
EVERY_UNCERTAIN = "\0every"


@cli.command(name="build")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--edition",
    metavar="KEY",
    callback=edition_option,
    help="Re-render the sent edition KEY exactly as the ledger stores it.",
)
@NOW_OPTION
@click.pass_obj
@reports_errors
def build_command(options: Globals, out_dir: Path, edition: str | None, now: str | None) -> None:
    """Render the next edition into OUT: digest.html, digest.txt, digest.eml, manifest.json."""
    from ..commands import build

    build.run(options.app(now), out_dir, edition)


@cli.command(name="send")
@click.option("--dry-run", is_flag=True, help="Write the messages to the outbox; send nothing.")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Send a [TEST] to ADDR only.")
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)
@click.option(
    "--edition",
    metavar="KEY",
    callback=edition_option,
    help="The edition to send or resume (default: today's date).",
)
@click.option(
    "--resend-uncertain",
    metavar="[FILE]",
    is_flag=False,
    flag_value=EVERY_UNCERTAIN,
    help="Send again the recipients of batches left uncertain (in flight when a run stopped"
    " or timed out); with FILE, only the addresses it lists (one a line, or a CSV with an"
    " email column); the others stay uncertain.",
)
@click.option(
    "--accept-uncertain",
    metavar="[FILE]",
    is_flag=False,
    flag_value=EVERY_UNCERTAIN,
    help="Record the recipients of uncertain batches as delivered, as the provider's activity"
    " log shows; with FILE (e.g. the log's CSV export), only those it lists.",
)
@click.option(
    "--batch",
    "batches",
    type=click.IntRange(min=1),
    multiple=True,
    metavar="N",
    help="With --edition and one of the two above: settle only uncertain batch N, as the"
    " warnings and `digest history` number it (repeatable).",
)
@NOW_OPTION
@click.pass_obj
@reports_errors
def send_command(
    options: Globals,
    dry_run: bool,
    to: tuple[str, ...],
    yes: bool,
    edition: str | None,
    resend_uncertain: str | None,
    accept_uncertain: str | None,
    batches: tuple[int, ...],
    now: str | None,
) -> None:
    """Send the next edition to every active subscriber."""
    from ..commands import send
    from ..sending.plan import SendOptions

    settle = _settle_option(resend_uncertain, accept_uncertain, batches, edition)
    if settle is not None and (dry_run or to):
        raise click.UsageError(
            f"{settle.option} settles an edition's send, not a test (--to) or a --dry-run"
        )
    send_options = SendOptions(
        edition=edition, yes=yes, settle=settle, interactive=sys.stdin.isatty()
    )
    send.run(options.app(now), to=to, dry_run=dry_run, options=send_options, confirm=confirm)


def _settle_option(
    resend: str | None, accept: str | None, batches: tuple[int, ...], edition: str | None
) -> Settle | None:
    """What --resend-uncertain, --accept-uncertain and --batch ask, checked together."""
    from ..sending.settle import ACCEPT, RESEND, Settle

    if resend is not None and accept is not None:
        raise click.UsageError("--resend-uncertain and --accept-uncertain contradict each other")
    if resend is None and accept is None:
        if batches:
            raise click.UsageError("--batch goes with --resend-uncertain or --accept-uncertain")
        return None
    action, given = (RESEND, resend) if resend is not None else (ACCEPT, accept)
    if batches and edition is None:
        raise click.UsageError("--batch needs --edition KEY: batches are numbered per edition")
    if not given:
        raise click.BadParameter("the file name is empty", param_hint=f"--{action}-uncertain")
    listed = None if given == EVERY_UNCERTAIN else Path(given)
    return Settle(action, batches, listed)


@cli.command(name="history")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, times in ISO 8601.")
@click.pass_obj
@reports_errors
def history_command(options: Globals, as_json: bool) -> None:
    """List the editions, rehearsals and tests sent, with their counts."""
    from ..commands import history

    history.run(options.app(), as_json=as_json)


@cli.group(name="ledger")
def ledger_group() -> None:
    """Work with the ledger, .digest/state.db: what was sent, to whom."""


@ledger_group.command(name="backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
@reports_errors
def ledger_backup(options: Globals, file: Path) -> None:
    """Copy the ledger to FILE, safe during a send.

    The copy is consistent (SQLite's backup API), written under a temporary name and
    renamed, and is one file that opens as a ledger: for recipes that carry one file.
    """
    from ..commands import ledger

    ledger.backup(options.app(), file)
