"""The `digest` command line: click only. Options in, the run's App built, and
``commands.<verb>`` called; what a command says, it says itself.

Errors become one line on stderr and exit 1 (a traceback only with -v); standing
down (nothing new, already sent, being sent elsewhere) is one line and exit 0;
usage errors exit 2 (click's own handling).

Each command imports its module when it runs, not here: the render stage takes
0.4 s to import, which `digest --help` should not pay, and `digest send` starts
reading subscribers.csv in a child process before it. A new command is a module in
``commands/`` and one function here.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click

from . import __version__
from .app import App
from .config import find_config, load_settings
from .errors import DigestError, NothingToSend, StandDown
from .models import date_key_problem, is_edition_key, looks_like_date
from .text import terminal_safe

if TYPE_CHECKING:
    from .sending.settle import Settle

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass
class Globals:
    config: str | None
    verbose: bool
    quiet: bool

    def app(self, now: str | None = None) -> App:
        """The run's context: the settings, and the clock fixed by --now if given."""
        env = dict(os.environ)
        settings = load_settings(find_config(self.config, env), env)
        fixed = _parse_now(now, settings.schedule.timezone) if now else None
        return App.start(settings, env, now=fixed, quiet=self.quiet)


def _parse_now(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--now") from None
    if not 1900 <= moment.year <= 9998:  # so that every time zone can show it
        raise click.BadParameter(f"{text!r} is not between 1900 and 9998", param_hint="--now")
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


def reports_errors(command: Command) -> Command:
    """Turn DigestErrors into one line and an exit code, so no traceback reaches the user."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options: Globals = click.get_current_context().obj
        try:
            return command(*args, **kwargs)
        except (StandDown, NothingToSend) as done:
            echo(str(done))
            sys.exit(0)
        except DigestError as error:
            if options.verbose:
                for line in traceback.format_exc().splitlines():
                    echo(line, err=True)
            echo(f"error: {error}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def echo(line: str, *, err: bool = False) -> None:
    """Print a line made terminal-safe: errors quote feeds, lists and servers."""
    click.echo(terminal_safe(line), err=err)


def confirm(question: str) -> bool:
    """Ask on the terminal; the question (it quotes the subject) is made terminal-safe."""
    return click.confirm(terminal_safe(question))


class _SafeLastResort(logging.Handler):
    """Where a warning logged by digest or a library goes when nothing else takes it (as
    logging's own last resort would), made terminal-safe: it may quote a server's words."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            echo(self.format(record), err=True)
        except Exception:
            self.handleError(record)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option(
    "--config",
    metavar="PATH",
    help="digest.toml to use (default ./digest.toml, env DIGEST_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool, quiet: bool) -> None:
    """Build an email digest of a blog's recent posts and send it through SendGrid."""
    ctx.obj = Globals(config=config, verbose=verbose, quiet=quiet)
    logging.lastResort = _SafeLastResort(logging.WARNING)


def _edition_option(_ctx: click.Context, _param: click.Parameter, key: str | None) -> str | None:
    """An edition's key is its date: one written as a date must be a real one. (Another
    key is left to App.edition_key, which accepts one the ledger holds from before.)"""
    if key is None:
        return None
    if not is_edition_key(key):
        raise click.BadParameter("an edition is named by its date, e.g. 2026-03-09")
    problem = date_key_problem(key)
    if looks_like_date(key) and problem:
        raise click.BadParameter(f"{problem}, e.g. 2026-03-09")
    return key


NOW_OPTION = click.option("--now", metavar="ISO8601", help="Fix the clock, e.g. 2026-03-09T09:00.")
# What --resend-uncertain and --accept-uncertain hold when given without a FILE: not a
# name a shell can pass, so an empty "$FILE" is an error, never "every uncertain reader".
EVERY_UNCERTAIN = "\0every"


@cli.command(name="build")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(path_type=Path))
@NOW_OPTION
@click.pass_obj
@reports_errors
def build_command(options: Globals, out_dir: Path, now: str | None) -> None:
    """Render the next edition into OUT: digest.html, digest.txt, digest.eml, manifest.json."""
    from .commands import build

    build.run(options.app(now), out_dir)


@cli.command(name="send")
@click.option("--dry-run", is_flag=True, help="Write the messages to the outbox; send nothing.")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Send a [TEST] to ADDR only.")
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)
@click.option(
    "--edition",
    metavar="KEY",
    callback=_edition_option,
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
    from .commands import send
    from .sending.plan import SendOptions

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
    from .sending.settle import ACCEPT, RESEND, Settle

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
    from .commands import history

    history.run(options.app(), as_json=as_json)


@cli.command(name="doctor")
@click.pass_obj
@reports_errors
def doctor_command(options: Globals) -> None:
    """Check that everything is ready to send: one line a check, with the fix; exit 1 on a
    failure. Config, templates, source, list, API key and scopes, sender, ASM group,
    unsubscribe endpoint."""
    from .commands import doctor

    if not doctor.run(options.app, echo):
        sys.exit(1)


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
    from .commands import ledger

    ledger.backup(options.app(), file)


@cli.command(name="init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.pass_obj
@reports_errors
def init_command(options: Globals, directory: Path) -> None:
    """Create a newsletter folder in DIRECTORY from the bundled example."""
    from .commands import init

    init.run(directory, echo)


@cli.group(name="schedule", invoke_without_command=True)
@click.option("--once", is_flag=True, help="One tick: send if a run is due, then exit.")
@NOW_OPTION
@click.pass_context
@reports_errors
def schedule_group(ctx: click.Context, once: bool, now: str | None) -> None:
    """Run the weekly schedule (schedule.cron in schedule.timezone) until stopped; with
    --once, one tick of it, for cron, a systemd timer or CI.

    A due run within schedule.grace_minutes syncs the list (SendGrid), checks everything
    as `digest doctor` does and sends as `digest send --yes --edition KEY`; a run missed
    by more is reported once and sends nothing; a half-sent edition is resumed.
    """
    if ctx.invoked_subcommand is not None:
        if once or now:
            raise click.UsageError("--once and --now go with `schedule` alone, not before `next`")
        return
    if now and not once:
        raise click.UsageError("--now fixes the clock of one tick: use it with --once")
    from .commands import schedule

    options: Globals = ctx.obj
    if once:
        schedule.once(options.app(now))
    else:
        schedule.loop(options.app())


@schedule_group.command(name="next")
@click.option(
    "--count",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many run times to print (1 to 1000).",
)
@NOW_OPTION
@click.pass_obj
@reports_errors
def schedule_next(options: Globals, count: int, now: str | None) -> None:
    """Print the next run times, one a line, ISO 8601 with the zone's offset."""
    from .commands import schedule

    schedule.next_runs(options.app(now), count)


@cli.group(name="subscribers")
def subscribers_group() -> None:
    """Work with subscribers.csv."""


@subscribers_group.command(name="check")
@click.pass_obj
@reports_errors
def subscribers_check(options: Globals) -> None:
    """Validate subscribers.csv: each row a send would leave out, with its line; exit 1 if any."""
    from .commands import subscribers

    if subscribers.check(options.app()):
        sys.exit(1)


@cli.group(name="unsubscribe")
def unsubscribe_group() -> None:
    """The one-click unsubscribe endpoint."""


@unsubscribe_group.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.pass_obj
@reports_errors
def unsubscribe_serve(options: Globals, host: str, port: int) -> None:
    """Serve the one-click unsubscribe endpoint (RFC 8058) until stopped; put TLS in front."""
    from .commands import unsubscribe

    unsubscribe.serve(options.app(), host, port)


def main() -> None:
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's way, which otherwise rescans it again and again while a large send
    # allocates (measured: about a quarter of the CPU time of a 100k send).
    gc.freeze()
    cli(prog_name="digest")
