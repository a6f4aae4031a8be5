"""What several commands share: the run's context and the sources -> select -> render chain.

The stages of that chain are imported when first used, not with this module, which
``digest send`` imports before it starts reading subscribers in a child process:
the render stage alone takes 0.4 s to import (premailer brings requests and cssutils).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from rich.console import Console

from ..audience.csvfile import COLUMNS as SUBSCRIBER_COLUMNS
from ..audience.csvfile import merge_columns
from ..config import Newsletter, Settings
from ..deliver import Message
from ..errors import BatchFailed, ConfigError, NothingToSend, TemplateError
from ..files import replace_together
from ..ledger import Edition, Ledger, ledger_exists
from ..models import Digest, RenderedEmail, escape_unkeyed_html, is_field_name, new_token_key
from ..text import terminal_safe

ASM_PLACEHOLDER_URL = "https://sendgrid.example/unsubscribe-link-added-by-sendgrid"


def utc_now() -> datetime:
    return datetime.now(UTC)


class StopFlag(Protocol):
    """Set once a signal asks the run to stop: a threading.Event, or in a send worker the
    parent's StopPipe (commands/senders.py)."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass
class Context:
    """One invocation: settings, the fixed clock, the environment and where to print."""

    settings: Settings
    now: datetime
    env: Mapping[str, str]
    console: Console = field(default_factory=Console)
    errors: Console = field(default_factory=lambda: Console(stderr=True))
    clock: Callable[[], datetime] = utc_now
    stopping: StopFlag = field(default_factory=threading.Event)

    def sleep(self, seconds: float) -> None:
        """Wait before a retry, unless a signal asks the send to stop: then give the batch up."""
        if self.stopping.wait(seconds):
            raise BatchFailed(
                "stopped by a signal while waiting to retry: the batch was not sent",
                "run `digest send` again to resume",
            )

    def say(self, text: str) -> None:
        """A line of normal output (suppressed by --quiet through the console), terminal-safe:
        it may quote a reader's name or a feed's title."""
        _print(self.console, terminal_safe(text))

    def say_fields(self, fields: Sequence[str]) -> None:
        """A line of tab-separated fields for other programs, each terminal-safe (a tab or
        newline inside a field shows as ``\\t`` or ``\\n``, so the columns hold)."""
        if not self.console.quiet:
            self.console.file.write("\t".join(map(terminal_safe, fields)) + "\n")

    def warn(self, text: str) -> None:
        """A warning line on stderr, terminal-safe like ``say``."""
        _print(self.errors, f"warning: {terminal_safe(text)}")


def _print(console: Console, line: str) -> None:
    """The line as it is: no markup such as ``[bold]``, emoji codes or highlighting."""
    console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)


def edition_key(now: datetime, timezone: str) -> str:
    """An edition's key: the date, in the schedule's time zone, of the run that sends it.

    ``timezone`` is valid: loading the settings checked it.
    """
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


def sent_post_ids(ctx: Context) -> set[str]:
    """Posts of earlier editions; a folder that never sent has no ledger and none."""
    path = ctx.settings.state_dir / "state.db"
    if not ledger_exists(path):
        return set()
    with Ledger.open(path) as ledger:
        return ledger.sent_post_ids()


def unsubscribe_mode(settings: Settings) -> str:
    """'asm' when a SendGrid unsubscribe group handles opt-outs, else 'url' (self-hosted)."""
    return "asm" if settings.sendgrid.asm_group_id else "url"


def next_digest(ctx: Context, key: str, sent_ids: set[str]) -> Digest:
    """Read the source and select the edition's posts, or raise NothingToSend."""
    from ..select import select_posts
    from ..sources import load_posts

    settings = ctx.settings
    posts = load_posts(
        settings.source.type,
        settings.source.location,
        base_dir=settings.root,
        site_url=settings.newsletter.site_url,
        timeout=settings.source.timeout,
    )
    digest = select_posts(
        posts, sent_ids=sent_ids, now=ctx.now, settings=settings.selection, edition=key
    )
    if digest is None:
        raise NothingToSend(f"no new posts since the last edition: nothing to send for {key}")
    return digest


def render(ctx: Context, digest: Digest) -> RenderedEmail:
    """The edition rendered under a new random key for its tokens."""
    from ..render import render_email

    settings = ctx.settings
    email = render_email(
        digest,
        newsletter=settings.newsletter,
        tracking=settings.tracking,
        templates_dir=templates_dir(settings),
        unsubscribe_mode=unsubscribe_mode(settings),
        now=ctx.now,
        token_key=new_token_key(),
    )
    _check_subscriber_fields(settings, email)
    return email


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


