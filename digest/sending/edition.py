"""One edition's email: the sources -> select -> render chain, the one rebuild of a stored
edition's email, its shared Message, and the Personalizer its tokens need.

The stages of that chain are imported when first used, not with this module, which
``digest send`` imports before it starts reading subscribers in a child process:
the render stage alone takes 0.4 s to import (premailer brings requests and cssutils).
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..app import App
from ..audience.csvfile import COLUMNS as SUBSCRIBER_COLUMNS
from ..audience.csvfile import first_active, merge_columns
from ..audience.personalize import Personalizer, used_tokens
from ..audience.values import READER_FIELDS
from ..config import Settings, example_warning
from ..deliver import Message
from ..errors import ConfigError, NothingToSend, SendRefused, TemplateError
from ..ledger import Edition, Ledger, ledger_exists
from ..models import (
    Digest,
    Post,
    Recipient,
    RenderedEmail,
    Subscriber,
    escape_unkeyed_html,
    new_token_key,
    parse_token,
)

if TYPE_CHECKING:
    from ..select import Choice

# Where only SendGrid knows a reader's link (ASM mode), a build and a dry run show this one.
ASM_PLACEHOLDER_URL = "https://sendgrid.example/unsubscribe-link-added-by-sendgrid"
# What a build or a dry run shows for a value a send needs that is not set yet: marked,
# and going nowhere (.invalid names no host, RFC 2606).
UNSUBSCRIBE_PLACEHOLDER = (
    "https://unsubscribe-url-not-set.invalid/set-unsubscribe.url?token={token}"
)
SENDER_PLACEHOLDER = "from_email-not-set@digest.invalid"
# Who a build renders for when the list has no active reader.
SAMPLE_READER = Subscriber(email="reader@example.com", name="Reader")


@dataclass(frozen=True)
class Seen:
    """The posts earlier editions saw: their ids and, for a ledger from before seen posts
    were recorded, the time before which a post counts as seen (see ``ledger/seen.py``)."""

    ids: frozenset[str] = frozenset()
    before: datetime | None = None

    def among(self, posts: Sequence[Post]) -> set[str]:
        """The ids, among ``posts``, that count as seen."""
        before = self.before
        older = {
            post.id
            for post in posts
            if before is not None and post.published is not None and post.published < before
        }
        return {*self.ids, *older}


def seen_in(ledger: Ledger) -> Seen:
    """What the ledger says earlier editions saw (their sent posts among them)."""
    return Seen(frozenset(ledger.seen_post_ids() | ledger.sent_post_ids()), ledger.seen_before())


def seen_posts(app: App) -> Seen:
    """What earlier editions saw; a folder that never sent has no ledger and saw nothing."""
    path = app.paths.ledger
    if not ledger_exists(path):
        return Seen()
    with Ledger.open(path) as ledger:
        return seen_in(ledger)


def unsubscribe_mode(settings: Settings) -> str:
    """'asm' when a SendGrid unsubscribe group handles opt-outs, else 'url' (self-hosted)."""
    return "asm" if settings.sendgrid.asm_group_id else "url"


def load_source(app: App) -> list[Post]:
    """The posts the configured source shows now."""
    from ..sources import load_posts

    settings = app.settings
    return load_posts(
        settings.source.type,
        settings.source.location,
        base_dir=settings.root,
        site_url=settings.newsletter.site_url,
        timeout=settings.source.timeout,
    )


def choose(app: App, key: str, seen: Seen, posts: Sequence[Post] | None = None) -> Choice:
    """Select edition ``key``'s posts among those the source shows (``posts``, else read
    now) that earlier editions did not see."""
    from ..select import select_posts

    shown = load_source(app) if posts is None else posts
    return select_posts(
        shown,
        seen_ids=seen.among(shown),
        now=app.now,
        settings=app.settings.selection,
        edition=key,
    )


def next_digest(app: App, key: str, seen: Seen) -> tuple[Digest, Choice]:
    """Read the source and select the edition's posts, or raise NothingToSend."""
    choice = choose(app, key, seen)
    if choice.digest is None:
        passed = choice.describe_passed_over()
        raise NothingToSend(
            f"no new posts since the last edition: nothing to send for {key}"
            + (f" ({passed})" if passed else "")
        )
    return choice.digest, choice


def render(app: App, digest: Digest) -> RenderedEmail:
    """The edition rendered under a new random key for its tokens."""
    from ..render import render_email

    settings = app.settings
    email = render_email(
        digest,
        newsletter=settings.newsletter,
        tracking=settings.tracking,
        templates_dir=app.templates_dir,
        unsubscribe_mode=unsubscribe_mode(settings),
        now=app.now,
        token_key=new_token_key(),
        plain_in_html=_plain_in_html(settings),
    )
    _check_subscriber_fields(app, email)
    return email


