"""Template authors' mistakes are errors naming the template file and line that holds them
(an included partial, not digest.mjml.j2), never silent output: MJML tags that MJML does
not define or in places it does not allow, tags left open, and filters that would change a
per-reader value's token rather than the value."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from digest.errors import TemplateError
from digest.models import default_filter, token
from tests.render.conftest import Render
from tests.render.helpers import NEWSLETTER, TOKEN_KEY

BUILTIN = Path(__file__).resolve().parents[2] / "digest" / "scaffold" / "templates"
FEATURED = "partials/featured.mjml.j2"
HEADER = "partials/header.mjml.j2"


def override(templates_dir: Path, name: str, old: str, new: str) -> str:
    """Write the built-in template ``name`` with ``old`` replaced by ``new`` into the
    newsletter's folder; the text written."""
    text = (BUILTIN / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name}"
    text = text.replace(old, new, 1)
    (templates_dir / name).write_text(text, encoding="utf-8")
    return text


def line_of(text: str, needle: str) -> int:
    """The line of ``text`` (from 1) where ``needle`` first is."""
    return text.count("\n", 0, text.index(needle)) + 1


def error_of(render: Render) -> str:
    with pytest.raises(TemplateError) as caught:
        render()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_unknown_mjml_tag_names_the_partial_and_line(
    render: Render, templates_dir: Path
) -> None:
    """It used to reach the HTML as it was, <mj-buton> and all, with exit 0."""
    text = override(
        templates_dir,
        FEATURED,
        '<mj-text css-class="copy" color="#374151">{{ featured.excerpt }}</mj-text>',
        '<mj-buton href="{{ featured.url }}">Read</mj-buton>',
    )

    message = error_of(render)

    line = line_of(text, "<mj-buton")
    assert message.startswith(f"templates/{FEATURED}:{line}: <mj-buton> is not an MJML tag")
    assert "did you mean <mj-button>?" in message


def test_a_column_left_open_in_a_partial_is_blamed_on_that_partial(
    render: Render, templates_dir: Path
) -> None:
    """MRML says only "unexpected end of stream", which was blamed on digest.mjml.j2."""
    text = override(templates_dir, FEATURED, "      </mj-column>\n", "")

    message = error_of(render)

    opened, closed = line_of(text, "<mj-column>"), line_of(text, "</mj-section>")
    assert message.startswith(
        f"templates/{FEATURED}:{opened}: <mj-column> is not closed before </mj-section> "
        f"at templates/{FEATURED}:{closed}"
    )


def test_a_teasers_column_left_open_is_blamed_on_the_teaser_partial(
    render: Render, templates_dir: Path
) -> None:
    text = override(templates_dir, "partials/teaser.mjml.j2", "      </mj-column>\n", "")

    message = error_of(render)

    line = line_of(text, "<mj-column")
    assert message.startswith(f"templates/partials/teaser.mjml.j2:{line}: <mj-column> is not ")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("<mj-column>", "<mj-text>Brand</mj-text>\n<mj-column>",
         "<mj-text> cannot be inside <mj-section>; it goes inside <mj-column>, <mj-hero>"),
        ("<mj-column>", "<mj-column>\n<div>Brand</div>",
         "HTML <div> directly inside <mj-column>; put HTML inside <mj-text> or <mj-raw>"),
        ("<mj-column>", "<mj-column>\nStray words",
         "text 'Stray words' directly inside <mj-column>; put text inside <mj-text>"),
        ("</mj-text>", '<mj-button href="https://x.example/">Go</mj-button></mj-text>',
         "<mj-button> inside <mj-text>, whose content is HTML; close <mj-text> first"),
        ("</mj-column>", "</mj-column></mj-column>", "</mj-column> closes nothing that is open"),
        ("<mj-column>", '<mj-column>\n<mj-include path="brand.mjml" />',
         "<mj-include> is not an MJML tag; digest's MJML compiler reads no files"),
        ("</mj-text>", "<p>Open paragraph</mj-text>", "<p> is not closed before </mj-text>"),
        ("</mj-text>", "1 < 2</mj-text>", "a '<' that starts no tag; write it as &lt;"),
        ("</mj-column>", "<mj-raw><mj-text>x</mj-text></mj-raw></mj-column>",
         "<mj-text> inside <mj-raw>, whose content is passed on as it is"),
    ],
)  # fmt: skip
def test_mjml_mistakes_are_errors_naming_the_partial_and_line(
    render: Render, templates_dir: Path, old: str, new: str, problem: str
) -> None:
    text = override(templates_dir, HEADER, old, new)
    first_new = next(line for line in new.splitlines() if line not in old)

    message = error_of(render)

    blamed = message.split(": ", 1)[0]
    assert blamed.startswith(f"templates/{HEADER}:")
    assert int(blamed.rsplit(":", 1)[1]) in (line_of(text, first_new), line_of(text, old))
    assert problem in message


