"""Links: absolute against the site, UTM only on the site's own http(s) links."""

from __future__ import annotations

from digest.config import Tracking
from digest.render.links import (
    absolute,
    is_absolute,
    relative_links,
    site_hosts,
    utm_parameters,
    with_utm,
)

UTM = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "digest-2026-02-02"}
HOSTS = frozenset({"blog.example.com"})


def test_absolute_against_the_site() -> None:
    assert absolute("/posts/1/", "https://blog.example.com") == "https://blog.example.com/posts/1/"
    assert absolute("https://cdn.example.net/a.png", "https://blog.example.com") == (
        "https://cdn.example.net/a.png"
    )
    assert absolute("%%unsubscribe_url%%", "https://blog.example.com") == "%%unsubscribe_url%%"
    assert absolute("/posts/1/", "") == "/posts/1/"


def test_is_absolute() -> None:
    assert is_absolute("https://blog.example.com/x")
    assert is_absolute("mailto:editor@example.com")
    assert is_absolute("%%unsubscribe_url%%")
    assert is_absolute("<%asm_group_unsubscribe_raw_url%>")
    assert not is_absolute("/posts/1/")
    assert not is_absolute("//blog.example.com/x")
    assert not is_absolute("javascript:alert(1)")


def test_utm_parameters_fill_the_edition_and_skip_empty_ones() -> None:
    assert utm_parameters(Tracking(), "2026-02-02") == UTM
    assert utm_parameters(Tracking(utm_medium="", utm_campaign="weekly"), "x") == {
        "utm_source": "newsletter",
        "utm_campaign": "weekly",
    }


def test_with_utm_on_the_sites_links() -> None:
    assert with_utm("https://blog.example.com/p/?a=1#top", UTM, HOSTS) == (
        "https://blog.example.com/p/?a=1&utm_source=newsletter&utm_medium=email"
        "&utm_campaign=digest-2026-02-02#top"
    )
    assert with_utm("https://www.blog.example.com", UTM, HOSTS) == (
        "https://www.blog.example.com/?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=digest-2026-02-02"
    )


def test_with_utm_keeps_an_authors_own_campaign() -> None:
    url = with_utm("https://blog.example.com/p?utm_campaign=spring", UTM, HOSTS)
    assert url.count("utm_campaign") == 1
    assert "utm_campaign=spring" in url


def test_with_utm_leaves_other_links_alone() -> None:
    for url in (
        "https://elsewhere.example.org/story",
        "mailto:editor@blog.example.com",
        "%%unsubscribe_url%%",
        "<%asm_group_unsubscribe_raw_url%>",
    ):
        assert with_utm(url, UTM, HOSTS) == url
    assert with_utm("https://blog.example.com/p", {}, HOSTS) == "https://blog.example.com/p"


def test_site_hosts() -> None:
    assert site_hosts("https://www.blog.example.com/", ["https://x.example/"]) == HOSTS
    assert site_hosts("", ["https://a.example/1", "https://b.example/2", "/rel"]) == {
        "a.example",
        "b.example",
    }


def test_relative_links_in_html() -> None:
    html = (
        '<a href="/about">About</a><a href="https://ok.example/">ok</a>'
        "<img src='img/x.png'><a href=\"%%unsubscribe_url%%\">u</a>"
        '<a href="https://ok.example/?a=1&amp;b=2">q</a>'
    )
    assert relative_links(html) == ["/about", "img/x.png"]