def _plain_in_html(settings: Settings) -> tuple[str, ...]:
    """The fields whose every value reads the same HTML-escaped: the unsubscribe URL, when
    its template has nothing HTML escapes (its token is base64url). Each costs a
    substitution a reader less (a hundred bytes of a million-reader send's requests)."""
    template = settings.unsubscribe.url or UNSUBSCRIBE_PLACEHOLDER
    return ("unsubscribe_url",) if html.escape(template) == template else ()


def stored_email(edition: Edition) -> RenderedEmail:
    """The email of an edition whose send has started, as the ledger keeps it.

    An edition started before tokens had keys (``token_key`` "") is finished with
    its plain tokens, but those in its HTML are given HTML-escaped values.
    """
    html = edition.html if edition.token_key else escape_unkeyed_html(edition.html)
    return RenderedEmail(
        subject=edition.subject,
        preheader=edition.preheader,
        html=html,
        text=edition.text,
        token_key=edition.token_key,
    )


def edition_email(app: App, key: str) -> RenderedEmail:
    """The edition's email: as stored when its send has started, else freshly rendered."""
    path = app.paths.ledger
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            edition = ledger.edition(key)
        if edition is not None:
            return stored_email(edition)
    digest, _ = next_digest(app, key, seen_posts(app))
    return render(app, digest)


def _check_subscriber_fields(app: App, email: RenderedEmail) -> None:
    """Refuse an email whose templates use a subscriber field no reader has (a typo such
    as ``subscriber.compnay`` would otherwise be blank for everyone). (A name no token can
    carry, ``subscriber['first name']``, is refused as the templates render.)"""
    path = app.paths.subscribers
    if not email.subscriber_fields or not path.is_file():
        return
    merged = merge_columns(path)
    for name in email.subscriber_fields:
        if name in READER_FIELDS or name in merged:
            continue
        used, file = f"the templates use subscriber.{name}", app.settings.subscribers.path
        if name in SUBSCRIBER_COLUMNS:
            raise TemplateError(
                f"{used}, which is not filled in per reader: only name, first_name, email and the "
                f"columns of {file} beyond email, name, status, tags and subscribed_at are",
                "take it out of the template, or copy it into a column of your own",
            )
        same = [column for column in merged if column.lower() == name.lower()]
        hint = f"the column is {same[0]}: write subscriber.{same[0]}" if same else ""
        raise TemplateError(
            f"{used}, but {file} has no {name} column",
            hint or "fix the name in the template, or add that column to the subscribers file",
        )


def message_for(
    settings: Settings, email: RenderedEmail, key: str, *, test: bool, preview: bool = False
) -> Message:
    """The shared part of every recipient's message for this edition.

    A test is marked in the subject and in the edition it carries (``KEY-test``): the
    provider's statistics by edition, and the outbox's folder, keep it apart. A
    A ``preview`` (a build, a dry run) without a sender shows SENDER_PLACEHOLDER (and the
    caller warns of it); a send or a test send refuses.
    """
    newsletter = settings.newsletter
    if not preview:
        require_sender(settings)
    return Message(
        subject=f"[TEST] {email.subject}" if test else email.subject,
        html=email.html,
        text=email.text,
        from_email=newsletter.from_email or SENDER_PLACEHOLDER,
        from_name=newsletter.name,
        reply_to=newsletter.reply_to,
        edition=f"{key}-test" if test else key,
        categories=tuple(settings.sendgrid.categories),
        asm_group_id=settings.sendgrid.asm_group_id,
        sandbox=settings.sendgrid.sandbox,
        token_key=email.token_key,
    )


SENDER_HINT = "set it in digest.toml to a verified sender"


def require_sender(settings: Settings) -> None:
    """Refuse to make any message without a From address."""
    if not settings.newsletter.from_email:
        raise ConfigError("newsletter.from_email is not set", SENDER_HINT)


def setup_warnings(settings: Settings) -> list[str]:
    """What a build or a dry run says about a setup not finished: values still the
    example's, and each value a send needs that it shows a placeholder for (so that no
    one takes the placeholder for the real thing)."""
    found = [warning] if (warning := example_warning(settings)) else []
    if not settings.newsletter.from_email:
        found.append(
            f"newsletter.from_email is not set: the From line shows {SENDER_PLACEHOLDER}; "
            "set it to your sender (verified in SendGrid) before a send"
        )
    if not settings.newsletter.postal_address:
        found.append(
            "newsletter.postal_address is not set: the footer shows none (CAN-SPAM asks "
            "for a postal address in every commercial email)"
        )
    if unsubscribe_mode(settings) == "url" and not settings.unsubscribe.url:
        found.append(
            "unsubscribe.url is not set (nor sendgrid.asm_group_id): the unsubscribe link "
            "goes to a placeholder, https://unsubscribe-url-not-set.invalid/...; set one "
            "before a test send or a send (see README, SendGrid setup)"
        )
    return found


