"""`digest subscribers ...`: the list itself. ``check``: every row of the list that a send
would leave out, and why, and how many rows are what; ``sync``: the readers who left,
marked in it (``sending.sync``); ``import_file``: a sign-up export merged into it
(``sending.signups``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..app import App
from ..sending.pipeline import ListChecking, unsubscribed_through_the_link
from ..sending.samples import email_tokens
from ..sending.signups import import_signups
from ..sending.sync import SHOWN, SyncReport, sync_list
from ..text import plural

# The order `check` counts rows in.
KINDS = ("active", "unsubscribed", "bounced", "complained", "invalid", "duplicate")


def check(app: App) -> int:
    """Report the list's problems in line order (each row sized for the email's tokens by
    the send's own test), then how many rows are what; how many problems there are. The
    list is read in children (``ListChecking``) while the email is rendered here."""
    path, relative = app.paths.subscribers, app.settings.subscribers.path
    with ListChecking(app, path, unsubscribed_through_the_link(app)) as checking:
        checking.give(email_tokens(app))
        found = checking.result()
    for problem in found.problems:
        app.report(f"{relative}:{problem.line}: {problem.email}: {problem.reason}")
    counts = ", ".join(f"{found.counts[kind]} {kind}" for kind in KINDS)
    said = plural(len(found.problems), "problem") if found.problems else "no problems found"
    app.say(f"{relative}: {said}; {counts}.")
    if found.unsynced:
        who = plural(found.unsynced, "reader")
        are = "is" if found.unsynced == 1 else "are"
        app.say(
            f"{who} who unsubscribed through the link {are} not marked so in it yet (sends"
            " leave them out already): `digest subscribers sync` does it."
        )
    return len(found.problems)


def sync(app: App, *, dry_run: bool) -> None:
    """Mark in the list the readers who left (``sending.sync``), and say what changed."""
    relative, backend = app.settings.subscribers.path, app.settings.delivery.backend
    if backend != "sendgrid":
        app.say(
            f"delivery.backend is {backend}: SendGrid's lists are not read, only the"
            " unsubscribes recorded through the link are written."
        )
    report = sync_list(app, dry_run=dry_run)
    if dry_run:
        for change in report.changes:
            app.say(
                f"{relative}:{change.line}: {change.email}: {change.before} -> {change.after}"
                f" ({change.source})"
            )
    for line in _sync_summary(relative, report, dry_run=dry_run):
        app.say(line)
    for source, count in sorted(report.unlisted.items()):
        shown = ", ".join(report.unlisted_shown[source]) + (" ..." if count > SHOWN else "")
        are = "is" if count == 1 else "are"
        addresses = plural(count, "address", "addresses")
        app.say(f"{addresses} in {source} {are} not in {relative}, so not added: {shown}")


def import_file(app: App, export: Path, *, dry_run: bool) -> None:
    """Merge the export into the list (``sending.signups``), naming what did not come in."""
    relative = app.settings.subscribers.path
    report = import_signups(app, export, dry_run=dry_run)
    for problem in report.problems:
        app.report(f"{export}:{problem.line}: {problem.email}: {problem.reason}")
    if report.ignored_columns:
        app.warn(
            f"{export}'s {_columns(report.ignored_columns)} not in {relative},"
            f" so their values are left out (add the column to {relative} to keep them)"
        )
    if dry_run:
        for reader, status in report.added:
            app.say(f"{relative}: would append {reader.email} ({status})")
    inactive = sum(1 for _, status in report.added if status != "active")
    said = f" ({inactive} of them not active, as marked)" if inactive else ""
    app.say(
        f"{relative}: {'would append' if dry_run else 'appended'}"
        f" {plural(len(report.added), 'new reader')} from {export}{said};"
        f" {report.known} already in it, left as they are;"
        f" {plural(len(report.problems), 'row')} not imported"
        + (" (named above)" if report.problems else "")
        + ("; dry run: nothing written." if dry_run else ".")
    )


def _sync_summary(relative: str, report: SyncReport, *, dry_run: bool) -> list[str]:
    """The rows changed (or to change): a line, then one a status with its sources and a
    few of its addresses."""
    if not report.changes:
        return [
            f"{relative}: nothing to change ({plural(report.already, 'row')} marked so already)."
        ]
    by_status: dict[str, list[str]] = {}
    sources: dict[str, dict[str, int]] = {}
    for change in report.changes:
        by_status.setdefault(change.after, []).append(change.email)
        counted = sources.setdefault(change.after, {})
        counted[change.source] = counted.get(change.source, 0) + 1
    verb = "would change" if dry_run else "changed"
    written = " (dry run: nothing written)" if dry_run else ""
    return [
        f"{relative}: {verb} {plural(len(report.changes), 'row')}{written}:",
        *(
            f"  {len(emails)} now {status}: {_counted(sources[status])} ({_few(emails)})"
            for status, emails in by_status.items()
        ),
    ]


def _columns(names: tuple[str, ...]) -> str:
    """ "column a is" or "columns a, b are": the ignored columns, as the sentence takes them."""
    listed = ", ".join(names)
    return f"column {listed} is" if len(names) == 1 else f"columns {listed} are"


def _counted(sources: Mapping[str, int]) -> str:
    return ", ".join(f"{count} from {source}" for source, count in sources.items())


def _few(emails: list[str]) -> str:
    return ", ".join(emails[:SHOWN]) + (" ..." if len(emails) > SHOWN else "")
