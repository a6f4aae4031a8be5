"""Values still at the example's domain: the one function `digest doctor` (and any command
that shows what a send would do) warns with."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.config.examples import example_domain_warning, example_host, example_values

SCAFFOLD = Path(__file__).resolve().parents[2] / "digest" / "scaffold" / "digest.toml"


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("insights@ftvconsulting.example.com", "ftvconsulting.example.com"),
        ("https://Example.ORG/unsubscribe?token={token}", "example.org"),
        ("news@shop.example", "shop.example"),
        ("You subscribed at ftvconsulting.example.com.", "ftvconsulting.example.com"),
        ("for example, our site", ""),
        ("news@myexample.com", ""),
        ("https://example.community/feed.xml", ""),
        ("https://api.sendgrid.com", ""),
    ],
)
def test_an_example_host_is_found_in_an_address_a_url_or_prose(text: str, host: str) -> None:
    assert example_host(text) == host


def test_the_example_newsletter_names_every_key_still_at_its_domain() -> None:
    settings = load_settings(SCAFFOLD, {})
    assert example_values(settings) == [
        ("newsletter.from_email", "ftvconsulting.example.com"),
        ("newsletter.reply_to", "ftvconsulting.example.com"),
        ("newsletter.site_url", "ftvconsulting.example.com"),
        ("newsletter.reason", "ftvconsulting.example.com"),
        ("newsletter.view_online_url", "ftvconsulting.example.com"),
        ("unsubscribe.url", "ftvconsulting.example.com"),
    ]
    warning = example_domain_warning(settings)
    assert warning.startswith("newsletter.from_email, newsletter.reply_to, newsletter.site_url,")
    assert "still name the example's domain (ftvconsulting.example.com)" in warning
    assert "\n" not in warning


def test_a_newsletter_of_its_own_has_nothing_to_warn_of() -> None:
    settings = load_settings(SCAFFOLD, {})
    own = replace(
        settings,
        newsletter=replace(
            settings.newsletter,
            from_email="news@ftv.co",
            reply_to="",
            site_url="https://ftv.co",
            reason="You subscribed at ftv.co.",
            view_online_url="",
        ),
        unsubscribe=replace(settings.unsubscribe, url="https://ftv.co/unsubscribe?token={token}"),
    )
    assert example_values(own) == []
    assert example_domain_warning(own) == ""
