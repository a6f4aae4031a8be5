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
    assert str(path) in message
    assert "\n" not in message


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
