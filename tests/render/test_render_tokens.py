"""Where per-reader tokens land in the HTML: each escaped for its place, or refused at render."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.errors import TemplateError
from digest.models import HTML, URL, token
from digest.render.tokens import place_tokens
from tests.render.conftest import Render
from tests.render.helpers import TOKEN_KEY, Page, make_digest, make_post


def keyed(name: str, variant: str = "") -> str:
    return token(name, TOKEN_KEY, variant)


def with_footer(templates_dir: Path, body: str) -> None:
    """Override the footer partial with ``body`` inside a section and a column."""
    (templates_dir / "partials" / "footer.mjml.j2").write_text(
        f"    <mj-section><mj-column>\n{body}\n    </mj-column></mj-section>\n", encoding="utf-8"
    )


def test_text_and_ordinary_attributes_get_html_escaped_values(
    render: Render, templates_dir: Path
) -> None:
    with_footer(
        templates_dir,
        '<mj-image src="https://blog.example.com/i.png" alt="For {{ subscriber.name }}" />\n'
        '<mj-text css-class="x">Hi {{ subscriber.name }} at {{ subscriber.company }}</mj-text>',
    )
    email = render()
    page = Page(email.html)

    assert f"Hi {keyed('name', HTML)} at {keyed('company', HTML)}" in page.text
    assert f"For {keyed('name', HTML)}" in [image.attrs.get("alt") for image in page.all("img")]
    assert f"<title>{email.subject}</title>" in email.html  # no token in the default subject
    assert keyed("first_name") in email.text and keyed("first_name", HTML) not in email.text


def test_a_merge_field_in_a_link_after_its_host_is_percent_encoded(
    render: Render, templates_dir: Path
) -> None:
    with_footer(
        templates_dir,
        '<mj-text><a href="https://accounts.example.com/p?c={{ subscriber.company }}&amp;'
        'n={{ subscriber.name }}#{{ subscriber.name }}">Profile</a>\n'
        '<a href="mailto:{{ subscriber.email }}?subject=Hi">Me</a></mj-text>\n'
        '<mj-image src="https://blog.example.com/i.png?for={{ subscriber.email }}" alt="" />',
    )
    page = Page(render().html)
    company, name, email = keyed("company", URL), keyed("name", URL), keyed("email", URL)

    assert f"https://accounts.example.com/p?c={company}&n={name}#{name}" in page.hrefs()
    assert f"mailto:{email}?subject=Hi" in page.hrefs()
    assert f"https://blog.example.com/i.png?for={email}" in [
        i.attrs["src"] for i in page.all("img")
    ]


def test_digests_own_links_may_be_a_whole_href_and_go_anywhere_else_encoded(
    render: Render, templates_dir: Path
) -> None:
    with_footer(
        templates_dir,
        '<mj-button href="{{ unsubscribe_url }}">Leave</mj-button>\n'
        '<mj-text><a href="https://share.example.com/?next={{ unsubscribe_url }}">Share</a>'
        "</mj-text>",
    )
    hrefs = Page(render().html).hrefs()

    assert keyed("unsubscribe_url", HTML) in hrefs
    assert f"https://share.example.com/?next={keyed('unsubscribe_url', URL)}" in hrefs


@pytest.mark.parametrize(
    ("body", "line", "where"),
    [
        ('<mj-text>\n<a href="{{ subscriber.website }}">Site</a></mj-text>', 2, "<a href>"),
        ('<mj-button href="{{ subscriber.website }}/shop">Shop</mj-button>', 1, "<a href>"),
        ('<mj-text><a href="https://{{ subscriber.company }}.example.com/">x</a></mj-text>', 1, ""),
        ('<mj-image src="//{{ subscriber.company }}/p.png" alt="" />', 1, "<img src>"),
    ],
    ids=["whole href", "scheme", "host", "scheme-relative src"],
)
def test_a_merge_field_that_would_make_a_link_is_refused_naming_it_and_its_line(
    render: Render, templates_dir: Path, body: str, line: int, where: str
) -> None:
    with_footer(templates_dir, body)

    with pytest.raises(TemplateError) as refused:
        render()

    message = str(refused.value)
    assert message.startswith(f"templates/partials/footer.mjml.j2:{line + 1}: subscriber.")
    assert "before the link's host is fixed" in message and where in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('<mj-text><span style="color: {{ subscriber.color }}">x</span></mj-text>', "<span style>"),
        ('<mj-text><b onmouseover="{{ subscriber.name }}">x</b></mj-text>', "<b onmouseover>"),
        ("<mj-raw><script>var who = '{{ subscriber.name }}';</script></mj-raw>", "<script>"),
        (
            '<mj-raw><style data-premailer="ignore">.a { color: {{ subscriber.color }}; }</style>'
            "</mj-raw>",
            "<style>",
        ),
    ],
    ids=["style attribute", "event handler", "script", "style element"],
)
def test_css_and_script_places_are_refused(
    render: Render, templates_dir: Path, body: str, where: str
) -> None:
    with_footer(templates_dir, body)

    with pytest.raises(TemplateError, match=re.escape(where)) as refused:
        render()

    assert str(refused.value).startswith("templates/partials/footer.mjml.j2:2: subscriber.")


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (f"<p>x</p><!-- for {keyed('name')} --><p>y</p>", "in an HTML comment"),
        (f"<p{keyed('tag')} class='a'>x</p>", "as a tag's name"),
        (f"<p data-{keyed('name')}='1'>x</p>", "as an attribute's name in <p>"),
        (f"<p title={keyed('name')}>x</p>", "in <p title> without quotes"),
        (f"<!DOCTYPE {keyed('name')}><p>x</p>", "in the document's declaration"),
    ],
)
def test_comments_names_and_unquoted_attributes_are_refused(document: str, where: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(where)):
        place_tokens(document, TOKEN_KEY, lambda patterns: "templates/x.mjml.j2:1")


def test_outlook_conditional_comments_are_markup_like_the_rest() -> None:
    document = (
        f'<!--[if mso]><a href="https://x.example/?n={keyed("name")}">{keyed("name")}</a>'
        f'<![endif]--><!--[if !mso]><!--><p title="{keyed("name")}">x</p><!--<![endif]-->'
    )

    placed = place_tokens(document, TOKEN_KEY, lambda patterns: "")

    assert placed == (
        f'<!--[if mso]><a href="https://x.example/?n={keyed("name", URL)}">'
        f"{keyed('name', HTML)}</a><![endif]--><!--[if !mso]><!-->"
        f'<p title="{keyed("name", HTML)}">x</p><!--<![endif]-->'
    )


def test_token_text_from_a_post_stays_as_it_is(render: Render) -> None:
    planted = ["%%email%%", "%%name.html%%", "%%AAAAAAAAAAAA.email%%", "%%k3J9xq2TmQ7b.email.url%%"]
    shown, query = " ".join(planted), "&".join(f"{n}={t}" for n, t in enumerate(planted))
    post = make_post(
        0,
        title=f"Win {shown}",
        image=f"https://evil.example.com/p.gif?{query}",
        image_alt=shown,
        summary=shown,
    )
    email = render(make_digest(1, post))
    page = Page(email.html)

    assert f"Win {shown}" in page.text and f"Win {shown}" in email.text
    images = page.all("img")
    assert f"https://evil.example.com/p.gif?{query}" in [image.attrs["src"] for image in images]
    assert shown in [image.attrs["alt"] for image in images]
    assert set(re.findall(r"%%k3J9xq2TmQ7a\.[\w.]+%%", email.html)) == {
        keyed("first_name", HTML),
        keyed("unsubscribe_url", HTML),
    }


def test_sendgrid_tags_from_a_post_are_inert_in_subject_and_text(render: Render) -> None:
    tags = "<%asm_group_unsubscribe_raw_url%> <%asm_global_unsubscribe_url%>"
    email = render(make_digest(1, title=f"Sale {tags}"), unsubscribe_mode="asm")

    assert "<%asm_group_unsubscribe_raw_url%>" in email.text, "the template's own link"
    assert email.text.count("<%") == 2, "the footer's two links, nothing from the post"
    assert "<%" not in email.subject and "<%" not in email.html.replace('href="<%asm_', "")
    inert = tags.replace("<%", "<\u2060%")
    assert f"Sale {inert}" in email.subject and f"Sale {inert}" in email.text
