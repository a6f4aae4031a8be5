"""Is everything ready to send? `digest doctor`'s checks, which a scheduled run also makes
before it sends (and refuses to send on a failure, never on a warning).

Each check says one thing in one line: it passes, warns (the send goes ahead, but
something looks wrong) or fails (the send would refuse, or fail at SendGrid), with the
fix. In order: the ledger, the config, the source, the templates, the list, then
SendGrid's view of the API key, the sender and the unsubscribe group (``account.py``),
the unsubscribe link, and values still the example's (``config/example.py``). A check
that cannot run because an earlier one failed is left out rather than failed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..app import App
from ..audience.active import AudienceReport, active_audience, check_subscribers
from ..audience.personalize import check_other_tokens, used_tokens
from ..config.example import example_warning, is_example_domain
from ..errors import DigestError
from ..ledger import SENT, Ledger, ledger_exists
from ..models import Digest, Post, RenderedEmail
from ..text import plural
from .account import account_findings, probe_endpoint
from .edition import choose, load_source, personalizer, render, seen_posts
from .findings import FAIL, PASS, WARN, Finding
from .ready import (
    ONE_CLICK_NOT_ASSURED,
    one_click_not_assured,
    sandbox_problems,
    unsubscribe_problems,
)
from .samples import sample_digest

# Seals the sample unsubscribe links that size the list's rows when the secret is unset.
SIZING_SECRET = "doctor-sizing-only"


@dataclass
class _Found:
    """What the checks learn as they go, for the checks after them."""

    posts: list[Post] | None = None
    digest: Digest | None = None
    email: RenderedEmail | None = None


Check = Callable[[App, str, _Found], Iterator[Finding]]


# What a resume of a half-sent edition does not need: it sends the content and the
# audience the ledger froze when it started.
NOT_FOR_A_RESUME = ("source", "templates", "list")


def preflight(app: App, key: str, *, resuming: bool = False) -> list[Finding]:
    """Every check for sending edition ``key``, in order; for a resume (``resuming``),
    what fails in the source, templates or list is only a warning."""
    findings = _checks(app, key)
    if not resuming:
        return findings
    return [
        Finding(WARN, f.check, f"{f.said} (the resume sends the edition as it was frozen)")
        if f.status == FAIL and f.check in NOT_FOR_A_RESUME
        else f
        for f in findings
    ]


def _checks(app: App, key: str) -> list[Finding]:
    found = _Found()
    checks: tuple[Check, ...] = (
        _ledger,
        _config,
        _source,
        _templates,
        _subscribers,
        _account,
        _unsubscribe,
        _examples,
    )
    return [finding for check in checks for finding in check(app, key, found)]


def require_ready(app: App, key: str, *, resuming: bool = False) -> None:
    """The preflight of a scheduled send: each warning and failure said on its line, and
    an error, so that nothing is sent, when a check failed."""
    findings = preflight(app, key, resuming=resuming)
    for finding in findings:
        if finding.status != PASS:
            app.report(finding.line)
    failures = [finding for finding in findings if finding.status == FAIL]
    if failures:
        first = failures[0]
        raise DigestError(
            f"edition {key} not sent: {plural(len(failures), 'check')} failed, the first:"
            f" {first.check}: {first.said}",
            "fix it; `digest doctor` checks again, and a tick within the grace period sends",
        )


def _ledger(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """The ledger opens; no earlier edition is half-sent (a new one would not start)."""
    path = app.paths.ledger
    if not ledger_exists(path):
        yield Finding(PASS, "ledger", f"{path}: none yet (the first send makes it)")
        return
    try:
        with Ledger.open(path) as ledger:
            edition = ledger.edition(key)
            unfinished = [other for other in ledger.unfinished_editions() if other != key]
    except DigestError as error:
        yield Finding(FAIL, "ledger", str(error))
        return
    for other in unfinished:
        yield Finding(
            FAIL,
            "ledger",
            f"edition {other} is not finished, so no new edition starts; finish it with"
            f" `digest send --edition {other}`",
        )
    if edition is None:
        said = f"{path} opens; edition {key} has not started"
    elif edition.status == SENT:
        said = f"{path} opens; edition {key} was sent already"
    else:
        said = f"{path} opens; edition {key} is half-sent, and its send resumes"
    if not unfinished:
        yield Finding(PASS, "ledger", said)


def _config(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """The settings loaded (or this would not run); a sandbox delivers nothing."""
    settings = app.settings
    yield Finding(PASS, "config", "the settings load, every key checked")
    for problem in sandbox_problems(settings, settings.delivery.backend):
        yield Finding(FAIL, "config", str(problem))
    if settings.sendgrid.sandbox and settings.delivery.backend == "sendgrid":
        yield Finding(
            WARN,
            "config",
            "sendgrid.sandbox is true: a send is a rehearsal in SendGrid's sandbox, which"
            " delivers nothing; set it to false to send for real",
        )


def _source(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """The source answers and parses; how many of its posts are new."""
    location = app.settings.source.location
    try:
        found.posts = load_source(app)
        choice = choose(app, key, seen_posts(app), found.posts)
    except DigestError as error:
        yield Finding(FAIL, "source", str(error))
        return
    found.digest = choice.digest
    count = len(found.posts)
    if choice.digest is None:
        passed = choice.describe_passed_over()
        yield Finding(
            WARN,
            "source",
            f"{location}: {plural(count, 'post')}, none new since the last edition"
            + (f" ({passed})" if passed else "")
            + ": a send now would send nothing",
        )
        return
    new = len(choice.digest.posts)
    yield Finding(PASS, "source", f"{location}: {plural(count, 'post')}, {new} in the next edition")


def _templates(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """The templates load and render (the next edition, else a sample)."""
    digest = found.digest or sample_digest(app.now)
    try:
        email = render(app, digest)
        check_other_tokens(
            used_tokens(email.subject, email.html, email.text, key=email.token_key),
            email.token_key,
        )
    except DigestError as error:
        yield Finding(FAIL, "templates", str(error))
        return
    found.email = email
    what = "the next edition" if found.digest else "a sample edition"
    size = len(email.html.encode()) // 1024
    yield Finding(PASS, "templates", f"{what} renders: {email.subject!r}, {size} KB of HTML")
    for warning in email.warnings:
        yield Finding(WARN, "templates", warning)


def _subscribers(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """The list reads and has active readers; rows a send skips, and example addresses."""
    path, name = app.paths.subscribers, app.settings.subscribers.path
    try:
        active, examples, first = _count_active(path)
        problems = check_subscribers(path, misfit=_misfit(app, found.email))
    except (DigestError, OSError) as error:
        yield Finding(FAIL, "list", f"{name}: {getattr(error, 'strerror', None) or error}")
        return
    if not active:
        yield Finding(FAIL, "list", f"{name}: no active readers; add readers or fix the rows")
        return
    yield Finding(PASS, "list", f"{name}: {plural(active, 'active reader')}")
    if problems:
        yield Finding(
            WARN,
            "list",
            f"{name}: {plural(len(problems), 'row')} a send skips (first: line {problems[0].line},"
            f" {problems[0].reason}); `digest subscribers check` lists them",
        )
    if examples:
        yield Finding(
            WARN,
            "list",
            f"{name}: {plural(examples, 'active reader')} at example domains ({first}...): the"
            " example's list, which nobody reads; put your own readers in it",
        )


def _count_active(path: Path) -> tuple[int, int, str]:
    """How many active readers the list has, how many of them are at example domains, and
    the first of those: streamed, as the list may have a million rows."""
    active, examples, first = 0, 0, ""
    for reader in active_audience(path, AudienceReport()):
        active += 1
        if is_example_domain(reader.email.rpartition("@")[2]):
            examples += 1
            first = first or reader.email
    return active, examples, first


def _misfit(app: App, email: RenderedEmail | None) -> Callable[..., str]:
    """The send's own test of a row's size, for the email's tokens (none without one)."""
    if email is None:
        return lambda _subscriber: ""
    tokens = used_tokens(email.subject, email.html, email.text, key=email.token_key)
    return personalizer(app.settings, tokens, email.token_key, secret=SIZING_SECRET).misfit


def _unsubscribe(app: App, key: str, found: _Found) -> Iterator[Finding]:
    """A way to unsubscribe that the send accepts, and an endpoint that answers."""
    settings = app.settings
    problems = unsubscribe_problems(settings, settings.delivery.backend)
    for problem in problems:
        yield Finding(FAIL, "unsubscribe", str(problem))
    if one_click_not_assured(settings):
        yield Finding(WARN, "unsubscribe", ONE_CLICK_NOT_ASSURED)
    if settings.unsubscribe.url:
        yield probe_endpoint(settings.unsubscribe.url)
    elif not problems:
        yield Finding(PASS, "unsubscribe", f"SendGrid group {settings.sendgrid.asm_group_id}")


def _account(app: App, key: str, found: _Found) -> Iterator[Finding]:
    return account_findings(app)


def _examples(app: App, key: str, found: _Found) -> Iterator[Finding]:
    warning = example_warning(app.settings)
    if warning:
        yield Finding(WARN, "example values", warning)
