"""The commands about the newsletter folder: init, subscribers, unsubscribe, preview, archive."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..config import find_config, load_settings
from ..config.generate import QUESTIONS, Question
from ..text import terminal_safe
from .frame import NOW_OPTION, Command, Globals, cli, echo, reports_errors


def _init_values(command: Command) -> Command:
    """An option for each value `digest init` asks for (config/generate.py's QUESTIONS)."""
    for question in reversed(QUESTIONS):
        command = click.option(question.flag, metavar="TEXT", help=f"{question.text}.")(command)
    return command


def _ask(question: Question) -> str:
    """Ask on the terminal; blank keeps the default shown, or leaves the value unset."""
    answer: str = click.prompt(
        terminal_safe(question.text), default=question.default, show_default=bool(question.default)
    )
    return answer


@cli.command(name="init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--example", is_flag=True, help="Copy the bundled example newsletter instead.")
@_init_values
@click.pass_obj
@reports_errors
def init_command(options: Globals, directory: Path, example: bool, **given: str | None) -> None:
    """Create a newsletter folder in DIRECTORY with your newsletter's values: asked for on
    a terminal, given as options, or left to set in its digest.toml."""
    from ..commands import init

    values = {q.key: v for q in QUESTIONS if (v := given[q.flag[2:].replace("-", "_")]) is not None}
    if example and values:
        raise click.UsageError("--example copies the example as it is: give no values with it")
    say = (lambda _line: None) if options.quiet else echo
    if example:
        init.example(directory, say)
    else:
        init.run(directory, values, _ask if sys.stdin.isatty() else None, say)


@cli.group(name="subscribers")
def subscribers_group() -> None:
    """Work with subscribers.csv."""


@subscribers_group.command(name="check")
@click.pass_obj
@reports_errors
def subscribers_check(options: Globals) -> None:
    """Validate subscribers.csv: each row a send would leave out, with its line; exit 1 if any."""
    from ..commands import subscribers

    if subscribers.check(options.app()):
        sys.exit(1)


@subscribers_group.command(name="sync")
@click.option("--dry-run", is_flag=True, help="Show the changes; write nothing.")
@click.pass_obj
@reports_errors
def subscribers_sync(options: Globals, dry_run: bool) -> None:
    """Mark in subscribers.csv who left: the unsubscribes recorded through the link and
    SendGrid's unsubscribes, bounces, invalid emails and spam reports (and the ASM group's).

    Run it before each send. Rows only ever move up active -> bounced -> unsubscribed ->
    complained; addresses the list lacks are reported, never added.
    """
    from ..commands import subscribers

    subscribers.sync(options.app(), dry_run=dry_run)


@subscribers_group.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the readers it would add; write nothing.")
@click.pass_obj
@reports_errors
def subscribers_import(options: Globals, file: Path, dry_run: bool) -> None:
    """Merge a sign-up export (a CSV with an email column) into subscribers.csv.

    New addresses are appended as active (or as the export marks them), with the columns
    subscribers.csv has; known addresses are left exactly as they are, so nobody who
    unsubscribed, bounced or complained is reactivated. Rows that cannot come in are
    named with their line.
    """
    from ..commands import subscribers

    subscribers.import_file(options.app(), file, dry_run=dry_run)


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
    from ..commands import unsubscribe

    unsubscribe.serve(options.app(), host, port)


@cli.command(name="preview")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on."
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@NOW_OPTION
@click.pass_obj
@reports_errors
def preview_command(
    options: Globals, host: str, port: int, open_browser: bool, now: str | None
) -> None:
    """Serve the editor's page for the next edition; it follows every edit as you save."""
    from ..commands import preview

    app = options.app(now)
    env = dict(os.environ)
    config = find_config(options.config, env)
    preview.run(
        app,
        host,
        port,
        config=config,
        reload=lambda: load_settings(config, env),
        open_browser=open_browser,
    )


@cli.command(name="archive")
@click.option(
    "--out", "out_dir", default="archive", show_default=True, type=click.Path(path_type=Path)
)
@click.pass_obj
@reports_errors
def archive_command(options: Globals, out_dir: Path) -> None:
    """Write the web edition into OUT: a page per sent edition, an index, an Atom feed."""
    from ..commands import archive

    archive.run(options.app(), out_dir)
