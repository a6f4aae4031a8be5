"""render_email end to end: what a subscriber, a mail client and a spam filter see."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from digest.models import HTML, URL, Digest, token
from tests.render.conftest import Render
from tests.render.helpers import (
    EDITION,
    NEWSLETTER,
    SITE,
    TOKEN_KEY,
    TRACKING,
    Element,
    Page,
    make_digest,
    make_post,
)

TOKENS = ("name", "email", "company", "unsubscribe_url")


def keyed(name: str, variant: str = "") -> str:
    """The token render_email makes for ``name`` in these tests."""
    return token(name, TOKEN_KEY, variant)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def is_absolute(url: str) -> bool:
    if re.fullmatch(r"%%[\w.]+%%|<%\w+%>", url):
        return True
    parts = urlsplit(url)
    return parts.scheme == "mailto" or (parts.scheme in ("http", "https") and bool(parts.netloc))


def test_tokens_survive_mjml_and_premailer_in_text_and_href(
    render: Render, templates_dir: Path
) -> None:
    (templates_dir / "partials" / "footer.mjml.j2").write_text(
        """    <mj-section><mj-column>
        <mj-text>Sent to {{ subscriber.email }} at {{ subscriber.company }}.
          <a href="{{ unsubscribe_url }}">Unsubscribe</a>
          <a href="https://accounts.example.com/profile?who={{ subscriber.email }}">Profile</a>
        </mj-text>
        <mj-button href="{{ unsubscribe_url }}">Leave, {{ subscriber.name }}</mj-button>
    </mj-column></mj-section>