def _check_subscriber_fields(settings: Settings, email: RenderedEmail) -> None:
    """Refuse an email whose templates use a subscriber field no reader has (a typo such
    as ``subscriber.compnay`` would otherwise be blank for everyone) or one whose name no
    token can carry (``subscriber['first name']`` would reach readers as it is)."""
    for name in email.subscriber_fields:
        if not is_field_name(name):
            raise TemplateError(
                f"the templates use subscriber[{name!r}], a name that cannot be filled in "
                "per reader (letters, digits, _ and - only)",
                "rename that column of the subscribers file, e.g. first_name, and the template",
            )
    path = settings.path(settings.subscribers.path)
    if not email.subscriber_fields or not path.is_file():
        return
    merged = merge_columns(path)
    for name in email.subscriber_fields:
        if name in ("name", "email", *merged):
            continue
        used, file = f"the templates use subscriber.{name}", settings.subscribers.path
        if name in SUBSCRIBER_COLUMNS:
            raise TemplateError(
                f"{used}, which is not filled in per reader: only name, email and the "
                f"columns of {file} beyond email, name, status, tags and subscribed_at are",
                "take it out of the template, or copy it into a column of your own",
            )
        same = [column for column in merged if column.lower() == name.lower()]
        hint = f"the column is {same[0]}: write subscriber.{same[0]}" if same else ""
        raise TemplateError(
            f"{used}, but {file} has no {name} column",
            hint or "fix the name in the template, or add that column to the subscribers file",
        )


def templates_dir(settings: Settings) -> Path:
    """The newsletter's templates folder, which may be missing only under its default name.

    A folder without overrides is legitimate (every template then comes from the
    package), but a folder the config names explicitly and that is missing or is a
    file is a mistake that would otherwise silently ignore the user's templates.
    """
    configured = settings.newsletter.templates
    path = settings.path(configured)
    if path.is_dir():
        return path
    if path.exists():
        raise ConfigError(
            f"newsletter.templates: {path} is a file, not a folder",
            "set newsletter.templates to the folder holding your templates",
        )
    if Path(configured) != Path(Newsletter.templates):
        raise ConfigError(
            f"newsletter.templates: {path} does not exist",
            "create it, or set newsletter.templates to the folder holding your templates",
        )
    return path


def message_for(settings: Settings, email: RenderedEmail, key: str, *, test: bool) -> Message:
    """The shared part of every recipient's message for this edition.

    A test is marked in the subject and in the edition it carries (``KEY-test``): the
    provider's statistics by edition, and the outbox's folder, keep it apart.
    """
    newsletter = settings.newsletter
    require_sender(settings)
    return Message(
        subject=f"[TEST] {email.subject}" if test else email.subject,
        html=email.html,
        text=email.text,
        from_email=newsletter.from_email,
        from_name=newsletter.name,
        reply_to=newsletter.reply_to,
        edition=f"{key}-test" if test else key,
        categories=tuple(settings.sendgrid.categories),
        asm_group_id=settings.sendgrid.asm_group_id,
        sandbox=settings.sendgrid.sandbox,
        token_key=email.token_key,
    )


def require_sender(settings: Settings) -> None:
    """Refuse to make any message without a From address."""
    if not settings.newsletter.from_email:
        raise ConfigError(
            "newsletter.from_email is not set", "set it in digest.toml to a verified sender"
        )


def describe_skipped(counts: Mapping[str, int]) -> str:
    """Readers left out, by reason: "3 duplicate, 1 invalid" ("" when none were)."""
    return ", ".join(f"{n} {why}" for why, n in sorted(counts.items()) if n)


def message_id_domain(settings: Settings) -> str:
    address = settings.newsletter.from_email
    return address.rpartition("@")[2] or "digest.invalid"


def write_atomically(
    files: Mapping[Path, bytes], *, hint: str = "choose a folder you can write to"
) -> None:
    """Write the files as one: each to a temporary name beside it, then all renamed into
    place in order, the earlier ones put back if a later rename fails (``replace_together``).

    A folder that cannot be made or written to is a ConfigError naming it, with ``hint``;
    so is a folder standing where a file goes, found before anything is written.
    """
    folder = Path()
    try:
        for target in files:
            folder = target.parent
            folder.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise ConfigError(f"cannot write {target}: a folder is in its place", hint)
    except OSError as exc:
        raise _cannot_write(folder, exc, hint) from None
    try:
        replace_together(files)
    except OSError as exc:
        # The file that failed names its folder (its temporary name is beside its target).
        where = Path(exc.filename).parent if exc.filename else folder
        raise _cannot_write(where, exc, hint) from None


def _cannot_write(folder: Path, error: OSError, hint: str) -> ConfigError:
    reason = "it is a file" if folder.is_file() else error.strerror or str(error)
    return ConfigError(f"cannot write to {folder}/: {reason}", hint)
