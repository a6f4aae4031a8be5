"""The next edition as it stands, for `digest build` and the preview: what an editor looks at.

Its key is today's edition's, or, once today's edition has started, the date of the next
scheduled run. Its posts are those a send would select (``choose``: only posts no earlier
edition saw); when nothing is new yet, the posts of the last edition lay it out instead,
so template work always has something to show, and the draft says so. It also lists the
posts the selection passed over, with the selection's own reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ..app import App
from ..audience.personalize import unsubscribe_url
from ..config import Selection, Settings
from ..errors import NothingToSend
from ..ledger import Ledger, ledger_exists
from ..models import Digest, Post, Recipient, RenderedEmail, Subscriber
from ..select import OVER_LIMIT, SAME_LINK, SEEN, TOO_OLD, Choice
from .edition import (
    ASM_PLACEHOLDER_URL,
    UNSUBSCRIBE_PLACEHOLDER,
    Seen,
    choose,
    load_source,
    sample_recipient,
    seen_in,
    setup_warnings,
    unsubscribe_mode,
)


@dataclass(frozen=True)
class PassedOver:
    """A post of the source that the edition leaves out, and why."""

    post: Post
    reason: str


@dataclass(frozen=True)
class Draft:
    """The next edition: its key and posts, the selection that made it (``choice``: what
    a send would take, and what it passes over), those passed over with why in words, and
    ``nothing_new``, which says (when not "") that nothing would be sent and whose posts
    lay the draft out."""

    key: str
    digest: Digest
    choice: Choice
    passed_over: tuple[PassedOver, ...] = ()
    nothing_new: str = ""


def draft(app: App) -> Draft:
    """The next edition as it stands, or NothingToSend when the source has no post at all.
    Its posts are those a send would select: the ones no earlier edition saw."""
    posts = load_source(app)
    seen, last = _ledger_view(app)
    key = next_key(app, started=last is not None and last[0] == app.edition_key())
    choice = choose(app, key, seen, posts)
    digest, said = choice.digest, ""
    if digest is None:
        digest = _layout(posts, key, last[1]) if last else None
        shown = f"edition {last[0]}'s posts" if digest and last else "the newest posts"
        digest = digest or choose(app, key, Seen(), posts).digest
        if digest is None:
            raise NothingToSend(f"the source has no posts: nothing to show for {key}")
        passed = choice.describe_passed_over()
        said = (
            f"nothing new yet for edition {key}{f' ({passed})' if passed else ''}: the layout"
            f" shows {shown}; nothing would be sent"
        )
    return Draft(key, digest, choice, passed_over(choice, digest, app.settings.selection), said)


def next_key(app: App, *, started: bool) -> str:
    """Today's edition's key; once that edition has started, the date of the next run."""
    today = app.edition_key()
    if not started:
        return today
    from ..schedule import Timetable

    schedule = app.settings.schedule
    timetable = Timetable.parse(schedule.cron, schedule.timezone, schedule.grace_minutes)
    run = timetable.next_run(app.now)
    if run is not None and run.date().isoformat() > today:
        return run.date().isoformat()
    return (date.fromisoformat(today) + timedelta(days=1)).isoformat()


def _ledger_view(app: App) -> tuple[Seen, tuple[str, tuple[str, ...]] | None]:
    """What earlier editions saw, and the last edition's key and post ids (or None)."""
    path = app.paths.ledger
    if not ledger_exists(path):
        return Seen(), None
    with Ledger.open(path) as ledger:
        seen = seen_in(ledger)
        key = ledger.latest_edition()
        edition = ledger.edition(key) if key else None
    return seen, (edition.key, edition.post_ids) if edition else None


def _layout(posts: Sequence[Post], key: str, ids: Sequence[str]) -> Digest | None:
    """A digest of the posts ``ids`` names, in that order, from those the source still has."""
    by_id = {post.id: post for post in posts}
    found = [by_id[post_id] for post_id in ids if post_id in by_id]
    if not found:
        return None
    return Digest(edition=key, featured=found[0], teasers=tuple(found[1:]))


def passed_over(choice: Choice, digest: Digest, selection: Selection) -> tuple[PassedOver, ...]:
    """The posts ``choice`` passed over, each with its reason in words; those ``digest``
    shows (the last edition's, when nothing is new) are not listed."""
    shown = {id(post) for post in digest.posts}
    return tuple(
        PassedOver(post, _reason(why, selection))
        for post, why in choice.passed
        if id(post) not in shown
    )


def _reason(why: str, selection: Selection) -> str:
    words = {
        SEEN: "seen in an earlier edition",
        TOO_OLD: f"older than selection.max_age_days ({selection.max_age_days} days)",
        SAME_LINK: "the same link as another post",
        OVER_LIMIT: f"past selection.max_posts ({selection.max_posts})",
    }
    return words[why]


@dataclass(frozen=True)
class Look:
    """The email as one reader sees it, and everything an editor should hear about it."""

    reader: Recipient
    email: RenderedEmail
    warnings: tuple[str, ...]
    unsubscribe_link: str = ""  # what its unsubscribe link opens: a preview or placeholder


def look(app: App, email: RenderedEmail, subscriber: Subscriber | None = None) -> Look:
    """``email`` as ``subscriber`` (by default the first active one) sees it, with the
    marked preview token in its unsubscribe link, and its warnings."""
    from ..render.review import review

    settings = app.settings
    reader = sample_recipient(app, email, subscriber)
    seen = email.personalized(reader.substitutions)
    if unsubscribe_mode(settings) == "asm":
        link = ASM_PLACEHOLDER_URL
    else:
        template = settings.unsubscribe.url or UNSUBSCRIBE_PLACEHOLDER
        link = unsubscribe_url(template, reader.email, secret="")
    warnings = [
        *email.warnings,
        *review(seen, unsubscribe_link=link),
        *secret_warnings(settings),
        *setup_warnings(settings),
    ]
    return Look(reader, seen, tuple(warnings), link)


def secret_warnings(settings: Settings) -> list[str]:
    """What an editor must hear about the unsubscribe secret before a send to the list."""
    if settings.sendgrid.asm_group_id or not settings.unsubscribe.url:
        return []
    if settings.secrets.unsubscribe_secret:
        return []
    return [
        "DIGEST_UNSUBSCRIBE_SECRET is not set: a send to the list refuses without it "
        "(a look at the email carries a marked preview token either way)"
    ]
