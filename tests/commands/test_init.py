"""`digest init`: a folder of the newsletter's own values (as options, or answers on a
terminal), none of the example's; `--example` for the bundled example."""

from __future__ import annotations

import filecmp
import os
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Newsletter, load_settings
from digest.config.example import example_keys
from tests.commands.conftest import NOW
from tests.terminal import run_on_a_terminal

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ROOT / "digest" / "scaffold"
OWN = {
    "--name": "Field Notes",
    "--from-email": "notes@fieldnotes.org",
    "--reply-to": "me@fieldnotes.org",
    "--site-url": "https://fieldnotes.org",
    "--postal-address": "1 Main St, Springfield",
    "--unsubscribe-url": "https://news.fieldnotes.org/unsubscribe?token={token}",
}


def init(tmp_path: Path, *args: str) -> Result:
    """`digest init ARGS` run in tmp_path, with no terminal."""
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        return CliRunner().invoke(cli, ["init", *args])
    finally:
        os.chdir(previous)


def options(values: dict[str, str]) -> list[str]:
    return [word for pair in values.items() for word in pair]


def test_without_a_terminal_or_options_it_writes_nothing_of_the_examples(tmp_path: Path) -> None:
    result = init(tmp_path, "news")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "news"
    assert sorted(path.name for path in folder.iterdir()) == [
        "digest.toml", "sample-feed.xml", "subscribers.csv", "templates",
    ]  # fmt: skip
    settings = load_settings(folder / "digest.toml", {})
    assert example_keys(settings) == ["source.location"]  # the sample feed, and nothing else
    text = (folder / "digest.toml").read_text()
    assert "ftvconsulting" not in text.lower() and "FTV" not in text
    assert (folder / "subscribers.csv").read_text() == "email,name,status,tags,subscribed_at\n"
    assert not filecmp.dircmp(folder / "templates", BUILTIN / "templates").diff_files
    assert result.output.splitlines()[-2:] == [
        "Still to set in news/digest.toml: newsletter.from_email, newsletter.postal_address, "
        "unsubscribe.url, source.location (the sample feed)",
        "Next: cd news && digest build",
    ]


def test_the_options_values_are_the_newsletters(tmp_path: Path) -> None:
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "feed.xml").write_bytes((BUILTIN / "feed.xml").read_bytes())
    given = {**OWN, "--feed": "blog/feed.xml", "--reader": "Me@FieldNotes.org"}
    result = init(tmp_path, "news", *options(given))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "news"
    settings = load_settings(folder / "digest.toml", {})
    newsletter = settings.newsletter
    assert (newsletter.name, newsletter.from_email, newsletter.reply_to) == (
        "Field Notes", "notes@fieldnotes.org", "me@fieldnotes.org",
    )  # fmt: skip
    assert newsletter.site_url == "https://fieldnotes.org"
    assert newsletter.postal_address == "1 Main St, Springfield"
    assert settings.unsubscribe.url == OWN["--unsubscribe-url"]
    assert newsletter.reason == Newsletter().reason  # the default, not the example's
    assert newsletter.view_online_url == ""
    assert (settings.source.type, settings.source.location) == ("feed", "../blog/feed.xml")
    assert settings.path(settings.source.location).resolve() == tmp_path / "blog" / "feed.xml"
    assert (folder / "subscribers.csv").read_text().splitlines()[1] == "Me@fieldnotes.org,,active,,"
    assert not (folder / "sample-feed.xml").exists()
    assert "Still to set" not in result.output
    assert example_keys(settings) == []


def test_a_folder_of_markdown_posts_is_read_as_one(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    assert init(tmp_path, "news", "--feed", str(tmp_path / "posts")).exit_code == 0
    settings = load_settings(tmp_path / "news" / "digest.toml", {})
    assert (settings.source.type, settings.source.location) == ("markdown", "../posts")


def test_a_feed_url_is_kept_as_it_is(tmp_path: Path) -> None:
    url = "https://fieldnotes.org/feed.xml"
    assert init(tmp_path, "news", "--feed", url).exit_code == 0
    assert load_settings(tmp_path / "news" / "digest.toml", {}).source.location == url


@pytest.mark.parametrize(
    "name", ['Field "Notes" \\ Weekly', "Ünïcödé Notes 📬", "# not a comment = 'x'", "a\\nb"]
)
def test_any_printable_value_reads_back_as_given(tmp_path: Path, name: str) -> None:
    result = init(tmp_path, "news", "--name", name, "--postal-address", f"{name}\t1 Main St")
    assert result.exit_code == 0, result.output
    table = tomllib.loads((tmp_path / "news" / "digest.toml").read_text(encoding="utf-8"))
    assert table["newsletter"]["name"] == name
    assert table["newsletter"]["postal_address"] == f"{name}\t1 Main St"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--site-url", "ftp://fieldnotes.org"], "--site-url: newsletter.site_url must be an http"),
        (["--from-email", "Notes <notes@x.org>"], "--from-email: newsletter.from_email must be a"),
        (["--name", "two\nlines"], "--name: newsletter.name must be printable text on one line"),
        (["--asm-group-id", "many"], "--asm-group-id: sendgrid.asm_group_id must be a whole"),
        (["--unsubscribe-url", "https://x.org/u"], "--unsubscribe-url: unsubscribe.url 'https"),
        (["--reader", "me"], "--reader: 'me' is not an address"),
    ],
)
def test_a_bad_value_is_one_line_and_nothing_is_made(
    tmp_path: Path, given: list[str], said: str
) -> None:
    result = init(tmp_path, "news", *given)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {said}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "news").exists()


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "subscribers.csv").write_text("email\nkeep@me.org\n")
    result = init(tmp_path, "news", "--name", "Field Notes")
    assert result.exit_code == 1
    assert "news/subscribers.csv already exists" in result.stderr
    assert (tmp_path / "news" / "subscribers.csv").read_text() == "email\nkeep@me.org\n"
    assert sorted(path.name for path in (tmp_path / "news").iterdir()) == ["subscribers.csv"]


