"""Mistakes a user can make at the command line: each is one line on stderr and exit 1."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from tests.commands.conftest import NOW, Folder


def one_error_line(folder: Folder, *args: str) -> str:
    """Run `digest ARGS` in the folder: it must fail with exactly one line and no traceback."""
    result = folder.run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("now", [[], ["--now", "2026-03-09T09:00"]])
def test_an_unknown_time_zone_is_named(folder: Folder, now: list[str]) -> None:
    folder.env["DIGEST_SCHEDULE_TIMEZONE"] = "Mars/Olympus"
    line = one_error_line(folder, "build", *now)
    assert "DIGEST_SCHEDULE_TIMEZONE: unknown time zone 'Mars/Olympus'" in line
    assert "use an IANA name such as America/Los_Angeles" in line


def test_a_missing_sender_address_is_named(folder: Folder) -> None:
    """(build and the dry run render with a placeholder sender: test_unfinished_setup.py)"""
    folder.edit_config(lambda text: re.sub(r'(?m)^from_email = ".*"$', 'from_email = ""', text))
    line = one_error_line(folder, "send", "--to", "me@example.com", "--now", NOW)
    assert "newsletter.from_email is not set" in line
    assert "subscribers.csv" not in line


def test_a_folder_in_place_of_an_output_file_replaces_nothing(folder: Folder) -> None:
    out = folder.path / "out"
    assert folder.run("build", "--now", NOW).exit_code == 0
    (out / "digest.html").write_text("the last build")
    (out / "manifest.json").unlink()
    (out / "manifest.json").mkdir()
    line = one_error_line(folder, "build", "--now", NOW)
    assert (
        line
        == "error: cannot write out/manifest.json: a folder is in its place; choose another --out"
    )
    assert (out / "digest.html").read_text() == "the last build"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_out_may_not_be_a_file(folder: Folder, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    line = one_error_line(folder, "build", "--now", NOW, "--out", str(afile))
    assert line == f"error: cannot write to {afile}/: it is a file; choose another --out"
    assert afile.read_text() == "keep me"


def test_out_inside_a_file_is_refused(folder: Folder, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    line = one_error_line(folder, "build", "--now", NOW, "--out", str(afile / "out"))
    assert f"cannot write to {afile / 'out'}/: Not a directory" in line
    assert line.endswith("; choose another --out")


def test_init_into_a_file_names_it(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for target, expected in [
        (afile, f"error: {afile} is a file, not a folder"),
        (afile / "news", f"error: cannot create the newsletter folder {afile / 'news'}: "),
    ]:
        result = CliRunner().invoke(cli, ["init", str(target)])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(expected), result.stderr
        assert result.stderr.count("\n") == 1
    assert afile.read_text() == "keep me"


def test_a_malformed_feed_url_is_named(folder: Folder) -> None:
    folder.env["DIGEST_SOURCE_LOCATION"] = "http://[::1"
    line = one_error_line(folder, "build", "--now", NOW)
    assert "DIGEST_SOURCE_LOCATION must be an http(s) URL such as " in line
    assert "not 'http://[::1'" in line


@pytest.mark.parametrize("value", ["nan", "1e400", "inf"])
def test_a_timeout_that_is_not_finite_is_refused(folder: Folder, value: str) -> None:
    folder.env["DIGEST_SENDGRID_TIMEOUT"] = value
    line = one_error_line(folder, "build", "--now", NOW)
    assert f"DIGEST_SENDGRID_TIMEOUT must be a finite number, not {value!r}" in line


def test_a_huge_max_age_is_refused(folder: Folder) -> None:
    folder.env["DIGEST_SELECTION_MAX_AGE_DAYS"] = "999999999"
    line = one_error_line(folder, "build", "--now", NOW)
    assert "DIGEST_SELECTION_MAX_AGE_DAYS must be at most 36500" in line


def test_max_posts_zero_is_an_error_not_nothing_to_send(folder: Folder) -> None:
    folder.edit_config(lambda text: text.replace("max_posts = 10", "max_posts = 0"))
    line = one_error_line(folder, "build", "--now", NOW)
    assert "selection.max_posts must be at least 1, not 0" in line


def test_a_sendgrid_host_that_is_not_a_url_is_refused(folder: Folder) -> None:
    folder.env["DIGEST_SENDGRID_HOST"] = "api.sendgrid.com"
    line = one_error_line(folder, "send", "--dry-run", "--now", NOW)
    assert "DIGEST_SENDGRID_HOST must be an http(s) URL such as https://api.sendgrid.com" in line


def test_a_missing_templates_folder_under_its_default_name_falls_back(folder: Folder) -> None:
    shutil.rmtree(folder.path / "templates")
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "TAG and AMPTP" in (folder.path / "out" / "digest.html").read_text()


def test_a_missing_templates_folder_named_in_the_config_is_an_error(folder: Folder) -> None:
    folder.env["DIGEST_NEWSLETTER_TEMPLATES"] = "my-templates"
    line = one_error_line(folder, "build", "--now", NOW)
    assert f"newsletter.templates: {folder.path / 'my-templates'} does not exist" in line
    assert not (folder.path / "out").exists()


@pytest.mark.parametrize("name", ["feed.xml", "templates"])
def test_a_templates_path_that_is_a_file_is_an_error(folder: Folder, name: str) -> None:
    folder.env["DIGEST_NEWSLETTER_TEMPLATES"] = name
    if name == "templates":
        shutil.rmtree(folder.path / "templates")
        (folder.path / "templates").write_text("")
    line = one_error_line(folder, "build", "--now", NOW)
    assert f"newsletter.templates: {folder.path / name} is a file, not a folder" in line


def test_several_config_problems_are_one_a_line_under_a_summary(folder: Folder) -> None:
    folder.edit_config(
        lambda text: text.replace("max_posts = 10", "max_post = 10").replace(
            'backend = "sendgrid"', 'backend = "pigeon"'
        )
    )
    folder.env["DIGEST_SELECTION_MAX_AGE_DAYS"] = "lots"
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: digest.toml and the environment have 3 problems:",
        "  unknown key selection.max_post (did you mean selection.max_posts?)",
        "  delivery.backend must be one of sendgrid, smtp, outbox, not 'pigeon'",
        "  environment variable DIGEST_SELECTION_MAX_AGE_DAYS must be a whole number, not 'lots'",
    ]


def test_each_line_of_several_problems_is_terminal_safe(folder: Folder) -> None:
    folder.edit_config(lambda text: text.replace("max_posts = 10", '"max\\u001b[2Jpost" = 1'))
    folder.env["DIGEST_SELECTION_MAX_AGE_DAYS"] = "lots"
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr
    assert "  unknown key selection.max\\x1b[2Jpost" in result.stderr
