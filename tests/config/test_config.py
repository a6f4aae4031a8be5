"""Configuration: defaults, the file, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import Settings, find_config, load_settings
from digest.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_empty_file_gives_the_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), {})
    assert settings.selection.max_posts == 10
    assert settings.selection.max_age_days == 0
    assert settings.selection.featured_tag == "featured"
    assert settings.sendgrid.host == "https://api.sendgrid.com"
    assert settings.sendgrid.categories == ["digest"]
    assert settings.delivery.backend == "sendgrid"
    assert settings.schedule.cron == "0 9 * * MON"
    assert settings.root == tmp_path


def test_file_values_are_read_with_their_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[newsletter]\nname = "Weekly"\n[selection]\nmax_posts = 4\n'
        '[sendgrid]\nsandbox = true\ncategories = ["a", "b"]\n',
    )
    settings = load_settings(path, {})
    assert settings.newsletter.name == "Weekly"
    assert settings.selection.max_posts == 4
    assert settings.sendgrid.sandbox is True
    assert settings.sendgrid.categories == ["a", "b"]


def test_environment_overrides_the_file_typed(tmp_path: Path) -> None:
    path = write(tmp_path, "[selection]\nmax_posts = 4\n")
    env = {
        "DIGEST_SELECTION_MAX_POSTS": "7",
        "DIGEST_SENDGRID_HOST": "http://127.0.0.1:9",
        "DIGEST_SENDGRID_SANDBOX": "true",
        "DIGEST_SENDGRID_CATEGORIES": "weekly, digest",
        "DIGEST_SOURCE_TIMEOUT": "2.5",
    }
    settings = load_settings(path, env)
    assert settings.selection.max_posts == 7
    assert settings.sendgrid.host == "http://127.0.0.1:9"
    assert settings.sendgrid.sandbox is True
    assert settings.sendgrid.categories == ["weekly", "digest"]
    assert settings.source.timeout == 2.5


def test_an_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path, "[selection]\nmax_posts = 4\n")
    settings = load_settings(path, {"DIGEST_SELECTION_MAX_POSTS": "", "SENDGRID_API_KEY": ""})
    assert settings.selection.max_posts == 4
    assert settings.secrets.sendgrid_api_key == ""


def test_a_wrong_environment_type_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SELECTION_MAX_POSTS must be a whole number"):
        load_settings(write(tmp_path, ""), {"DIGEST_SELECTION_MAX_POSTS": "lots"})


def test_unknown_keys_and_wrong_types_are_all_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[selection]\nmax_post = 3\nmax_age_days = "week"\n[sendgrid]\nsandbox = "yes"\n'
        '[mystery]\nx = 1\n[delivery]\nbackend = "pigeon"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    message = str(caught.value)
    assert "unknown key selection.max_post" in message
    assert "selection.max_age_days must be a whole number" in message
    assert "sendgrid.sandbox must be true or false" in message
    assert "unknown section [mystery]" in message
    assert "delivery.backend must be one of sendgrid, smtp, outbox" in message
    assert caught.value.lines() == [
        f"{path} has 5 problems:",
        "  unknown section [mystery]",
        "  unknown key selection.max_post (did you mean selection.max_posts?)",
        "  selection.max_age_days must be a whole number, not 'week'",
        "  delivery.backend must be one of sendgrid, smtp, outbox, not 'pigeon'",
        "  sendgrid.sandbox must be true or false, not 'yes'",
    ]


def test_the_secret_is_refused_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[unsubscribe]\nsecret = "hunter2"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert "DIGEST_UNSUBSCRIBE_SECRET" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_secrets_come_from_the_environment_and_stay_out_of_repr(tmp_path: Path) -> None:
    env = {"SENDGRID_API_KEY": "SG.secret-key", "DIGEST_UNSUBSCRIBE_SECRET": "s3cret"}
    settings = load_settings(write(tmp_path, ""), env)
    assert settings.secrets.sendgrid_api_key == "SG.secret-key"
    assert settings.secrets.unsubscribe_secret == "s3cret"
    assert "SG.secret-key" not in repr(settings)
    assert "s3cret" not in repr(settings.secrets)


def test_retired_unsubscribe_secrets_come_from_the_environment_split_on_whitespace(
    tmp_path: Path,
) -> None:
    env = {"DIGEST_UNSUBSCRIBE_RETIRED_SECRETS": " first-old\tsecond-old\n third-old "}
    settings = load_settings(write(tmp_path, ""), env)
    assert settings.secrets.unsubscribe_retired == ("first-old", "second-old", "third-old")
    assert "first-old" not in repr(settings) and "second-old" not in repr(settings.secrets)
    assert load_settings(write(tmp_path, ""), {}).secrets.unsubscribe_retired == ()


def test_retired_secrets_are_refused_in_the_file_without_showing_them(tmp_path: Path) -> None:
    message = problems_of(tmp_path, '[unsubscribe]\nretired_secrets = "old-hunter2"\n')
    assert "[unsubscribe] retired_secrets must not be in the file" in message
    assert "DIGEST_UNSUBSCRIBE_RETIRED_SECRETS" in message
    assert "old-hunter2" not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/unsubscribe?email={email}&token={token}",
        "https://example.com/u/{email}/{token}",
    ],
)
def test_an_unsubscribe_url_that_would_carry_the_address_is_refused(
    tmp_path: Path, url: str
) -> None:
    message = problems_of(tmp_path, f'[unsubscribe]\nurl = "{url}"\n')
    assert "unsubscribe.url must not carry {email}" in message
    assert "https://example.com/unsubscribe?token={token}" in message
    message = problems_of(tmp_path, env={"DIGEST_UNSUBSCRIBE_URL": url})
    assert "DIGEST_UNSUBSCRIBE_URL must not carry {email}" in message


def test_missing_and_broken_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "absent.toml", {})
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_settings(write(tmp_path, '[newsletter]\nname = "unterminated\n'), {})


def test_config_path_comes_from_the_option_then_the_environment() -> None:
    assert find_config("a.toml", {"DIGEST_CONFIG": "b.toml"}) == Path("a.toml")
    assert find_config(None, {"DIGEST_CONFIG": "b.toml"}) == Path("b.toml")
    assert find_config(None, {"DIGEST_CONFIG": ""}) == Path("digest.toml")


def test_paths_resolve_against_the_newsletter_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[subscribers]\npath = "people.csv"\n'), {})
    assert settings.path(settings.subscribers.path) == tmp_path / "people.csv"
    assert isinstance(settings, Settings)


def problems_of(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> str:
    """The ConfigError that loading ``text`` with ``env`` raises, as the lines the CLI
    prints: one line for one problem; for several, a summary line then one line each."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env or {})
    lines = caught.value.lines()
    assert all("\n" not in line for line in lines)
    if len(lines) > 1:
        assert lines[0].endswith(f" {len(lines) - 1} problems:"), lines
    return "\n".join(lines)