def test_example_copies_the_bundled_example(tmp_path: Path) -> None:
    result = init(tmp_path, "demo", "--example")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "demo"
    for name in ("digest.toml", "subscribers.csv", "feed.xml"):
        assert (folder / name).read_bytes() == (BUILTIN / name).read_bytes()
    assert not (folder / "sample-feed.xml").exists()
    refused = init(tmp_path, "demo2", "--example", "--name", "Mine")
    assert refused.exit_code == 2
    assert "--example copies the example as it is" in refused.stderr


def test_a_new_folder_builds_and_says_what_is_left(tmp_path: Path) -> None:
    assert init(tmp_path, "news", *options(OWN)).exit_code == 0
    previous = Path.cwd()
    os.chdir(tmp_path / "news")
    try:
        result = CliRunner().invoke(cli, ["build", "--now", NOW], env={"DIGEST_CONFIG": ""})
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    assert "Sample post: your newest post will lead here" in result.stdout
    assert (
        "warning: still the example's: source.location; set your own in digest.toml before a "
        "send (readers would get them)"
    ) in result.stderr.splitlines()
    html = (tmp_path / "news" / "out" / "digest.html").read_text()
    assert "Field Notes" in html and "1 Main St, Springfield" in html
    assert "ftvconsulting" not in html.lower()


def init_on_a_terminal(args: list[str], answers: list[str], cwd: Path) -> str:
    """`python -m digest init ARGS` at a terminal, answering its questions; what it showed."""
    command = [sys.executable, "-m", "digest", "init", *args]
    status, shown = run_on_a_terminal(command, answers, cwd, {"PYTHONPATH": str(ROOT)})
    assert status == 0, shown
    return shown


@pytest.mark.slow
def test_on_a_terminal_it_asks_for_each_value_and_asks_again_when_one_does_not_read(
    tmp_path: Path,
) -> None:
    answers = [
        "",  # the name: the default shown
        "notes@fieldnotes.org",
        "",  # no Reply-To
        "fieldnotes.org",  # no scheme: asked again
        "https://fieldnotes.org",
        "1 Main St, Springfield",
        "https://fieldnotes.org/feed.xml",
        "",  # no unsubscribe URL yet
        "",  # nor a group
        "me@fieldnotes.org",
    ]
    shown = init_on_a_terminal(["news"], answers, tmp_path)
    assert "Newsletter name [My Newsletter]:" in shown
    assert "newsletter.site_url must be an http(s) URL such as https://example.com, not" in shown
    settings = load_settings(tmp_path / "news" / "digest.toml", {})
    assert settings.newsletter.name == "My Newsletter"
    assert settings.newsletter.from_email == "notes@fieldnotes.org"
    assert settings.newsletter.site_url == "https://fieldnotes.org"
    assert settings.source.location == "https://fieldnotes.org/feed.xml"
    assert (settings.unsubscribe.url, settings.sendgrid.asm_group_id) == ("", 0)
    assert "me@fieldnotes.org,,active" in (tmp_path / "news" / "subscribers.csv").read_text()
    assert "Still to set in news/digest.toml: unsubscribe.url" in shown


@pytest.mark.slow
def test_on_a_terminal_the_options_given_are_not_asked(tmp_path: Path) -> None:
    given = [*options(OWN), "--feed", "https://fieldnotes.org/feed.xml", "--reader", ""]
    shown = init_on_a_terminal(["news", *given], [], tmp_path)
    assert "?" not in shown.split("created")[0] and ":" not in shown.split("created")[0]
    assert load_settings(tmp_path / "news" / "digest.toml", {}).newsletter.name == "Field Notes"


def test_quiet_makes_the_folder_without_a_word(tmp_path: Path) -> None:
    result = init(tmp_path, "news", "-q", "--name", "Field Notes")
    assert (result.exit_code, result.output) == (0, "")
    assert (tmp_path / "news" / "digest.toml").is_file()
