"""Typed settings: defaults < digest.toml < DIGEST_<SECTION>_<KEY> environment < CLI.

Every key has a default documented in README's configuration reference. Unknown
keys and wrong types are collected and reported together, each naming its key.
Secrets come only from the environment and never appear in a repr.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from .errors import ConfigError
from .files import special_kind
from .schedule import cron_problem, grace_problem, zone_problem
from .urls import is_url

CONFIG_FILE = "digest.toml"
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Newsletter:
    name: str = "My Newsletter"
    from_email: str = ""
    reply_to: str = ""
    site_url: str = ""
    postal_address: str = ""
    subject: str = "{{ featured.title }}"
    language: str = "en"
    reason: str = "You are receiving this because you subscribed to {{ newsletter.name }}."
    view_online_url: str = ""
    templates: str = "templates"


@dataclass(frozen=True)
class Source:
    type: str = "feed"
    location: str = "feed.xml"
    timeout: float = 10.0


@dataclass(frozen=True)
class Selection:
    max_posts: int = 10
    max_age_days: int = 0
    featured_tag: str = "featured"


@dataclass(frozen=True)
class Subscribers:
    path: str = "subscribers.csv"


@dataclass(frozen=True)
class Delivery:
    backend: str = "sendgrid"
    outbox: str = "outbox"


@dataclass(frozen=True)
class SendGrid:
    host: str = "https://api.sendgrid.com"
    asm_group_id: int = 0
    categories: list[str] = field(default_factory=lambda: ["digest"])
    sandbox: bool = False
    timeout: float = 30.0
    max_retries: int = 5
    concurrency: int = 4


@dataclass(frozen=True)
class Smtp:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    timeout: float = 30.0


@dataclass(frozen=True)
class Unsubscribe:
    url: str = ""
    mailto: str = ""


@dataclass(frozen=True)
class Schedule:
    cron: str = "0 9 * * MON"
    timezone: str = "America/Los_Angeles"
    grace_minutes: int = 60


@dataclass(frozen=True)
class Tracking:
    utm_source: str = "newsletter"
    utm_medium: str = "email"
    utm_campaign: str = "digest-{edition}"


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment only; hidden from repr so they never reach a log."""

    sendgrid_api_key: str = field(default="", repr=False)
    unsubscribe_secret: str = field(default="", repr=False)
    unsubscribe_retired_secrets: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)

    @property
    def unsubscribe_retired(self) -> tuple[str, ...]:
        """Earlier unsubscribe secrets whose tokens still read, separated by whitespace."""
        return tuple(self.unsubscribe_retired_secrets.split())


SECRET_VARIABLES = {
    "sendgrid_api_key": "SENDGRID_API_KEY",
    "unsubscribe_secret": "DIGEST_UNSUBSCRIBE_SECRET",
    "unsubscribe_retired_secrets": "DIGEST_UNSUBSCRIBE_RETIRED_SECRETS",
    "smtp_password": "DIGEST_SMTP_PASSWORD",
}
# The [unsubscribe] keys that hold secrets: in the file they are an error naming the variable.
FILE_SECRETS = {"secret": "unsubscribe_secret", "retired_secrets": "unsubscribe_retired_secrets"}

CHOICES = {
    ("source", "type"): ("feed", "markdown"),
    ("delivery", "backend"): ("sendgrid", "smtp", "outbox"),
    ("smtp", "security"): ("starttls", "ssl", "none"),
}


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

    @property
    def state_dir(self) -> Path:
        return self.root / ".digest"


SECTIONS: dict[str, type] = {
    name: kind for name, kind in get_type_hints(Settings).items() if name not in ("root", "secrets")
}


def find_config(cli_path: str | None, env: Mapping[str, str]) -> Path:
    """The config file to read: --config, else DIGEST_CONFIG, else ./digest.toml."""
    chosen = cli_path or _env(env, "DIGEST_CONFIG") or CONFIG_FILE
    return Path(chosen)