""",
        encoding="utf-8",
    )
    email = render()
    page = Page(email.html)

    for name in TOKENS:
        assert keyed(name, HTML) in page.text or keyed(name, HTML) in page.hrefs(), name
    assert page.hrefs().count(keyed("unsubscribe_url", HTML)) == 2
    assert f"https://accounts.example.com/profile?who={keyed('email', URL)}" in page.hrefs()
    assert f"Sent to {keyed('email', HTML)} at {keyed('company', HTML)}." in page.text
    assert f"Leave, {keyed('name', HTML)}" in page.text
    assert f"Hi {keyed('first_name')}," in email.text
    assert keyed("unsubscribe_url") in email.text


def test_a_personalized_copy_fills_every_token(render: Render) -> None:
    url = "https://blog.example.com/u?t=abc&list=1"
    email = render().personalized(
        {
            keyed("first_name"): "Ada",
            keyed("first_name", HTML): "Ada",
            keyed("unsubscribe_url"): url,
            keyed("unsubscribe_url", HTML): url.replace("&", "&amp;"),
        }
    )
    assert "Hi Ada," in Page(email.html).text
    assert url in Page(email.html).hrefs()
    assert f"Unsubscribe: {url}" in email.text
    assert "%%" not in email.html + email.text


def test_asm_mode_puts_sendgrid_tags_in_html_and_text(render: Render) -> None:
    email = render(unsubscribe_mode="asm")
    hrefs = Page(email.html).hrefs()
    assert "<%asm_group_unsubscribe_raw_url%>" in hrefs
    assert "<%asm_preferences_raw_url%>" in hrefs
    assert "Unsubscribe: <%asm_group_unsubscribe_raw_url%>" in email.text
    assert "<%asm_preferences_raw_url%>" in email.text
    assert "unsubscribe_url" not in email.html + email.text
    assert "preferences_url" not in email.html + email.text


def test_url_mode_offers_no_preferences_link(render: Render) -> None:
    email = render(unsubscribe_mode="url")
    assert "preferences" not in email.html.lower()
    assert "preferences" not in email.text.lower()
    assert "asm_" not in email.html + email.text


def test_markup_in_titles_shows_escaped(render: Render) -> None:
    title = '<script>alert("x")</script> Tips & <b>tricks</b>'
    teaser = make_post(9, title="<img src=x onerror=alert(1)> Teaser")
    email = render(make_digest(2, teaser, title=title))
    page = Page(email.html)

    assert not page.all("script")
    assert all(element.attrs.get("src") != "x" for element in page.all("img"))
    assert title in page.text
    assert "<img src=x onerror=alert(1)> Teaser" in page.text
    assert "&lt;script&gt;" in email.html
    assert email.subject == title
    assert title in email.text


def test_every_image_has_alt_text_falling_back_to_the_title(render: Render) -> None:
    no_alt = make_post(7, title="A post without alt text", image_alt="  ")
    email = render(make_digest(3, no_alt))
    images = Page(email.html).all("img")

    assert len(images) == 4
    assert all(image.attrs.get("alt", "").strip() for image in images)
    assert "A post without alt text" in [image.attrs["alt"] for image in images]
    assert all(image.attrs["src"].startswith(f"{SITE}/images/") for image in images)


def test_every_link_and_image_is_absolute(render: Render) -> None:
    email = render()
    page = Page(email.html)
    urls = page.hrefs() + [image.attrs["src"] for image in page.all("img")]

    assert urls
    assert [url for url in urls if not is_absolute(url)] == []
    assert email.warnings == ()


def test_post_links_carry_utm_and_tokens_do_not(render: Render) -> None:
    email = render()
    hrefs = Page(email.html).hrefs()
    post_links = [href for href in hrefs if "/posts/" in href]

    assert len(post_links) >= 5
    for href in post_links:
        assert query(href) == {
            "utm_source": ["newsletter"],
            "utm_medium": ["email"],
            "utm_campaign": [f"digest-{EDITION}"],
        }
    assert keyed("unsubscribe_url", HTML) in hrefs
    assert all("utm_" not in href for href in hrefs if "%%" in href or "newsletter/" in href)


def test_utm_only_on_the_sites_own_links(render: Render) -> None:
    elsewhere = make_post(5, url="https://news.other.example.org/story", title="A link post")
    own_campaign = make_post(6, url="/posts/6/?utm_campaign=spring&x=1", title="Own campaign")
    email = render(make_digest(2, elsewhere, own_campaign))
    hrefs = Page(email.html).hrefs()

    assert "https://news.other.example.org/story" in hrefs
    campaign = next(href for href in hrefs if "/posts/6/" in href)
    assert query(campaign)["utm_campaign"] == ["spring"]
    assert query(campaign)["x"] == ["1"]
    assert query(campaign)["utm_source"] == ["newsletter"]


def test_text_part_has_the_same_posts_links_and_footer_as_the_html(render: Render) -> None:
    digest = make_digest(5)
    email = render(digest)
    page = Page(email.html)
    post_links = {href for href in page.hrefs() if "/posts/" in href}

    assert len(post_links) == 5
    for link in post_links:
        assert link in email.text
    for post in digest.posts:
        assert post.title in email.text and post.title in page.text
    for line in (NEWSLETTER.postal_address, "You are receiving this because you subscribed"):
        assert line in email.text and line in page.text
    assert f"{SITE}/newsletter/{EDITION}/" in email.text
    assert f"{SITE}/newsletter/{EDITION}/" in page.hrefs()


def test_css_is_inlined_and_media_queries_are_kept(render: Render) -> None:
    email = render()
    page = Page(email.html)
    title = next(a for a in page.all("a") if a.parent and a.parent.tag == "h1")
    unsubscribe = next(
        a for a in page.all("a") if a.attrs.get("href") == keyed("unsubscribe_url", HTML)
    )
    head = email.html.split("</head>")[0]

    assert title.style("color") == "#111827"
    assert title.style("text-decoration") == "none"
    assert unsubscribe.style("color") == "#374151"
    assert "@media (prefers-color-scheme: dark)" in head
    assert "[data-ogsc]" in head
    columns = re.search(r"@media only screen and \(min-width: ?480px\) \{[^<]*", head)
    assert columns and re.search(r"width: ?50% !important", columns.group())
    dark = head.split("@media (prefers-color-scheme: dark)")[1]
    assert "!important" in dark
    assert "#outlook a" in head
    assert "mso-table-lspace" not in email.html.split("</head>")[1]
    assert "fonts.googleapis.com" not in email.html
    assert "data-premailer" not in email.html


def test_phones_dark_mode_and_client_hooks_each_have_their_own_style_block(
    render: Render,
) -> None:
    head = render().html.split("</head>")[0]
    blocks = re.findall(r"<style[^>]*>(.*?)</style>", head, re.DOTALL)
    shown = [block for block in blocks if "[if mso]" not in block]

    def holding(needle: str) -> list[str]:
        return [block for block in shown if needle in block]

    phone = holding(".featured-title h1")
    dark = holding("prefers-color-scheme: dark")
    apple = holding("a[x-apple-data-detectors]")
    outlook_com = holding("[data-ogsc]")
    assert len(phone) == len(dark) == len(apple) == len(outlook_com) == 1
    assert len({phone[0], dark[0], apple[0], outlook_com[0]}) == 4
    assert "prefers-color-scheme" not in phone[0] and "max-width" not in dark[0]
    assert "[data-" not in phone[0] + dark[0] and "x-apple" not in phone[0] + dark[0]
    outlook = re.search(r"<!--\[if mso\]>\s*<style>(.*?)</style>\s*<!\[endif\]-->", head, re.DOTALL)
    assert outlook and "font-family: 'Segoe UI', Arial" in outlook.group(1)


def test_document_has_doctype_lang_title_color_scheme_and_apple_metas(render: Render) -> None:
    email = render(newsletter=replace(NEWSLETTER, language="fr"))
    page = Page(email.html)
    metas = {meta.attrs.get("name"): meta.attrs.get("content") for meta in page.all("meta")}

    assert email.html.lower().startswith("<!doctype html>")
    assert page.all("html")[0].attrs["lang"] == "fr"
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert "x-apple-disable-message-reformatting" in metas
    detection = {part.strip() for part in metas["format-detection"].split(",")}
    assert detection == {"telephone=no", "date=no", "address=no", "email=no"}
    assert re.search(r"<title>Post number 0</title>", email.html)
    assert email.html.count("<title>") == 1


def test_the_subject_is_the_featured_title_alone_by_default(render: Render) -> None:
    email = render(make_digest(3, title="Payroll in 2026: what changes"))
    assert email.subject == "Payroll in 2026: what changes"
    assert NEWSLETTER.name not in email.subject


def test_subject_and_reason_are_jinja_strings(render: Render) -> None:
    newsletter = replace(
        NEWSLETTER,
        name="Tom & Jerry's",
        subject="{{ newsletter.name }} #{{ edition }}: {{ featured.title }} (+{{ teasers|count }})",
        reason="You get {{ newsletter.name }} because you asked.",
    )
    email = render(newsletter=newsletter)

    assert email.subject == "Tom & Jerry's #2026-02-02: Post number 0 (+4)"
    assert "You get Tom & Jerry's because you asked." in Page(email.html).text
    assert "You get Tom & Jerry's because you asked." in email.text


def preheader_box(html: str) -> Element:
    return next(div for div in Page(html).all("div") if "preheader" in div.classes())


def test_preheader_is_trimmed_then_padded_and_hidden_without_color_tricks(
    render: Render,
) -> None:
    summary = "Word " * 80 + "end."
    email = render(make_digest(3, summary=summary))
    box = preheader_box(email.html)
    spacer = box.text.removeprefix(email.preheader)

    assert 100 <= len(email.preheader) <= 140
    assert email.preheader.endswith("…")
    assert box.text.startswith(email.preheader)
    assert len(spacer) >= 150
    assert set(spacer) <= {"\u034f", "\u200c", "\u00a0", " "}
    hidden = {name: box.style(name) for name in ("display", "max-height", "opacity", "mso-hide")}
    assert hidden == {"display": "none", "max-height": "0", "opacity": "0", "mso-hide": "all"}
    assert box.style("overflow") == "hidden" and box.style("max-width") == "0"
    assert "color" not in box.attrs["style"]


def test_preheader_is_cut_at_a_phrase_not_mid_phrase(render: Render) -> None:
    summary = (
        "The Animation Guild's talks with the AMPTP, under way since August 12, center on "
        "generative AI, which a TAG study says could displace 29% of animation jobs within "
        "three years."
    )
    email = render(make_digest(2, summary=summary))
    assert email.preheader == (
        "The Animation Guild's talks with the AMPTP, under way since August 12, center on "
        "generative AI…"
    )


def test_preheader_keeps_whole_sentences_when_they_fit(render: Render) -> None:
    first = "Contract talks opened this week with AI, job security and outsourcing on the table."
    summary = f"{first} The guild's own study, run with two agencies, puts jobs at risk, it says."
    email = render(make_digest(2, summary=summary))
    assert email.preheader == first


def test_short_summary_is_the_preheader_as_is(render: Render) -> None:
    email = render(make_digest(2, summary="Short and sweet."))
    assert email.preheader == "Short and sweet."


def test_excerpt_of_a_megabyte_post_is_bounded(render: Render) -> None:
    words = " ".join(f"word{number}" for number in range(150_000))
    content = f"<h2>Intro</h2><p>{words}</p>" + "<p>filler paragraph</p>" * 20_000
    assert len(content) > 1_000_000
    started = time.perf_counter()
    email = render(make_digest(3, content=content))
    elapsed = time.perf_counter() - started

    excerpt = email.text.split("January 30, 2026\n")[1].split("\n\nRead more")[0]
    excerpt = " ".join(excerpt.split())
    assert excerpt.startswith("Intro word0 word1")
    assert excerpt.endswith("…")
    assert len(excerpt) <= 400
    assert len(excerpt.split()) <= 60
    assert len(email.html) < 60_000
    assert elapsed < 2


def test_teasers_without_image_or_date(render: Render) -> None:
    bare = make_post(8, title="Bare teaser", image="", published=None, summary="", content="")
    email = render(make_digest(2, bare))
    page = Page(email.html)

    assert len(page.all("img")) == 2
    assert "Bare teaser" in page.text
    assert page.text.count("2026") == 2
    assert "None" not in page.text and "None" not in email.text
    section = email.text.split("Bare teaser\n")[1]
    assert section.startswith(f"{SITE}/posts/8/?utm_source=")


def test_dates_read_like_january_30_2026_and_undated_posts_show_none(render: Render) -> None:
    email = render(make_digest(3))
    assert "January 30, 2026" in email.text
    assert "January 29, 2026" in Page(email.html).text
    undated = render(Digest(edition=EDITION, featured=make_post(0, published=None)))
    assert not re.search(r"\b20\d\d\b", Page(undated.html).text.replace("2026-02-02", ""))


def test_view_in_browser_only_when_configured(render: Render) -> None:
    without = render(newsletter=replace(NEWSLETTER, view_online_url=""))
    assert "View in browser" not in Page(without.html).text
    assert "View in browser" not in without.text
    with_link = render()
    assert f"{SITE}/newsletter/{EDITION}/" in Page(with_link.html).hrefs()


def test_a_digest_without_teasers_has_no_more_posts_section(render: Render) -> None:
    email = render(Digest(edition=EDITION, featured=make_post(0)))
    assert "More posts" not in Page(email.html).text
    assert not Page(email.html).all("h2")
    assert "MORE POSTS" not in email.text
    assert "Post number 0" in email.text


def test_size_warning_past_90_kb(render: Render) -> None:
    long_summary = "A long teaser summary that goes on about payroll compliance. " * 4
    big = render(make_digest(60, summary=long_summary))
    small = render(make_digest(10))

    assert len(big.html.encode()) > 90 * 1024
    assert len(big.warnings) == 1
    assert re.fullmatch(
        r"digest\.html is \d+ KB; Gmail clips messages over about 102 KB.*", big.warnings[0]
    )
    assert small.warnings == ()
    assert len(small.html.encode()) < 60 * 1024


def test_relative_post_link_without_site_url_is_a_warning(render: Render) -> None:
    email = render(newsletter=replace(NEWSLETTER, site_url=""))
    assert any("site_url" in warning for warning in email.warnings)


def test_no_utm_when_tracking_is_empty(render: Render) -> None:
    email = render(tracking=replace(TRACKING, utm_source="", utm_medium="", utm_campaign=""))
    assert "utm_" not in email.html + email.text


def test_rendering_is_deterministic(render: Render) -> None:
    assert render() == render()