@pytest.mark.parametrize("text", ["nan", "1e400", "inf", "-inf"])
def test_timeouts_must_be_finite_numbers(tmp_path: Path, text: str) -> None:
    message = problems_of(tmp_path, env={"DIGEST_SENDGRID_TIMEOUT": text})
    assert f"DIGEST_SENDGRID_TIMEOUT must be a finite number, not {text!r}" in message


def test_non_finite_floats_in_the_file_are_refused(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "[source]\ntimeout = nan\n[smtp]\ntimeout = inf\n")
    assert "source.timeout must be a finite number, not nan" in message
    assert "smtp.timeout must be a finite number, not inf" in message


def test_timeouts_must_be_positive_and_at_most_an_hour(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path, "[source]\ntimeout = 0\n[sendgrid]\ntimeout = 0.0\n[smtp]\ntimeout = 1e10\n"
    )
    assert "source.timeout must be more than 0 and at most 3600 seconds, not 0.0" in message
    assert "sendgrid.timeout must be more than 0" in message
    assert "smtp.timeout must be more than 0 and at most 3600 seconds, not 10000000000.0" in message
    settings = load_settings(write(tmp_path, "[smtp]\ntimeout = 0.5\n"), {})
    assert settings.smtp.timeout == 0.5


def test_an_unknown_time_zone_is_refused_at_load(tmp_path: Path) -> None:
    message = problems_of(tmp_path, '[schedule]\ntimezone = "Mars/Olympus"\n')
    assert (
        "schedule.timezone: unknown time zone 'Mars/Olympus'; "
        "use an IANA name such as America/Los_Angeles"
    ) in message
    for name in ("/etc/passwd", "../x", "America"):
        env = {"DIGEST_SCHEDULE_TIMEZONE": name}
        assert "DIGEST_SCHEDULE_TIMEZONE: unknown time zone" in problems_of(tmp_path, env=env)
    assert load_settings(write(tmp_path, '[schedule]\ntimezone = "UTC"\n'), {})


