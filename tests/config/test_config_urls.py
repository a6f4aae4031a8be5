"""Every URL key must be an http(s) URL: `javascript:` as view_online_url was rendered as a
live link in every email."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_settings
from digest.errors import ConfigError

URL_KEYS = [
    "newsletter.site_url",
    "newsletter.view_online_url",
    "unsubscribe.url",
    "sendgrid.host",
]
NOT_HTTP = ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.com/x", "//x.com"]


def problems(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> str:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env or {})
    return str(caught.value)


@pytest.mark.parametrize("value", NOT_HTTP)
@pytest.mark.parametrize("key", URL_KEYS)
def test_a_url_key_that_is_not_http_is_refused_naming_it(
    tmp_path: Path, key: str, value: str
) -> None:
    section, name = key.split(".")
    message = problems(tmp_path, f'[{section}]\n{name} = "{value}"\n')
    assert f"{key} must be an http(s) URL such as http" in message
    assert f"not {value!r}" in message


def test_an_environment_override_is_checked_the_same(tmp_path: Path) -> None:
    env = {"DIGEST_NEWSLETTER_VIEW_ONLINE_URL": "javascript:alert(1)"}
    message = problems(tmp_path, env=env)
    assert "DIGEST_NEWSLETTER_VIEW_ONLINE_URL must be an http(s) URL such as " in message


@pytest.mark.parametrize(
    "value", ["ftp://example.com/feed.xml", "file:///etc/passwd", "https://", "http://[::1"]
)
def test_a_source_location_with_a_scheme_must_be_http(tmp_path: Path, value: str) -> None:
    message = problems(tmp_path, f'[source]\nlocation = "{value}"\n')
    assert "source.location must be a" in message
    assert f"not {value!r}" in message


def test_http_urls_paths_and_empty_optional_urls_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(
        '[newsletter]\nview_online_url = "https://news.example.com/{edition}/"\nsite_url = ""\n'
        '[source]\nlocation = "HTTPS://news.example.com/feed.xml"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, {})
    assert settings.newsletter.view_online_url == "https://news.example.com/{edition}/"
    assert settings.source.location == "HTTPS://news.example.com/feed.xml"
    path.write_text('[source]\nlocation = "feeds/feed.xml"\n', encoding="utf-8")
    assert load_settings(path, {}).source.location == "feeds/feed.xml"
