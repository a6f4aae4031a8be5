"""The command line's frame: the ``cli`` group, the global options (taken before or after
the command), the run's App built from them, and errors turned into exit codes.

Errors become one line on stderr and exit 1 (a traceback only with -v); standing
down (nothing new, already sent, being sent elsewhere) is one line and exit 0;
usage errors exit 2 (click's own handling).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from .. import DISTRIBUTION
from ..app import App
from ..config import find_config, load_settings
from ..errors import DigestError, NothingToSend, StandDown
from ..models import date_key_problem, is_edition_key, looks_like_date
from ..text import terminal_safe

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass
class Globals:
    """The global options, wherever on the line they were given."""

    config: str | None = None
    verbose: bool = False
    quiet: bool = False

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
            first, *more = error.lines()
            echo(f"error: {first}", err=True)
            for line in more:
                echo(line, err=True)
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


def _set_global(ctx: click.Context, param: click.Parameter, value: str | bool | None) -> None:
    """Keep a global option given before the command or after it; a later one wins, and
    one not given at this place leaves the other's value alone."""
    if value is not None and value is not False and param.name:
        setattr(ctx.ensure_object(Globals), param.name, value)


def _global_options() -> list[click.Parameter]:
    """--config, -v and -q, made anew for each command that takes them."""
    taken = {"expose_value": False, "callback": _set_global}
    return [
        click.Option(
            ["--config"],
            metavar="PATH",
            help="digest.toml to use (default ./digest.toml, env DIGEST_CONFIG).",
            **taken,
        ),
        click.Option(
            ["-v", "--verbose"], is_flag=True, help="Show tracebacks and more detail.", **taken
        ),
        click.Option(
            ["-q", "--quiet"], is_flag=True, help="Print only warnings and errors.", **taken
        ),
    ]


class DigestCommand(click.Command):
    """A command that takes the global options after its name too: `digest build --config x`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options())


class DigestGroup(click.Group):
    """A group whose commands and subgroups all take the global options, before or after
    their names (``digest subscribers check -q``); click suggests a misspelled command."""

    command_class = DigestCommand
    group_class = type  # subgroups are DigestGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options())


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build an email digest of a blog's recent posts and send it through SendGrid."""
    ctx.ensure_object(Globals)
    logging.lastResort = _SafeLastResort(logging.WARNING)


def edition_option(_ctx: click.Context, _param: click.Parameter, key: str | None) -> str | None:
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