def load_settings(path: Path, env: Mapping[str, str]) -> Settings:
    """Read the config file and the environment into Settings, or raise one ConfigError."""
    table = _read_toml(path)
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name, value in table.items():
        if name not in SECTIONS:
            problems.append(f"unknown section [{name}]")
        elif not isinstance(value, dict):
            problems.append(f"[{name}] must be a table")
    for name in SECTIONS:
        raw = table.get(name, {})
        raw = raw if isinstance(raw, dict) else {}
        sections[name] = _build_section(name, raw, env, problems)
    problems.extend(_unknown_variables(env))
    secrets = Secrets(**{attr: _env(env, var) for attr, var in SECRET_VARIABLES.items()})
    problems.extend(_secret_problems(secrets))
    if problems:
        shown = "; ".join(problems)
        raise ConfigError(f"{path}: {shown}")
    return Settings(root=path.absolute().parent, secrets=secrets, **sections)


def _secret_problems(secrets: Secrets) -> list[str]:
    """Secrets that could never work, named but never shown: an API key goes into an HTTP
    header (printable ASCII, no spaces), a secret or password must be UTF-8 text."""
    problems = []
    key = secrets.sendgrid_api_key
    if key and not (key.isascii() and key.isprintable() and " " not in key):
        problems.append(
            "SENDGRID_API_KEY has characters no API key has (a space, a line break?): "
            "set it to the key alone"
        )
    for attr in ("unsubscribe_secret", "unsubscribe_retired_secrets", "smtp_password"):
        if not _is_text(getattr(secrets, attr)):
            problems.append(f"{SECRET_VARIABLES[attr]} is not valid UTF-8 text")
    return problems


def _is_text(value: str) -> bool:
    """Whether ``value`` is real text: an environment variable that is not UTF-8 reaches
    Python with its bad bytes as lone surrogates, which nothing can encode or print."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    """DIGEST_<SECTION>_<KEY> variables that name no key: a typo would be silently ignored."""
    known = {
        f"DIGEST_{name}_{key}".upper()
        for name in SECTIONS
        for key in get_type_hints(SECTIONS[name])
    }
    known.update(SECRET_VARIABLES.values())
    prefixes = tuple(f"DIGEST_{name.upper()}_" for name in SECTIONS)
    return [
        f"unknown setting {variable} (see README's configuration reference)"
        for variable in sorted(env)
        if variable.startswith(prefixes) and variable not in known and _env(env, variable)
    ]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        kind = special_kind(path)
        too_large = not kind and path.stat().st_size > MAX_CONFIG_BYTES
        # Windows editors may start with a BOM.
        text = "" if kind or too_large else path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file",
            "run `digest init DIR` to create a newsletter folder, or pass --config",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc})", "check the file"
        ) from None
    if kind or too_large:
        what = f"is {kind}" if kind else f"is larger than {MAX_CONFIG_BYTES // 1024} KB"
        raise ConfigError(
            f"{path}: {what}, not a config file",
            "point --config (or DIGEST_CONFIG) at the newsletter's digest.toml",
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the syntax at that line") from None


def _build_section(
    name: str, raw: dict[str, Any], env: Mapping[str, str], problems: list[str]
) -> Any:
    cls = SECTIONS[name]
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if name == "unsubscribe" and key in FILE_SECRETS:
            problems.append(
                f"[unsubscribe] {key} must not be in the file: "
                f"set {SECRET_VARIABLES[FILE_SECRETS[key]]} in the environment instead"
            )
        elif key not in hints:
            problems.append(f"unknown key {name}.{key}")
        else:
            _take(values, name, key, hints[key], value, f"{name}.{key}", problems)
    for key, kind in hints.items():
        variable = f"DIGEST_{name}_{key}".upper()
        text = _env(env, variable)
        if not _is_text(text):
            problems.append(f"{variable} is not valid UTF-8 text")
        elif text:
            _take(values, name, key, kind, _from_env_text(text, kind), variable, problems)
    return cls(**values)


def _take(
    values: dict[str, Any],
    section: str,
    key: str,
    kind: Any,
    value: Any,
    label: str,
    problems: list[str],
) -> None:
    try:
        converted = _convert(value, kind)
    except (TypeError, ValueError):
        problems.append(f"{label} must be {_describe(kind)}, not {value!r}")
        return
    allowed = CHOICES.get((section, key))
    if allowed and converted not in allowed:
        problems.append(f"{label} must be one of {', '.join(allowed)}, not {converted!r}")
        return
    check = CHECKS.get((section, key), _not_negative if kind in (int, float) else None)
    problem = check(label, converted) if check else ""
    if problem:
        problems.append(problem)
        return
    values[key] = converted


def _convert(value: Any, kind: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        if not math.isfinite(value):
            raise ValueError
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TypeError


def _from_env_text(text: str, kind: Any) -> Any:
    """Environment values are text; read them as the key's type so _convert can check them."""
    if kind is bool:
        lowered = text.strip().lower()
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            lowered, text
        )
    if kind in (int, float):
        try:
            number = kind(text.strip())
        except ValueError:
            return text
        return number if kind is int or math.isfinite(number) else text
    if kind is str:
        return text
    return [item.strip() for item in text.split(",") if item.strip()]


