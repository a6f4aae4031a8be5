"""The next edition as it stands, for `digest build` and the preview: what an editor looks at.

Its key is today's edition's, or, once today's edition has started, the date of the next
scheduled run. Its posts are the selection's; when nothing is new yet, the posts of the
last edition lay it out instead, so template work always has something to show, and the
draft says so. It also lists the posts the selection passed over, and why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..app import App
from ..audience.personalize import unsubscribe_url
from ..config import Selection, Settings
from ..errors import NothingToSend
from ..ledger import Ledger, ledger_exists
from ..models import Digest, Post, Recipient, RenderedEmail, Subscriber
from .edition import ASM_PLACEHOLDER_URL, sample_recipient, unsubscribe_mode


@dataclass(frozen=True)
class PassedOver:
    """A post of the source that the edition leaves out, and why."""

    post: Post
    reason: str


@dataclass(frozen=True)
class Draft:
    """The next edition: its key and posts, those passed over, and ``nothing_new``, which
    says (when not "") that nothing would be sent and whose posts lay the draft out."""

    key: str
    digest: Digest
    passed_over: tuple[PassedOver, ...] = ()
    nothing_new: str = ""


def draft(app: App) -> Draft:
    """The next edition as it stands, or NothingToSend when the source has no post at all."""
    from ..select import select_posts
    from ..sources import load_posts

    settings = app.settings
    posts = load_posts(
        settings.source.type,
        settings.source.location,
        base_dir=settings.root,
        site_url=settings.newsletter.site_url,
        timeout=settings.source.timeout,
    )
    sent, last = _ledger_view(app)
    key = next_key(app, started=last is not None and last[0] == app.edition_key())

    def select(ids: Collection[str]) -> Digest | None:
        return select_posts(
            posts, sent_ids=ids, now=app.now, settings=settings.selection, edition=key
        )

    digest = select(sent)
    said = ""
    if digest is None:
        digest = _layout(posts, key, last[1]) if last else None
        shown = f"edition {last[0]}'s posts" if digest and last else "the newest posts"
        digest = digest or select(())
        if digest is None:
            raise NothingToSend(f"the source has no posts: nothing to show for {key}")
        said = f"nothing new yet for edition {key}: the layout shows {shown}; nothing would be sent"
    return Draft(key, digest, passed_over(posts, digest, sent, app.now, settings.selection), said)


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


def _ledger_view(app: App) -> tuple[set[str], tuple[str, tuple[str, ...]] | None]:
    """The ids of posts already sent, and the last edition's key and post ids (or None)."""
    path = app.paths.ledger
    if not ledger_exists(path):
        return set(), None
    with Ledger.open(path) as ledger:
        sent = ledger.sent_post_ids()
        key = ledger.latest_edition()
        edition = ledger.edition(key) if key else None
    return sent, (edition.key, edition.post_ids) if edition else None


def _layout(posts: Sequence[Post], key: str, ids: Sequence[str]) -> Digest | None:
    """A digest of the posts ``ids`` names, in that order, from those the source still has."""
    by_id = {post.id: post for post in posts}
    found = [by_id[post_id] for post_id in ids if post_id in by_id]
    if not found:
        return None
    return Digest(edition=key, featured=found[0], teasers=tuple(found[1:]))


def passed_over(
    posts: Sequence[Post],
    digest: Digest,
    sent: Collection[str],
    now: datetime,
    selection: Selection,
) -> tuple[PassedOver, ...]:
    """The source's posts that ``digest`` leaves out, each with the selection's reason."""
    # Issue 13 makes select say this itself (posts passed over as seen or too old): take
    # the reasons from its result once it does, instead of working them out again here.
    from ..select import canonical_url

    chosen = {id(post) for post in digest.posts}
    chosen_urls = {canonical_url(post.url) for post in digest.posts}
    sent_urls = {canonical_url(item) for item in sent if "://" in item}
    oldest = now - timedelta(days=selection.max_age_days) if selection.max_age_days else None
    kept: list[PassedOver] = []
    for post in posts:
        if id(post) in chosen:
            continue
        url = canonical_url(post.url) if post.url else ""
        if post.id in sent or url in sent_urls:
            reason = "in an earlier edition"
        elif oldest and post.published and post.published < oldest:
            reason = f"older than selection.max_age_days ({selection.max_age_days} days)"
        elif url in chosen_urls:
            reason = "the same link as a post in the edition"
        else:
            reason = f"past selection.max_posts ({selection.max_posts})"
        kept.append(PassedOver(post, reason))
    return tuple(kept)


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
        link = unsubscribe_url(settings.unsubscribe.url, reader.email, secret="")
    warnings = [*email.warnings, *review(seen, unsubscribe_link=link), *secret_warnings(settings)]
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