def test_selection_limits(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "[selection]\nmax_posts = 0\n")
    assert "selection.max_posts must be at least 1, not 0" in message
    message = problems_of(tmp_path, env={"DIGEST_SELECTION_MAX_AGE_DAYS": "999999999"})
    assert "DIGEST_SELECTION_MAX_AGE_DAYS must be at most 36500" in message
    settings = load_settings(
        write(tmp_path, "[selection]\nmax_posts = 1\nmax_age_days = 36500\n"), {}
    )
    assert (settings.selection.max_posts, settings.selection.max_age_days) == (1, 36500)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sendgrid.host", "api.sendgrid.com"),
        ("sendgrid.host", "ftp://api.sendgrid.com"),
        ("sendgrid.host", "https://"),
        ("sendgrid.host", "http://[::1"),
        ("newsletter.site_url", "example.com"),
        ("newsletter.site_url", "mailto:me@example.com"),
    ],
)
def test_urls_must_be_http_or_https(tmp_path: Path, key: str, value: str) -> None:
    section, name = key.split(".")
    message = problems_of(tmp_path, f'[{section}]\n{name} = "{value}"\n')
    assert f"{key} must be an http(s) URL such as https://" in message
    assert repr(value) in message


def test_the_unsubscribe_url_is_ascii_http_and_the_name_one_line(tmp_path: Path) -> None:
    message = problems_of(tmp_path, '[unsubscribe]\nurl = "https://bücher.example/u?t={token}"\n')
    assert "unsubscribe.url must be plain ASCII" in message
    message = problems_of(tmp_path, '[unsubscribe]\nurl = "mailto:me@example.com"\n')
    assert "unsubscribe.url must be an http(s) URL" in message
    message = problems_of(tmp_path, env={"DIGEST_NEWSLETTER_NAME": "Insights\nWeekly"})
    assert "DIGEST_NEWSLETTER_NAME must be printable text on one line" in message
    settings = load_settings(write(tmp_path, '[unsubscribe]\nurl = ""\n'), {})
    assert settings.unsubscribe.url == ""


def test_an_empty_site_url_and_local_hosts_are_fine(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, '[newsletter]\nsite_url = ""\n[sendgrid]\nhost = "http://127.0.0.1:9"\n'),
        {},
    )
    assert settings.newsletter.site_url == ""
    assert settings.sendgrid.host == "http://127.0.0.1:9"