def refuse_unfilled_unsubscribe(settings: Settings, message: Message, backend: str) -> None:
    """Refuse a test whose unsubscribe link nothing would fill: a raw ``%%...%%`` token
    where no unsubscribe.url is set, or SendGrid's tag through a backend that is not
    SendGrid. (A template without the link needs neither.)"""
    key = message.token_key
    used = used_tokens(message.subject, message.html, message.text, key=key)
    if unsubscribe_mode(settings) == "url":
        fields = {parse_token(found, key)[0] for found in used}
        if not settings.unsubscribe.url and "unsubscribe_url" in fields:
            raise SendRefused(
                "unsubscribe.url is not set, so the test's unsubscribe link would be a raw "
                "%%...unsubscribe_url%% token",
                "set [unsubscribe] url or [sendgrid] asm_group_id (see README, SendGrid "
                "setup); `digest send --dry-run --to ADDR` rehearses without one",
            )
        return
    from ..render import ASM_TAGS

    if backend != "sendgrid" and any(tag in message.html for tag in ASM_TAGS.values()):
        raise SendRefused(
            f"sendgrid.asm_group_id works only with delivery.backend = sendgrid: through "
            f"{backend} the test's unsubscribe link would be SendGrid's tag, unfilled",
            "send the test through sendgrid, or set [unsubscribe] url instead of the group",
        )


def message_id_domain(settings: Settings) -> str:
    address = settings.newsletter.from_email
    return address.rpartition("@")[2] or "digest.invalid"


def personalizer(
    settings: Settings,
    tokens: Collection[str],
    token_key: str,
    *,
    secret: str = "",
    preview: bool = False,
) -> Personalizer:
    """Turns subscribers into recipients with the substitutions the email's tokens (of
    ``token_key``) need: the one Personalizer made from the settings.

    ``secret`` stands in for an unset DIGEST_UNSUBSCRIBE_SECRET where only sizes matter:
    a token sealed under any secret is as long as the send's, a preview token is not.
    A ``preview`` (a build, a dry run) links to UNSUBSCRIBE_PLACEHOLDER where no
    unsubscribe link is set, rather than leave its token raw.
    """
    template = settings.unsubscribe.url
    if preview and not template and unsubscribe_mode(settings) == "url":
        template = UNSUBSCRIBE_PLACEHOLDER
    return Personalizer(
        unsubscribe_url_template=template,
        unsubscribe_mailto=settings.unsubscribe.mailto,
        secret=settings.secrets.unsubscribe_secret or secret,
        used_tokens=tokens,
        token_key=token_key,
    )


def message_personalizer(
    settings: Settings, message: Message, *, preview: bool = False
) -> Personalizer:
    """The Personalizer for the tokens ``message`` carries (``preview``: see personalizer)."""
    key = message.token_key
    tokens = used_tokens(message.subject, message.html, message.text, key=key)
    return personalizer(settings, tokens, key, preview=preview)


def sample_recipient(
    app: App, email: RenderedEmail, subscriber: Subscriber | None = None
) -> Recipient:
    """The subscriber (by default the first active one) as a recipient for a look at the
    email: the unsubscribe link carries the marked preview token, never the reader's real
    one (a build's files get passed around), and placeholders stand where only SendGrid
    knows the link, or where no unsubscribe link is set yet."""
    if subscriber is None:
        path = app.paths.subscribers
        subscriber = (first_active(path) if path.exists() else None) or SAMPLE_READER
    tokens = used_tokens(email.subject, email.html, email.text, key=email.token_key)
    settings = replace(app.settings, secrets=replace(app.settings.secrets, unsubscribe_secret=""))
    recipient = personalizer(settings, tokens, email.token_key, preview=True)(subscriber)
    return with_asm_placeholders(recipient)


def with_asm_placeholders(recipient: Recipient) -> Recipient:
    """The recipient with ASM_PLACEHOLDER_URL where SendGrid's own tags would put its links:
    what a build or a dry run shows of an ASM send, in place of a tag nothing fills."""
    from ..render import ASM_TAGS

    placeholders = dict.fromkeys(ASM_TAGS.values(), ASM_PLACEHOLDER_URL)
    return Recipient(
        email=recipient.email,
        name=recipient.name,
        substitutions={**recipient.substitutions, **placeholders},
        headers=recipient.headers,
    )
