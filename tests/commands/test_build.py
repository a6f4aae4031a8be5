"""`digest build` end to end on the bundled example, and the errors a user can cause."""

from __future__ import annotations

import email
import hashlib
import json
from email import policy
from pathlib import Path

import digest
from digest.audience.personalize import PREVIEW_TOKEN
from digest.audience.tokens import UnsubscribeTokens
from tests.commands.conftest import NOW, Folder

TEASER_DATES = [
    "2026-01-30", "2026-01-26", "2026-01-22", "2026-01-19", "2026-01-16",
    "2026-01-13", "2026-01-08", "2026-01-05", "2026-01-02",
]  # fmt: skip


def test_build_writes_the_example_digest(folder: Folder) -> None:
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    out = folder.path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "digest.eml", "digest.html", "digest.txt", "manifest.json",
    ]  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["edition"] == "2026-11-27"
    assert manifest["featured"]["title"].startswith("TAG and AMPTP")
    assert [t["published"][:10] for t in manifest["teasers"]] == TEASER_DATES
    assert manifest["html_bytes"] == len((out / "digest.html").read_bytes())
    assert manifest["html_bytes"] < 90 * 1024
    for name in ("digest.html", "digest.txt", "digest.eml"):
        data = (out / name).read_bytes()
        listed = manifest["files"][name]
        assert listed == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    html = (out / "digest.html").read_text()
    text = (out / "digest.txt").read_text()
    assert "29%" in html and "29%" in text
    assert "August 12" in html
    for teaser in manifest["teasers"]:
        assert teaser["url"] in html.replace("&amp;", "&") or teaser["url"].rstrip("/") in html
        assert teaser["title"] in text
    assert "%%" not in html and "%%" not in text, "every token is filled for the first reader"


def test_build_without_the_secret_uses_a_marked_preview_token(folder: Folder) -> None:
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0
    assert "DIGEST_UNSUBSCRIBE_SECRET is not set" in result.stderr
    assert "PREVIEW" in (folder.path / "out" / "digest.html").read_text()


