"""Which values count as still the example's: reserved example domains, the bundled
example's own values, the sample feed; and nothing a real newsletter would write."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digest.config import Newsletter, Settings, Source, Unsubscribe
from digest.config.example import example_keys, example_warning, is_example_domain


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("example.com", True),
        ("ftvconsulting.example.com", True),
        ("News.Example.ORG", True),
        ("example.net.", True),
        ("shop.example", True),
        ("myexample.com", False),
        ("example.com.au", False),
        ("examples.org", False),
        ("fieldnotes.org", False),
    ],
)
def test_reserved_example_domains(name: str, reserved: bool) -> None:
    assert is_example_domain(name) is reserved


def test_the_defaults_are_nobodys_example() -> None:
    assert example_keys(Settings()) == []
    assert example_warning(Settings()) == ""


def test_addresses_urls_and_text_at_an_example_domain_are_found() -> None:
    settings = Settings(
        newsletter=Newsletter(
            name="An Example Letter",  # the word alone is no domain
            reply_to="me@news.example.com",
            reason="You subscribed at shop.example.",
            postal_address="1 Example Avenue",
        ),
        unsubscribe=Unsubscribe(url="https://example.org/u?token={token}"),
    )
    assert example_keys(settings) == ["newsletter.reply_to", "newsletter.reason", "unsubscribe.url"]


def test_the_bundled_examples_own_values_are_found_without_a_domain() -> None:
    settings = Settings(
        newsletter=Newsletter(
            name="FTV Consulting Insights",
            postal_address="FTV Consulting, 1234 Example Avenue, Suite 500, Burbank, CA 91502, USA",
        )
    )
    assert example_keys(settings) == ["newsletter.name", "newsletter.postal_address"]


def test_the_sample_feed_is_found_wherever_it_is() -> None:
    for location in ("sample-feed.xml", "feeds/sample-feed.xml"):
        settings = replace(Settings(), source=Source(location=location))
        assert example_keys(settings) == ["source.location"]
    warning = example_warning(replace(Settings(), source=Source(location="sample-feed.xml")))
    assert warning.startswith("still the example's: source.location; set your own")
