"""The settings of one newsletter folder: one dataclass a section, one field a key.

Each key is declared once, on its field: its type (the annotation), its default, and
an ``Option`` with what it is for and the rule it follows beyond its type (a check from
``checks.py``, or the choices it may take). The loader reads them from there, so a new
key is one field here with its rule, and its row in README's configuration reference.
A number without a rule of its own must not be negative. Secrets are fields of
``Secrets``, each naming the environment variable it comes from.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from ..cron import cron_problem
from . import checks
from .checks import Check

# The choices of the keys that name a way of working; the stages that do each refuse
# any other value they are given (by a caller other than the settings).
SOURCE_TYPES = ("feed", "markdown")
DELIVERY_BACKENDS = ("sendgrid", "smtp", "outbox")
SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Option:
    """What a key is for (``help``) and its rule beyond its type: a ``check``, or the
    ``choices`` it may take. A secret also names its environment ``variable``, and the
    ``file_key`` (``unsubscribe.secret``) where writing it in digest.toml is an error."""

    help: str
    check: Check | None = None
    choices: tuple[str, ...] = ()
    variable: str = ""
    file_key: str = ""


def key(
    default: Any, help: str, *, check: Check | None = None, choices: tuple[str, ...] = ()
) -> Any:
    """A key of digest.toml with its default and its ``Option``."""
    metadata = {"option": Option(help, check, choices)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def secret(variable: str, help: str, *, check: Check = checks.utf8_text, file_key: str = "") -> Any:
    """A secret, read from the environment ``variable`` only, and never shown in a repr."""
    option = Option(help, check, variable=variable, file_key=file_key)
    return field(default="", repr=False, metadata={"option": option})


def option(item: Field[Any]) -> Option:
    """The ``Option`` of a field declared with ``key`` or ``secret``."""
    found: Option = item.metadata["option"]
    return found


@dataclass(frozen=True)
class Newsletter:
    name: str = key(
        "My Newsletter",
        "shown in the header and as the From name (one line)",
        check=checks.header_text,
    )
    from_email: str = key(
        "",
        "the sender, a bare address (its display name is newsletter.name); required to send",
        check=checks.address,
    )
    reply_to: str = key("", "Reply-To address, a bare address", check=checks.address)
    site_url: str = key(
        "",
        "an http(s) URL; relative post links and images are made absolute against it",
        check=checks.http_url("https://example.com", optional=True),
    )
    postal_address: str = key("", "in the footer (CAN-SPAM asks for one)")
    subject: str = key("{{ featured.title }}", "a Jinja template for the subject")
    language: str = key("en", "the email's lang")
    reason: str = key(
        "You are receiving this because you subscribed to {{ newsletter.name }}.",
        "why the reader gets it (footer), a Jinja template",
    )
    view_online_url: str = key(
        "",
        "the 'view in browser' link, an http(s) URL; {edition} is replaced; hidden when empty",
        check=checks.http_url("https://example.com/newsletter/{edition}/", optional=True),
    )
    templates: str = key(
        "templates",
        "the templates folder; files missing there come from the package",
        check=checks.file_path,
    )


@dataclass(frozen=True)
class Source:
    type: str = key(
        "feed",
        "a feed (RSS, Atom, JSON Feed) or a folder of Markdown posts",
        choices=SOURCE_TYPES,
    )
    location: str = key("feed.xml", "a path or an http(s) URL", check=checks.source_location)
    timeout: float = key(
        10.0, "seconds a remote feed's whole download may take", check=checks.seconds
    )


@dataclass(frozen=True)
class Selection:
    max_posts: int = key(
        10, "posts in an edition, the featured one included", check=checks.between(1, None)
    )
    max_age_days: int = key(
        0,
        "leave out posts older than this; 0: no limit",
        check=checks.between(0, 36500, " (100 years; 0 means no limit)"),
    )
    featured_tag: str = key(
        "featured", "the newest post with this tag is featured; else the newest post"
    )


@dataclass(frozen=True)
class Subscribers:
    path: str = key(
        "subscribers.csv", "the subscriber list, a regular file", check=checks.file_path
    )


@dataclass(frozen=True)
class Delivery:
    backend: str = key("sendgrid", "how editions go out", choices=DELIVERY_BACKENDS)
    outbox: str = key(
        "outbox", "where the outbox backend and --dry-run write .eml files", check=checks.file_path
    )


@dataclass(frozen=True)
class SendGrid:
    host: str = key(
        "https://api.sendgrid.com",
        "the API base URL",
        check=checks.http_url("https://api.sendgrid.com"),
    )
    asm_group_id: int = key(0, "a SendGrid unsubscribe group; 0: none")
    # key() gives a list default its own default_factory.
    categories: list[str] = key(  # noqa: RUF009
        ["digest"], "categories on every message", check=checks.categories
    )
    sandbox: bool = key(False, "sandbox mode: SendGrid validates and delivers nothing")
    timeout: float = key(30.0, "seconds per request", check=checks.seconds)
    max_retries: int = key(
        5, "retries of a request after a 5xx or a refused connection", check=checks.between(0, 20)
    )
    concurrency: int = key(
        4,
        "requests in flight at once (above 1, from worker processes)",
        check=checks.between(1, 32),
    )


@dataclass(frozen=True)
class Smtp:
    host: str = key(
        "localhost", "the SMTP server's host name or IP address", check=checks.host_name
    )
    port: int = key(587, "the SMTP server's port", check=checks.between(1, 65535))
    security: str = key("starttls", "how the connection is secured", choices=SMTP_SECURITY)
    username: str = key("", "login name; the password comes from DIGEST_SMTP_PASSWORD")
    timeout: float = key(30.0, "seconds per SMTP operation", check=checks.seconds)


@dataclass(frozen=True)
class Unsubscribe:
    url: str = key(
        "",
        "the one-click (RFC 8058) endpoint's URL, {token} where the reader's token goes",
        check=checks.unsubscribe_url,
    )
    mailto: str = key(
        "", "an address for mailto: unsubscribes, added to List-Unsubscribe", check=checks.mailto
    )


@dataclass(frozen=True)
class Schedule:
    cron: str = key(
        "0 9 * * MON",
        "when the edition goes out: five cron fields in schedule.timezone's local time",
        check=cron_problem,
    )
    timezone: str = key(
        "America/Los_Angeles",
        "an IANA time zone; the edition key is the date in this zone",
        check=checks.zone_problem,
    )
    grace_minutes: int = key(
        60, "a run missed by more than this is skipped", check=checks.grace_problem
    )


@dataclass(frozen=True)
class Tracking:
    utm_source: str = key("newsletter", "added to links to your posts")
    utm_medium: str = key("email", "added to links to your posts")
    utm_campaign: str = key(
        "digest-{edition}", "added to links to your posts; {edition} is replaced"
    )


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment only; hidden from repr so they never reach a log."""

    sendgrid_api_key: str = secret(
        "SENDGRID_API_KEY",
        "the SendGrid backend's API key",
        check=checks.api_key,
        file_key="sendgrid.api_key",
    )
    unsubscribe_secret: str = secret(
        "DIGEST_UNSUBSCRIBE_SECRET",
        "the key of the unsubscribe tokens, the same for the sends and the endpoint",
        file_key="unsubscribe.secret",
    )
    unsubscribe_retired_secrets: str = secret(
        "DIGEST_UNSUBSCRIBE_RETIRED_SECRETS",
        "earlier unsubscribe secrets, separated by spaces, whose tokens still read",
        file_key="unsubscribe.retired_secrets",
    )
    smtp_password: str = secret(
        "DIGEST_SMTP_PASSWORD", "the SMTP login's password", file_key="smtp.password"
    )

    @property
    def unsubscribe_retired(self) -> tuple[str, ...]:
        """Earlier unsubscribe secrets whose tokens still read, separated by whitespace."""
        return tuple(self.unsubscribe_retired_secrets.split())


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about one newsletter folder."""

    root: Path = field(default_factory=Path.cwd)
    newsletter: Newsletter = field(default_factory=Newsletter)
    source: Source = field(default_factory=Source)
    selection: Selection = field(default_factory=Selection)
    subscribers: Subscribers = field(default_factory=Subscribers)
    delivery: Delivery = field(default_factory=Delivery)
    sendgrid: SendGrid = field(default_factory=SendGrid)
    smtp: Smtp = field(default_factory=Smtp)
    unsubscribe: Unsubscribe = field(default_factory=Unsubscribe)
    schedule: Schedule = field(default_factory=Schedule)
    tracking: Tracking = field(default_factory=Tracking)
    secrets: Secrets = field(default_factory=Secrets, repr=False)

    def path(self, relative: str) -> Path:
        """A path from the config, resolved against the newsletter folder."""
        return self.root / Path(relative).expanduser()  # ~user checked at load


# The sections of digest.toml, by name, in the order README lists them.
SECTIONS: dict[str, type] = {
    name: kind for name, kind in get_type_hints(Settings).items() if name not in ("root", "secrets")
}