def test_the_eml_is_a_complete_message(folder: Folder) -> None:
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = "a-long-random-secret"
    assert folder.run("build", "--now", NOW).exit_code == 0
    raw = (folder.path / "out" / "digest.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert message[header], header
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["List-Unsubscribe"].startswith("<https://")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_build_never_carries_the_first_readers_real_token(folder: Folder) -> None:
    secret = "a-long-random-secret"
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = secret
    assert folder.run("build", "--now", NOW).exit_code == 0
    real = UnsubscribeTokens(secret).make("ada@example.com")
    out = folder.path / "out"
    for name in ("digest.html", "digest.txt", "digest.eml", "manifest.json"):
        data = (out / name).read_text()
        assert real not in data, name
    for name in ("digest.html", "digest.txt"):
        assert f"unsubscribe?token={PREVIEW_TOKEN}" in (out / name).read_text(), name
    message = email.message_from_bytes((out / "digest.eml").read_bytes(), policy=policy.default)
    assert PREVIEW_TOKEN in message["List-Unsubscribe"]


def test_a_template_syntax_error_names_the_file_and_line_and_writes_nothing(
    folder: Folder,
) -> None:
    template = folder.path / "templates" / "digest.mjml.j2"
    lines = template.read_text().splitlines()
    after = next(i for i, line in enumerate(lines) if line.startswith("<mjml")) + 1
    lines.insert(after, "{% if %}")
    template.write_text("\n".join(lines))
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 1
    assert f"digest.mjml.j2:{after + 1}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (folder.path / "out").exists()


def test_verbose_shows_the_traceback(folder: Folder) -> None:
    folder.edit_config(lambda text: text.replace('location = "feed.xml"', 'location = "no.xml"'))
    result = folder.run("-v", "build")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr


def test_a_failed_build_keeps_the_previous_output(folder: Folder) -> None:
    assert folder.run("build", "--now", NOW).exit_code == 0
    before = (folder.path / "out" / "digest.html").read_bytes()
    folder.edit_config(lambda text: text.replace('location = "feed.xml"', 'location = "no.xml"'))
    assert folder.run("build", "--now", NOW).exit_code == 1
    assert (folder.path / "out" / "digest.html").read_bytes() == before
    assert sorted(p.name for p in (folder.path / "out").iterdir())[0] == "digest.eml"


def one_error_line(folder: Folder, *args: str) -> str:
    result = folder.run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_bad_input_is_one_line_naming_what_to_fix(folder: Folder, tmp_path: Path) -> None:
    assert "no such config file" in one_error_line(folder, "--config", "nope.toml", "build")
    folder.edit_config(lambda text: text + "\n[extra]\nkey = 1\n")
    assert "unknown section [extra]" in one_error_line(folder, "build")
    folder.edit_config(lambda text: text.replace("\n[extra]\nkey = 1\n", ""))
    folder.env["DIGEST_SELECTION_MAX_POSTS"] = "lots"
    assert "DIGEST_SELECTION_MAX_POSTS" in one_error_line(folder, "build")
    folder.env["DIGEST_SELECTION_MAX_POSTS"] = ""
    folder.edit_config(lambda text: text.replace("max_posts = 10", 'max_posts = "ten"'))
    assert "selection.max_posts" in one_error_line(folder, "build")
    folder.edit_config(lambda text: text.replace('max_posts = "ten"', "max_posts = 10"))
    (folder.path / "feed.xml").write_text("<html><body>not a feed</body></html>")
    assert "feed.xml" in one_error_line(folder, "build")
    (folder.path / "feed.xml").unlink()
    assert "feed.xml" in one_error_line(folder, "build")


def test_a_template_that_is_not_utf8_is_one_line_naming_it(folder: Folder) -> None:
    for name in ("digest.txt.j2", "partials/footer.txt.j2"):
        template = folder.path / "templates" / name
        kept = template.read_bytes()
        template.write_bytes(b"Caf\xe9\n")
        line = one_error_line(folder, "build")
        assert f"{name} is not UTF-8 text (byte 3); save it as UTF-8" in line
        template.write_bytes(kept)


def test_a_now_no_time_zone_can_show_is_a_usage_error(folder: Folder) -> None:
    for moment in ("0001-01-01T00:00+00:00", "9999-12-31T23:59+00:00"):
        result = folder.run("build", "--now", moment)
        assert result.exit_code == 2
        assert "is not between 1900 and 9998" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_subscriber_field_no_reader_has_is_an_error_not_a_blank(folder: Folder) -> None:
    text = folder.path / "templates" / "digest.txt.j2"
    original = text.read_text(encoding="utf-8")
    text.write_text(original + "\nAt {{ subscriber.compnay }}.\n", encoding="utf-8")
    for command in (["build"], ["send", "--dry-run"]):
        line = one_error_line(folder, *command)
        assert "the templates use subscriber.compnay, but subscribers.csv has no compnay" in line
    text.write_text(original + "\nAt {{ subscriber.Company }}.\n", encoding="utf-8")
    line = one_error_line(folder, "build")
    assert "has no Company column; the column is company: write subscriber.company" in line
    text.write_text(original + "\nTagged {{ subscriber.tags }}.\n", encoding="utf-8")
    line = one_error_line(folder, "build")
    assert "the templates use subscriber.tags, which is not filled in per reader" in line
    text.write_text(original + "\nDear {{ subscriber['first name'] }}.\n", encoding="utf-8")
    line = one_error_line(folder, "build")
    assert "subscriber['first name'], a name that cannot be filled in per reader" in line
    text.write_text(original + "\nAt {{ subscriber.company }}.\n", encoding="utf-8")
    assert folder.run("build").exit_code == 0
    assert "At Analytical Engines Ltd." in (folder.path / "out" / "digest.txt").read_text()


def test_an_mjml_error_is_one_line_naming_the_template_and_line(folder: Folder) -> None:
    template = folder.path / "templates" / "digest.mjml.j2"
    text = template.read_text().replace("</mj-body>", "<mj-section></mj-body>", 1)
    template.write_text(text)
    line = one_error_line(folder, "build", "--now", NOW)
    number = text[: text.index("<mj-section></mj-body>")].count("\n") + 1
    assert line.startswith(
        f"error: templates/digest.mjml.j2:{number}: <mj-section> is not closed before </mj-body>"
    )
    assert not (folder.path / "out").exists()


def test_init_refuses_to_overwrite(folder: Folder) -> None:
    result = folder.run("init", str(folder.path))
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_init_copies_the_example_images(folder: Folder) -> None:
    shipped = Path(digest.__file__).parent / "scaffold" / "images"
    names = sorted(path.name for path in shipped.iterdir())
    assert names and sorted(p.name for p in (folder.path / "images").iterdir()) == names
    for name in names:
        assert (folder.path / "images" / name).read_bytes() == (shipped / name).read_bytes()