def _describe(kind: Any) -> str:
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a finite number",
        str: "a string",
    }
    return names.get(kind, "a list of strings")


def _env(env: Mapping[str, str], name: str) -> str:
    """An environment variable set to the empty string counts as unset."""
    return env.get(name, "") or ""


# A check of one converted value: the problem, naming ``label``, or "" when the value is fine.
Check = Callable[[str, Any], str]


def _not_negative(label: str, value: float) -> str:
    return f"{label} must not be negative, not {value!r}" if value < 0 else ""


MAX_TIMEOUT = 3600.0


def _seconds(label: str, value: float) -> str:
    """A network timeout: 0 would fail every wait, and an hour is already longer than useful."""
    if 0 < value <= MAX_TIMEOUT:
        return ""
    return f"{label} must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {value!r}"


def _between(low: int, high: int | None, note: str = "") -> Check:
    """Whole numbers from ``low`` to ``high`` (no upper bound when None)."""

    def check(label: str, value: int) -> str:
        if value < low:
            return f"{label} must be at least {low}, not {value!r}"
        if high is not None and value > high:
            return f"{label} must be at most {high}{note}, not {value!r}"
        return ""

    return check


def _http_url(example: str, *, optional: bool = False) -> Check:
    """An absolute http(s) URL with a host; the empty string too when ``optional``."""

    def check(label: str, value: str) -> str:
        if optional and not value:
            return ""
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises ValueError for a port that is not one)
            valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if valid and value.isprintable() and not any(char.isspace() for char in value):
            return ""
        return f"{label} must be an http(s) URL such as {example}, not {value!r}"

    return check


def _unsubscribe_url(label: str, value: str) -> str:
    """Empty, or an http(s) URL in plain ASCII: it goes into the List-Unsubscribe header,
    where anything else would be encoded out of recognition (and one-click lost).

    It must not carry ``{email}``: the token alone names the reader, and an address in
    a URL ends up in web logs and Referer headers (and costs a spam-filter point).
    """
    if not value:
        return ""
    if not value.isascii():
        return (
            f"{label} must be plain ASCII (percent-encode the path, write the host in its "
            f"xn-- form), not {value!r}"
        )
    if "{email}" in value:
        return (
            f"{label} must not carry {{email}}: the token alone names the reader, and an "
            f"address in a URL ends up in web logs; write it as "
            f"https://example.com/unsubscribe?token={{token}}, not {value!r}"
        )
    return _http_url("https://example.com/unsubscribe?token={token}")(label, value)


def _header_text(label: str, value: str) -> str:
    """Text for a header such as From: printable, on one line."""
    if value.isprintable():
        return ""
    return f"{label} must be printable text on one line, not {value!r}"


def _address(label: str, value: str) -> str:
    """Empty, or shaped as a bare address (the sender's display name is newsletter.name).

    Only the shape: a send validates the address fully, while build and the dry run
    may well use a test domain such as localhost that no real send would take.
    """
    if not value or _bare_address(value):
        return ""
    return (
        f"{label} must be a bare address such as news@example.com (the display name "
        f"comes from newsletter.name), not {value!r}"
    )