def test_sendgrid_categories_within_sendgrids_limits(tmp_path: Path) -> None:
    eleven = ",".join(f"c{i}" for i in range(11))
    message = problems_of(tmp_path, env={"DIGEST_SENDGRID_CATEGORIES": eleven})
    assert "DIGEST_SENDGRID_CATEGORIES must have at most 10 categories, not 11" in message
    message = problems_of(tmp_path, f'[sendgrid]\ncategories = ["", "{"x" * 256}"]\n')
    assert "sendgrid.categories: each category must be 1 to 255 characters long" in message
    message = problems_of(tmp_path, '[sendgrid]\ncategories = ["a", "b", "a"]\n')
    assert "sendgrid.categories names 'a' more than once" in message
    ten = [f"c{i}" for i in range(9)] + ["x" * 255]
    settings = load_settings(write(tmp_path, ""), {"DIGEST_SENDGRID_CATEGORIES": ",".join(ten)})
    assert settings.sendgrid.categories == ten


def test_sendgrid_concurrency_and_retries_ranges(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "[sendgrid]\nconcurrency = 0\nmax_retries = 21\n")
    assert "sendgrid.concurrency must be at least 1, not 0" in message
    assert "sendgrid.max_retries must be at most 20, not 21" in message
    message = problems_of(tmp_path, env={"DIGEST_SENDGRID_CONCURRENCY": "33"})
    assert "DIGEST_SENDGRID_CONCURRENCY must be at most 32, not 33" in message
    settings = load_settings(write(tmp_path, "[sendgrid]\nconcurrency = 32\nmax_retries = 0\n"), {})
    assert (settings.sendgrid.concurrency, settings.sendgrid.max_retries) == (32, 0)


def test_the_smtp_port_is_a_port(tmp_path: Path) -> None:
    assert "smtp.port must be at most 65535" in problems_of(tmp_path, "[smtp]\nport = 70000\n")
    assert "smtp.port must be at least 1" in problems_of(tmp_path, "[smtp]\nport = 0\n")


def test_a_misspelled_environment_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting DIGEST_SELECTION_MAX_POST "):
        load_settings(write(tmp_path, ""), {"DIGEST_SELECTION_MAX_POST": "3"})
    unrelated = {"DIGEST_CONFIG": "x.toml", "DIGEST_SMTP_PASSWORD": "pw", "DIGESTIVE": "1"}
    assert load_settings(write(tmp_path, ""), unrelated).secrets.smtp_password == "pw"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sendgrid.host", "http://127.0.0.1:abc"),
        ("sendgrid.host", "https://api.sendgrid.com:99999"),
        ("sendgrid.host", "https://api sendgrid.com"),
        ("newsletter.site_url", "https://x.com:99999"),
        ("newsletter.site_url", "https://x .com"),
        ("unsubscribe.url", "https://x.com/u t?t={token}"),
    ],
)
def test_a_url_with_a_bad_port_or_a_space_is_refused_at_load(
    tmp_path: Path, key: str, value: str
) -> None:
    section, name = key.split(".")
    message = problems_of(tmp_path, f'[{section}]\n{name} = "{value}"\n')
    assert f"{key} must be an http(s) URL such as https://" in message


@pytest.mark.parametrize("value", ["FTV Insights <news@ftv.example.com>", "a b@c.com", "hello@"])
def test_the_sender_addresses_must_be_bare_addresses(tmp_path: Path, value: str) -> None:
    for key in ("from_email", "reply_to"):
        message = problems_of(tmp_path, f'[newsletter]\n{key} = "{value}"\n')
        assert f"newsletter.{key} must be a bare address such as news@example.com" in message
        assert "newsletter.name" in message, "says where the display name goes"


@pytest.mark.parametrize(
    "value", ["ünsub@exämple.com", "Unsub <u@x.com>", "notanemail", "u@x.com?subject=a b"]
)
def test_the_unsubscribe_mailto_is_a_plain_ascii_address(tmp_path: Path, value: str) -> None:
    message = problems_of(tmp_path, f'[unsubscribe]\nmailto = "{value}"\n')
    assert "unsubscribe.mailto must be a plain ASCII address" in message


def test_good_mailto_and_smtp_host_values_load(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            '[unsubscribe]\nmailto = "mailto:unsubscribe@example.com?subject=stop"\n'
            '[smtp]\nhost = "127.0.0.1"\n',
        ),
        {},
    )
    assert settings.unsubscribe.mailto == "mailto:unsubscribe@example.com?subject=stop"
    assert settings.smtp.host == "127.0.0.1"


