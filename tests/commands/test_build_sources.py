"""`digest build` on sources that used to break it: each builds, or fails in one line."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from tests.commands.conftest import NOW, Folder

CONTROLS = Path(__file__).resolve().parents[1] / "sources" / "data" / "controls"
# Control characters (tab and line breaks aside) and noncharacters.
UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def one_error_line(folder: Folder, *args: str) -> str:
    """Run `digest ARGS`: it must fail with exactly one line on stderr and no traceback."""
    result = folder.run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def use_source(folder: Folder, source: Path, kind: str = "feed") -> None:
    shutil.copy(source, folder.path / source.name)
    folder.env["DIGEST_SOURCE_TYPE"] = kind
    folder.env["DIGEST_SOURCE_LOCATION"] = source.name


def test_control_characters_in_a_feed_build_and_show_nowhere(folder: Folder) -> None:
    """They used to make MJML fail, with an error blaming templates/digest.mjml.j2."""
    use_source(folder, CONTROLS / "controls.xml")
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Red[31m alert[2J and bell" in result.output
    for output in sorted((folder.path / "out").iterdir()):
        text = output.read_text(encoding="utf-8")
        assert UNWANTED.search(text) is None, output.name
    html = (folder.path / "out" / "digest.html").read_text(encoding="utf-8")
    assert "Red[31m alert[2J and bell and nonchar" in html


def test_a_json_feed_with_half_a_character_is_one_line(folder: Folder) -> None:
    use_source(folder, CONTROLS / "surrogate.json")
    line = one_error_line(folder, "build", "--now", NOW)
    assert "surrogate.json: a text in the feed holds half a character" in line


def test_a_post_nested_100000_deep_builds_in_seconds_and_the_cut_is_said(folder: Folder) -> None:
    """Such a post kept the sanitizer busy for over two minutes."""
    deep = "<div>" * 100_000 + "deep text" + "</div>" * 100_000
    feed = folder.path / "deep.xml"
    feed.write_text(
        '<rss version="2.0"><channel><title>Deep</title><item><title>Deep post</title>'
        "<link>https://deep.example.com/deep/</link>"
        "<pubDate>Wed, 07 Jan 2026 12:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Before the descent.</p>{deep}]]></description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    folder.env["DIGEST_SOURCE_LOCATION"] = feed.name
    started = time.perf_counter()
    result = folder.run("build", "--now", NOW)
    assert time.perf_counter() - started < 10
    assert result.exit_code == 0, result.output
    said = (
        "post https://deep.example.com/deep/: its content nests elements too deeply "
        "(past 100 levels): it was cut there"
    )
    assert f"warning: {said}" in result.stderr
    manifest = json.loads((folder.path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert said in manifest["warnings"]


def test_a_post_300_levels_deep_keeps_the_footer_of_a_template_showing_content(
    folder: Folder,
) -> None:
    """With ``featured.content | safe`` in a template, premailer dropped everything past
    about 250 levels: the footer and its unsubscribe link silently went missing."""
    partials = folder.path / "templates" / "partials"
    featured = (partials / "featured.mjml.j2").read_text(encoding="utf-8")
    assert "{{ featured.excerpt }}" in featured
    (partials / "featured.mjml.j2").write_text(
        featured.replace("{{ featured.excerpt }}", "{{ featured.content | safe }}"),
        encoding="utf-8",
    )
    deep = "<div>" * 300 + "deep text" + "</div>" * 300
    (folder.path / "deep.xml").write_text(
        '<rss version="2.0"><channel><title>Deep</title><item><title>Deep post</title>'
        "<link>https://deep.example.com/deep/</link>"
        "<pubDate>Wed, 07 Jan 2026 12:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Before.</p>{deep}]]></description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    folder.env["DIGEST_SOURCE_LOCATION"] = "deep.xml"
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    html = (folder.path / "out" / "digest.html").read_text(encoding="utf-8")
    assert "Before." in html
    assert ">Unsubscribe</a>" in html
    assert html.rstrip().endswith("</html>")
    assert "its content nests elements too deeply" in result.stderr


def test_a_javascript_view_online_url_is_refused_at_load(folder: Folder) -> None:
    """It used to be rendered as a live "View in browser" link in every email."""
    folder.env["DIGEST_NEWSLETTER_VIEW_ONLINE_URL"] = "javascript:alert(document.cookie)"
    line = one_error_line(folder, "build", "--now", NOW)
    assert "DIGEST_NEWSLETTER_VIEW_ONLINE_URL must be an http(s) URL such as https://" in line


def test_item_links_and_images_that_are_not_http_never_reach_the_email(folder: Folder) -> None:
    use_source(folder, CONTROLS.parent / "unsafe_urls.xml")
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    html = (folder.path / "out" / "digest.html").read_text(encoding="utf-8")
    text = (folder.path / "out" / "digest.txt").read_text(encoding="utf-8")
    links = re.findall(r"""\s(?:href|src)\s*=\s*["']([^"']*)""", html)
    assert links
    assert all(link.startswith(("https://", "http://", "mailto:")) for link in links), links
    for scheme in ("javascript:", "vbscript:", "data:", "ftp:", "file:"):
        assert scheme not in html.lower() and scheme not in text.lower(), scheme