def _bare_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return (
        bool(at and local and domain)
        and value.isprintable()
        and not any(char.isspace() or char in '<>(),;:"[]\\' for char in value)
    )


def _mailto(label: str, value: str) -> str:
    """Empty, or an ASCII address (``mailto:`` and a ``?subject=`` query allowed) for the
    List-Unsubscribe header, where anything else would be encoded out of recognition."""
    address, _, query = value.strip().removeprefix("mailto:").partition("?")
    if not value or (
        value.isascii()
        and _bare_address(address)
        and query.isprintable()
        and not any(char.isspace() or char in "<>" for char in query)
    ):
        return ""
    return (
        f"{label} must be a plain ASCII address such as unsubscribe@example.com "
        f"(optionally with ?subject=...), not {value!r}"
    )


def _host_name(label: str, value: str) -> str:
    """A host name or IP address the network can look up."""
    try:
        valid = bool(value) and value.isprintable() and " " not in value
        value.encode("idna")
    except UnicodeError:
        valid = False
    if valid:
        return ""
    return f"{label} must be the server's host name, such as smtp.example.com, not {value!r}"


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _source_location(label: str, value: str) -> str:
    """A file path, or an http(s) URL: anything else with a scheme (ftp://, file://) would
    otherwise be taken for a relative path that does not exist."""
    url = value.strip()
    if is_url(url):
        return _http_url("https://example.com/feed.xml")(label, url)
    if _URL_SCHEME.match(url):
        return f"{label} must be a file path or an http(s) URL, not {value!r}"
    return _file_path(label, value)


def _file_path(label: str, value: str) -> str:
    """A path the file system can take (a NUL byte ends a path in C) and whose ``~user``, if
    it starts with one, exists."""
    if "\0" in value:
        return f"{label} must not contain a NUL character, not {value!r}"
    if value.startswith("~"):
        try:
            Path(value).expanduser()
        except RuntimeError:
            return f"{label}: {value!r} starts with ~ but names no user's home folder"
    return ""


MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255


def _categories(label: str, value: list[str]) -> str:
    """SendGrid's documented limits, checked here so that no send starts with a doomed request."""
    if len(value) > MAX_CATEGORIES:
        return f"{label} must have at most {MAX_CATEGORIES} categories, not {len(value)}"
    if any(not 1 <= len(name) <= MAX_CATEGORY_CHARS for name in value):
        return f"{label}: each category must be 1 to {MAX_CATEGORY_CHARS} characters long"
    repeated = sorted({name for name in value if value.count(name) > 1})
    if repeated:
        return f"{label} names {', '.join(map(repr, repeated))} more than once"
    return ""


# Keys with a rule beyond their type; any other number must only not be negative.
CHECKS: dict[tuple[str, str], Check] = {
    ("newsletter", "site_url"): _http_url("https://example.com", optional=True),
    ("newsletter", "view_online_url"): _http_url(
        "https://example.com/newsletter/{edition}/", optional=True
    ),
    ("newsletter", "name"): _header_text,
    ("newsletter", "from_email"): _address,
    ("newsletter", "reply_to"): _address,
    ("unsubscribe", "mailto"): _mailto,
    ("unsubscribe", "url"): _unsubscribe_url,
    ("newsletter", "templates"): _file_path,
    ("subscribers", "path"): _file_path,
    ("delivery", "outbox"): _file_path,
    ("source", "location"): _source_location,
    ("source", "timeout"): _seconds,
    ("selection", "max_posts"): _between(1, None),
    ("selection", "max_age_days"): _between(0, 36500, " (100 years; 0 means no limit)"),
    ("sendgrid", "host"): _http_url("https://api.sendgrid.com"),
    ("sendgrid", "categories"): _categories,
    ("sendgrid", "timeout"): _seconds,
    ("sendgrid", "max_retries"): _between(0, 20),
    ("sendgrid", "concurrency"): _between(1, 32),
    ("smtp", "host"): _host_name,
    ("smtp", "port"): _between(1, 65535),
    ("smtp", "timeout"): _seconds,
    ("schedule", "cron"): cron_problem,
    ("schedule", "timezone"): zone_problem,
    ("schedule", "grace_minutes"): grace_problem,
}