@pytest.mark.parametrize("value", ["", "a..b", "smtp example.com"])
def test_the_smtp_host_must_be_a_host_name(tmp_path: Path, value: str) -> None:
    message = problems_of(tmp_path, f'[smtp]\nhost = "{value}"\n')
    assert "smtp.host must be the server's host name" in message


@pytest.mark.parametrize("key", ["SG.TOPSECRET123\n", "SG.TOP SECRET", "SG.clé"])
def test_an_api_key_no_provider_could_take_is_refused_without_showing_it(
    tmp_path: Path, key: str
) -> None:
    message = problems_of(tmp_path, env={"SENDGRID_API_KEY": key})
    assert "SENDGRID_API_KEY has characters no API key has" in message
    assert "TOP" not in message and "cl" not in message


def test_a_secret_that_is_not_utf8_is_refused_without_showing_it(tmp_path: Path) -> None:
    undecodable = b"s3cret\xff".decode("utf-8", "surrogateescape")  # as os.environ holds it
    for variable in (
        "DIGEST_UNSUBSCRIBE_SECRET",
        "DIGEST_UNSUBSCRIBE_RETIRED_SECRETS",
        "DIGEST_SMTP_PASSWORD",
    ):
        message = problems_of(tmp_path, env={variable: undecodable})
        assert f"{variable} is not valid UTF-8 text" in message
        assert "s3cret" not in message


def test_a_setting_that_is_not_utf8_is_named_not_blamed_on_a_template(tmp_path: Path) -> None:
    undecodable = b"Main St\xff".decode("utf-8", "surrogateescape")
    message = problems_of(tmp_path, env={"DIGEST_NEWSLETTER_POSTAL_ADDRESS": undecodable})
    assert "DIGEST_NEWSLETTER_POSTAL_ADDRESS is not valid UTF-8 text" in message


def test_a_byte_order_mark_at_the_start_of_the_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    path.write_bytes(b'\xef\xbb\xbf[newsletter]\nname = "Insights"\n')
    assert load_settings(path, {}).newsletter.name == "Insights"


@pytest.mark.parametrize(
    "key", ["subscribers.path", "source.location", "newsletter.templates", "delivery.outbox"]
)
def test_a_path_with_a_nul_or_an_unknown_home_is_refused_at_load(tmp_path: Path, key: str) -> None:
    section, name = key.split(".")
    message = problems_of(tmp_path, f'[{section}]\n{name} = "~nosuchuser-digest/x"\n')
    assert f"{key}: '~nosuchuser-digest/x' starts with ~ but names no user's home folder" in message
    message = problems_of(tmp_path, f'[{section}]\n{name} = "a\\u0000b"\n')
    assert f"{key} must not contain a NUL character" in message


def test_test_domains_load_for_build_and_dry_runs(tmp_path: Path) -> None:
    # Only their shape is checked at load: a real send validates them fully.
    settings = load_settings(
        write(
            tmp_path,
            '[newsletter]\nfrom_email = "news@localhost"\nreply_to = "me@mailpit"\n'
            '[unsubscribe]\nmailto = "unsub@localhost"\n',
        ),
        {},
    )
    assert settings.newsletter.from_email == "news@localhost"
    assert settings.unsubscribe.mailto == "unsub@localhost"


