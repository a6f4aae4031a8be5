"""Template overrides and template errors: one line naming the file and line, or MJML's reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from digest.errors import TemplateError
from tests.render.conftest import Render
from tests.render.helpers import NEWSLETTER, Page

BUILTIN = Path(__file__).resolve().parents[2] / "digest" / "scaffold" / "templates"


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_overriding_one_partial_keeps_the_others(render: Render, templates_dir: Path) -> None:
    write(
        templates_dir,
        "partials/footer.mjml.j2",
        '<mj-section><mj-column><mj-text>Our own footer. <a href="{{ unsubscribe_url }}">Bye</a>'
        "</mj-text></mj-column></mj-section>\n",
    )
    email = render()
    page = Page(email.html)

    assert "Our own footer." in page.text
    assert "Example Weekly" in page.text
    assert "More posts" in page.text
    assert "You are receiving this" in email.text


def test_overriding_the_text_template(render: Render, templates_dir: Path) -> None:
    write(templates_dir, "digest.txt.j2", "{{ featured.title }} -> {{ featured.url }}\n")
    email = render()
    assert email.text.startswith("Post number 0 -> https://blog.example.com/posts/0/?utm_")
    assert "Post number 0" in Page(email.html).text


def test_a_template_change_shows_at_the_next_render(render: Render, templates_dir: Path) -> None:
    write(templates_dir, "digest.txt.j2", "first version\n")
    assert render().text == "first version\n"
    write(templates_dir, "digest.txt.j2", "second version, longer than the first\n")
    assert render().text == "second version, longer than the first\n"


def test_syntax_error_names_the_file_and_line(render: Render, templates_dir: Path) -> None:
    source = (BUILTIN / "digest.mjml.j2").read_text(encoding="utf-8").splitlines()
    source[11] = "  {{ newsletter.name }"
    write(templates_dir, "digest.mjml.j2", "\n".join(source))

    with pytest.raises(TemplateError) as caught:
        render()
    message = str(caught.value)
    assert message.startswith("templates/digest.mjml.j2:12: unexpected '}'")
    assert "\n" not in message


def test_syntax_error_in_a_partial_names_the_partial(render: Render, templates_dir: Path) -> None:
    write(templates_dir, "partials/header.mjml.j2", "<mj-section>\n{% if site_url %}\n")
    with pytest.raises(TemplateError, match=r"^templates/partials/header\.mjml\.j2:\d+: "):
        render()


def test_undefined_variable_names_the_file_and_line(render: Render, templates_dir: Path) -> None:
    write(templates_dir, "digest.txt.j2", "Hello\n{{ featured.title }}\n{{ feature.title }}\n")
    with pytest.raises(TemplateError) as caught:
        render()
    assert str(caught.value).startswith("templates/digest.txt.j2:3: 'feature' is undefined")


def test_undefined_attribute_in_a_partial(render: Render, templates_dir: Path) -> None:
    write(
        templates_dir,
        "partials/teaser.mjml.j2",
        "<mj-column>\n<mj-text>{{ post.subtitle }}</mj-text>\n</mj-column>\n",
    )
    with pytest.raises(TemplateError) as caught:
        render()
    message = str(caught.value)
    assert message.startswith("templates/partials/teaser.mjml.j2:2: ")
    assert "subtitle" in message


def test_missing_partial_is_named(render: Render, templates_dir: Path) -> None:
    write(templates_dir, "digest.txt.j2", 'One\n{% include "partials/nowhere.txt.j2" %}\n')
    with pytest.raises(TemplateError, match=r"templates/digest\.txt\.j2:2: .*partials/nowhere"):
        render()


def test_subject_error_names_the_config_key(render: Render) -> None:
    with pytest.raises(TemplateError, match=r"\[newsletter\] subject"):
        render(newsletter=replace(NEWSLETTER, subject="{{ featured.title "))
    with pytest.raises(TemplateError, match=r"\[newsletter\] subject: 'headline' is undefined"):
        render(newsletter=replace(NEWSLETTER, subject="{{ headline }}"))


def test_reason_error_names_the_config_key(render: Render) -> None:
    with pytest.raises(TemplateError, match=r"\[newsletter\] reason"):
        render(newsletter=replace(NEWSLETTER, reason="{% if %}"))


def test_subject_is_one_line_of_plain_text(render: Render) -> None:
    newsletter = replace(NEWSLETTER, subject="{{ newsletter.name }}\n  <{{ featured.title }}>  ")
    assert render(newsletter=newsletter).subject == "Example Weekly <Post number 0>"
