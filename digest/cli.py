"""The `digest` command line: options in, settings and a clock built, command functions called.

Errors become one line on stderr and exit 1 (a traceback only with -v); standing
down (nothing new, already sent, being sent elsewhere) is one line and exit 0;
usage errors exit 2 (click's own handling).

Each command imports its module when it runs, not here: the render stage takes
0.4 s to import, which `digest --help` should not pay, and `digest send` starts
reading subscribers.csv in a child process before it.
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
from rich.console import Console

from . import __version__
from .commands.common import Context, describe_skipped, message_id_domain, utc_now
from .config import find_config, load_settings
from .errors import DigestError, NothingToSend, StandDown
from .models import is_edition_key
from .text import terminal_safe

if TYPE_CHECKING:
    from .commands.send import SendOutcome

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass
class Globals:
    config: str | None
    verbose: bool
    quiet: bool

    def context(self, now: str | None = None) -> Context:
        env = dict(os.environ)
        settings = load_settings(find_config(self.config, env), env)
        fixed = _parse_now(now, settings.schedule.timezone) if now else None
        return Context(
            settings=settings,
            now=fixed or utc_now(),
            clock=(lambda: fixed) if fixed else utc_now,
            env=env,
            console=Console(quiet=self.quiet, highlight=False),
            errors=Console(stderr=True, highlight=False),
        )


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
    if key is not None and not is_edition_key(key):
        raise click.BadParameter("use letters, digits, '.', '_' and '-', e.g. 2026-03-09")
    return key


NOW_OPTION = click.option("--now", metavar="ISO8601", help="Fix the clock, e.g. 2026-03-09T09:00.")


@cli.command(name="build")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(path_type=Path))
@NOW_OPTION
@click.pass_obj
@reports_errors
def build_command(options: Globals, out_dir: Path, now: str | None) -> None:
    """Render the next edition into OUT: digest.html, digest.txt, digest.eml, manifest.json."""
    from .commands.build import build

    ctx = options.context(now)
    result = build(ctx, out_dir)
    for warning in result.warnings:
        ctx.warn(warning)
    digest = result.digest
    ctx.say(
        f"Built edition {digest.edition}: {result.email.subject!r}, "
        f"{len(digest.posts)} posts, {len(result.email.html.encode()) // 1024} KB of HTML, "
        f"as {result.reader.email} sees it -> {out_dir}/"
    )


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
    "--resend-uncertain", is_flag=True, help="Send again batches left in flight by a crash."
)
@click.option(
    "--accept-uncertain",
    is_flag=True,
    help="Record batches left in flight by a crash as delivered (the provider's log shows them).",
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
    resend_uncertain: bool,
    accept_uncertain: bool,
    now: str | None,
) -> None:
    """Send the next edition to every active subscriber."""
    from .commands.backends import make_backend
    from .commands.send import SendOptions, check_ready, send_edition

    if resend_uncertain and accept_uncertain:
        raise click.UsageError("--resend-uncertain and --accept-uncertain contradict each other")

    ctx = options.context(now)
    settings = ctx.settings
    if dry_run:
        from .commands.sample import dry_run_edition, dry_run_test
        from .deliver.outbox import OutboxBackend

        outbox = OutboxBackend(
            settings.path(settings.delivery.outbox),
            now=ctx.clock,
            message_id_domain=message_id_domain(settings),
        )
        if to:
            test = dry_run_test(ctx, to, outbox, edition)
            ctx.say(
                f"Dry run of a test of edition {test.key}: wrote {test.recipients} "
                f"message(s) to {test.where}/; nothing sent or recorded."
            )
            return
        done = dry_run_edition(ctx, outbox, edition)
        ctx.say(
            f"Dry run of edition {done.key}: wrote {done.recipients} messages to {done.where}/; "
            f"skipped {describe_skipped(done.skipped) or 'none'}."
        )
        return
    check_ready(ctx, settings.delivery.backend, to_list=not to)
    backend = make_backend(ctx, settings.delivery.backend)
    try:
        if to:
            from .commands.sample import send_test

            sample = send_test(ctx, to, backend, edition)
            ctx.say(f"Sent a test of edition {sample.key} to {sample.recipients} address(es).")
            return
        send_options = SendOptions(
            edition=edition,
            yes=yes,
            resend_uncertain=resend_uncertain,
            accept_uncertain=accept_uncertain,
            interactive=sys.stdin.isatty(),
        )
        outcome = send_edition(ctx, send_options, backend, confirm=confirm)
    finally:
        backend.close()
    _summarize(ctx, outcome)


def _summarize(ctx: Context, outcome: SendOutcome) -> None:
    ctx.say(
        f"Edition {outcome.key}: sent to {outcome.accepted}; "
        f"skipped {describe_skipped(outcome.skipped) or 'none'}; "
        f"failed {outcome.failed}; refused {outcome.rejected}; uncertain {outcome.uncertain}."
    )
    if outcome.complete:
        ctx.say(f"Edition {outcome.key} is complete.")
        return
    if outcome.stopped_by:
        raise DigestError(
            f"stopped by {outcome.stopped_by}: {outcome.pending} recipients not sent yet",
            f"run `digest send --edition {outcome.key}` to resume",
        )
    if outcome.stopped_on is not None:
        raise outcome.stopped_on
    listed = f" (listed in {outcome.uncertain_listing})" if outcome.uncertain_listing else ""
    raise DigestError(
        f"edition {outcome.key} is not complete: {outcome.pending} pending, "
        f"{outcome.uncertain} uncertain{listed}",
        f"see the warnings above, then run `digest send --edition {outcome.key}` again",
    )


@cli.command(name="history")
@click.pass_obj
@reports_errors
def history_command(options: Globals) -> None:
    """List the editions and tests sent, with their counts."""
    from .commands.history import show_history

    show_history(options.context())


@cli.command(name="init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.pass_obj
@reports_errors
def init_command(options: Globals, directory: Path) -> None:
    """Create a newsletter folder in DIRECTORY from the bundled example."""
    from .commands.init import init_folder

    for path in init_folder(directory):
        echo(f"created {path}")
    echo(f"Next: cd {directory} && digest build")


@cli.group(name="subscribers")
def subscribers_group() -> None:
    """Work with subscribers.csv."""


@subscribers_group.command(name="check")
@click.pass_obj
@reports_errors
def subscribers_check(options: Globals) -> None:
    """Validate subscribers.csv: each row a send would leave out, with its line; exit 1 if any."""
    from .commands.subscribers import check

    ctx = options.context()
    relative = ctx.settings.subscribers.path
    problems = check(ctx)
    for problem in problems:
        echo(f"{relative}:{problem.line}: {problem.email}: {problem.reason}", err=True)
    if problems:
        sys.exit(1)
    ctx.say(f"{relative}: no problems found.")


def main() -> None:
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's way, which otherwise rescans it again and again while a large send
    # allocates (measured: about a quarter of the CPU time of a 100k send).
    gc.freeze()
    cli(prog_name="digest")