def test_a_cron_expression_that_is_not_one_is_refused_at_load(tmp_path: Path) -> None:
    env = {"DIGEST_SCHEDULE_CRON": "every monday at nine"}
    message = problems_of(tmp_path, env=env)
    assert (
        "DIGEST_SCHEDULE_CRON must be a cron expression: use five fields (minute hour "
        "day-of-month month day-of-week) such as '0 9 * * MON', not 'every monday at nine'"
    ) in message
    message = problems_of(tmp_path, '[schedule]\ncron = "0 0 9 * * MON"\n')
    assert "schedule.cron has six fields, but a seconds or year field is not supported" in message
    message = problems_of(tmp_path, '[schedule]\ncron = "@reboot"\n')
    assert "schedule.cron: @ names such as @reboot are not supported" in message
    message = problems_of(tmp_path, '[schedule]\ncron = "0 9 * * SUNDAY"\n')
    assert "schedule.cron: the day-of-week field 'SUNDAY' of '0 9 * * SUNDAY'" in message
    settings = load_settings(write(tmp_path, '[schedule]\ncron = "30 7 * * mon-fri"\n'), {})
    assert settings.schedule.cron == "30 7 * * mon-fri"


def test_the_grace_period_is_from_a_minute_to_a_week(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "[schedule]\ngrace_minutes = 0\n")
    assert "schedule.grace_minutes must be from 1 to 10080 minutes (a week), not 0" in message
    message = problems_of(tmp_path, env={"DIGEST_SCHEDULE_GRACE_MINUTES": "99999999999999"})
    assert "DIGEST_SCHEDULE_GRACE_MINUTES must be from 1 to 10080 minutes" in message
    for minutes in (1, 10080):
        settings = load_settings(write(tmp_path, f"[schedule]\ngrace_minutes = {minutes}\n"), {})
        assert settings.schedule.grace_minutes == minutes


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[selection]\nmax_post = 3\n", "selection.max_post (did you mean selection.max_posts?)"),
        ("[newsletter]\nfrom_mail = 'a@b.example'\n", "(did you mean newsletter.from_email?)"),
        ("[newsletter]\nmax_posts = 3\n", "key newsletter.max_posts (it belongs in [selection])"),
        ("[selecton]\nmax_posts = 3\n", "unknown section [selecton] (did you mean [selection]?)"),
        ("[selection]\nzzz = 3\n", "unknown key selection.zzz; fix it in digest.toml"),
    ],
)  # fmt: skip
def test_a_misspelled_key_or_section_names_the_nearest_real_one(
    tmp_path: Path, text: str, said: str
) -> None:
    assert said in problems_of(tmp_path, text)


def test_a_misspelled_variable_names_the_nearest_real_one(tmp_path: Path) -> None:
    message = problems_of(tmp_path, env={"DIGEST_SELECTION_MAX_POST": "3"})
    assert message == (
        "unknown setting DIGEST_SELECTION_MAX_POST in the environment "
        "(did you mean DIGEST_SELECTION_MAX_POSTS?); fix the variable, or unset it"
    )


def test_a_bad_variable_is_named_as_one_not_blamed_on_the_file(tmp_path: Path) -> None:
    message = problems_of(tmp_path, env={"DIGEST_SELECTION_MAX_POSTS": "lots"})
    assert message == (
        "environment variable DIGEST_SELECTION_MAX_POSTS must be a whole number, not 'lots'; "
        "fix the variable, or unset it"
    )
    assert "digest.toml" not in message


def test_problems_in_the_file_and_the_environment_each_say_where(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path, "[selection]\nmax_posts = 0\n", env={"DIGEST_SENDGRID_TIMEOUT": "soon"}
    )
    assert message.splitlines() == [
        f"{tmp_path / 'digest.toml'} and the environment have 2 problems:",
        "  selection.max_posts must be at least 1, not 0",
        "  environment variable DIGEST_SENDGRID_TIMEOUT must be a finite number, not 'soon'",
    ]


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        ('[sendgrid]\napi_key = "SG.hunter2"\n', "SENDGRID_API_KEY"),
        ('[smtp]\npassword = "hunter2"\n', "DIGEST_SMTP_PASSWORD"),
    ],
)
def test_a_secret_in_the_file_points_to_its_variable(
    tmp_path: Path, text: str, variable: str
) -> None:
    message = problems_of(tmp_path, text)
    assert f"must not be in the file: set {variable} in the environment instead" in message
    assert "hunter2" not in message