def test_lines_are_right_past_jinja_blocks_and_comments(
    render: Render, templates_dir: Path
) -> None:
    """Jinja gives text after an {% if %} the if's line: the tag is found in the source."""
    name = "partials/teaser-text.mjml.j2"
    text = override(templates_dir, name, '<mj-text css-class="copy"', '<mj-txt css-class="copy"')

    message = error_of(render)

    assert message.startswith(f"templates/{name}:{line_of(text, '<mj-txt')}: <mj-txt> is not")


def test_mjmls_own_errors_name_the_partial_and_line(render: Render, templates_dir: Path) -> None:
    text = override(templates_dir, HEADER, "</mj-text>", "<![CDATA[x]]></mj-text>")

    message = error_of(render)

    assert message.startswith(
        f"templates/{HEADER}:{line_of(text, 'CDATA')}: MJML could not compile it: "
    )


# -- filters on per-reader values ---------------------------------------------------------


def text_template(templates_dir: Path, body: str) -> None:
    (templates_dir / "digest.txt.j2").write_text(f"Line one\n{body}\n", encoding="utf-8")


def test_filters_that_work_per_reader_go_into_the_token(
    render: Render, templates_dir: Path
) -> None:
    text_template(
        templates_dir,
        "{{ subscriber.name | upper }} of {{ subscriber.company | d('your team') | title }}, "
        "{{ subscriber.first_name | trim | capitalize }}",
    )

    email = render()

    company = f"company.{default_filter('your team')}.title"
    assert email.text == (
        f"Line one\n{token('name.upper', TOKEN_KEY)} of {token(company, TOKEN_KEY)}, "
        f"{token('first_name.trim.capitalize', TOKEN_KEY)}\n"
    )
    assert email.subscriber_fields == ("company", "first_name", "name")


def test_a_filter_in_the_subject_goes_into_the_token(render: Render) -> None:
    email = render(newsletter=replace(NEWSLETTER, subject="For {{ subscriber.first_name|upper }}"))

    assert email.subject == f"For {token('first_name.upper', TOKEN_KEY)}"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("subscriber.name | length", "subscriber.name | length: the value is filled in"),
        ("subscriber.name | truncate(5)", "subscriber.name | truncate: the value is filled in"),
        ("subscriber.company | replace('a', 'b')", "subscriber.company | replace: "),
        ("subscriber.email | urlencode", "subscriber.email | urlencode: "),
        ("subscriber.email | lower", "subscriber.email | lower: filters would break an address"),
        ("unsubscribe_url | upper", "unsubscribe_url | upper: filters would break an address"),
        ("subscriber.name | trim('x')", "subscriber.name | trim(...): on a per-reader value it"),
        ("subscriber['first name']", "subscriber['first name'], a name that cannot be filled"),
        ("('Dear ' ~ subscriber.name) | upper", "a filter changed a per-reader value's token"),
        ("subscriber.company or 'you'", "subscriber.company is tested ({% if %}, or, and)"),
        ("'x' if subscriber.company else 'y'", "subscriber.company is tested"),
    ],
)
def test_other_filters_on_a_readers_value_name_the_template_and_line(
    render: Render, templates_dir: Path, expression: str, problem: str
) -> None:
    text_template(templates_dir, "{{ " + expression + " }}")

    message = error_of(render)

    assert message.startswith(f"templates/digest.txt.j2:2: {problem}")


def test_a_filter_block_around_a_readers_value_names_the_partial(
    render: Render, templates_dir: Path
) -> None:
    text = override(
        templates_dir,
        FEATURED,
        "Hi {{ subscriber.first_name }}",
        "{% filter upper %}Hi {{ subscriber.first_name }}{% endfilter %}",
    )

    message = error_of(render)

    assert message.startswith(f"templates/{FEATURED}:{line_of(text, 'filter upper')}: a filter")


def test_a_wrong_filter_in_the_subject_names_the_config_key(render: Render) -> None:
    subject = "{{ subscriber.name | wordcount }} words"

    with pytest.raises(TemplateError, match=r"^digest\.toml \[newsletter\] subject: subscriber"):
        render(newsletter=replace(NEWSLETTER, subject=subject))
