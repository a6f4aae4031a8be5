"""A newsletter folder not set up yet: build and the dry run show marked placeholders and
say so, a test send refuses to mail a link nothing fills, and values still the example's
are named."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.commands.conftest import NOW, Folder
from tests.sendgrid_server import SendGridServer

NO_URL = "unsubscribe.url is not set (nor sendgrid.asm_group_id): the unsubscribe link goes to"
PLACEHOLDER = "https://unsubscribe-url-not-set.invalid/set-unsubscribe.url?token="
EXAMPLE_KEYS = (
    "newsletter.name, newsletter.from_email, newsletter.reply_to, newsletter.site_url, "
    "newsletter.postal_address, newsletter.reason, newsletter.view_online_url, unsubscribe.url"
)
OWN = {
    "name": "Field Notes",
    "from_email": "notes@fieldnotes.test",
    "reply_to": "me@fieldnotes.test",
    "site_url": "https://fieldnotes.test",
    "postal_address": "1 Main St, Springfield",
    "reason": "You signed up for Field Notes.",
    "view_online_url": "https://fieldnotes.test/issues/{edition}/",
}


def set_key(folder: Folder, key: str, value: str) -> None:
    """Write ``key = "value"`` in place of the key's line in digest.toml."""
    folder.edit_config(
        lambda text: re.sub(rf'(?m)^{key} = ".*"', f'{key} = "{value}"', text, count=1)
    )


def make_own(folder: Folder) -> None:
    for key, value in OWN.items():
        set_key(folder, key, value)
    set_key(folder, "url", "https://fieldnotes.test/unsubscribe?token={token}")


def written(folder: Folder, *names: str) -> str:
    return "".join((folder.path / name).read_text() for name in names)


def outbox_text(folder: Folder, edition: str) -> str:
    """Every message of the outbox folder, decoded, as one text."""
    parts = []
    for path in sorted((folder.path / "outbox" / edition).glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        parts.append(str(message["List-Unsubscribe"]))
        parts += [part.get_content() for part in message.walk() if not part.is_multipart()]
    assert parts, "the outbox holds messages"
    return "\n".join(parts)


def test_build_renders_without_a_sender_and_says_so(folder: Folder) -> None:
    set_key(folder, "from_email", "")
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "warning: newsletter.from_email is not set: the From line shows" in result.stderr
    eml = message_from_bytes((folder.path / "out" / "digest.eml").read_bytes())
    assert eml["From"] == "FTV Consulting Insights <from_email-not-set@digest.invalid>"


@pytest.mark.parametrize(
    ("args", "edition"),
    [([], "2026-11-27"), (["--to", "me@example.com"], "2026-11-27-test")],
)
def test_a_dry_run_without_a_sender_shows_the_placeholder_and_says_so(
    folder: Folder, args: list[str], edition: str
) -> None:
    set_key(folder, "from_email", "")
    result = folder.run("send", "--dry-run", *args, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "warning: newsletter.from_email is not set: the From line shows" in result.stderr
    messages = sorted((folder.path / "outbox" / edition).glob("*.eml"))
    assert messages
    for path in messages:
        eml = message_from_bytes(path.read_bytes())
        assert eml["From"] == "FTV Consulting Insights <from_email-not-set@digest.invalid>"


def test_a_test_send_still_needs_a_sender(ready: Folder, server: SendGridServer) -> None:
    set_key(ready, "from_email", "")
    result = ready.run("send", "--to", "me@example.com", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: newsletter.from_email is not set")
    assert server.requests == []


def test_build_without_an_unsubscribe_url_links_to_a_marked_placeholder(folder: Folder) -> None:
    set_key(folder, "url", "")
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"warning: {NO_URL}" in result.stderr
    out = written(folder, "out/digest.html", "out/digest.txt", "out/digest.eml")
    assert "%%" not in out
    assert f'href="{PLACEHOLDER}' in (folder.path / "out" / "digest.html").read_text()
    assert PLACEHOLDER in (folder.path / "out" / "digest.txt").read_text()


@pytest.mark.parametrize(
    ("args", "edition"),
    [([], "2026-11-27"), (["--to", "me@example.com"], "2026-11-27-test")],
)
def test_a_dry_run_without_an_unsubscribe_url_shows_the_placeholder(
    folder: Folder, args: list[str], edition: str
) -> None:
    set_key(folder, "url", "")
    result = folder.run("send", "--dry-run", *args, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"warning: {NO_URL}" in result.stderr
    shown = outbox_text(folder, edition)
    assert "%%" not in shown
    assert PLACEHOLDER in shown


def test_a_test_send_without_an_unsubscribe_url_is_refused(
    ready: Folder, server: SendGridServer
) -> None:
    set_key(ready, "url", "")
    result = ready.run("send", "--to", "me@example.com", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: unsubscribe.url is not set, so the test's unsubscribe link would be a raw "
        "%%...unsubscribe_url%% token; set [unsubscribe] url or [sendgrid] asm_group_id (see "
        "README, SendGrid setup); `digest send --dry-run --to ADDR` rehearses without one"
    ]
    assert server.requests == []
    assert "No editions" in ready.run("history").stdout


def test_a_test_of_templates_without_the_link_goes_without_a_url(
    ready: Folder, server: SendGridServer
) -> None:
    set_key(ready, "url", "")
    for name in ("footer.mjml.j2", "footer.txt.j2"):
        partial = ready.path / "templates" / "partials" / name
        kept = [line for line in partial.read_text().splitlines() if "unsubscribe_url" not in line]
        partial.write_text("\n".join(kept) + "\n")
    result = ready.run("send", "--to", "me@example.com", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 1
    assert "unsubscribe_url" not in str(server.requests[0].body)


def test_in_asm_mode_a_test_through_another_backend_is_refused(folder: Folder) -> None:
    folder.env.update(DIGEST_SENDGRID_ASM_GROUP_ID="4242", DIGEST_DELIVERY_BACKEND="outbox")
    result = folder.run("send", "--to", "me@example.com", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: sendgrid.asm_group_id works only with delivery.backend = sendgrid: through "
        "outbox the test's unsubscribe link would be SendGrid's tag, unfilled"
    )
    assert not (folder.path / "outbox").exists()


def test_in_asm_mode_a_test_through_sendgrid_carries_the_groups_tags(
    ready: Folder, server: SendGridServer
) -> None:
    ready.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "4242"
    result = ready.run("send", "--to", "me@example.com", "--now", NOW)
    assert result.exit_code == 0, result.output
    html = server.requests[0].body["content"][1]["value"]
    assert 'href="<%asm_group_unsubscribe_raw_url%>"' in html


@pytest.mark.parametrize("args", [[], ["--to", "me@example.com"]])
def test_in_asm_mode_a_dry_run_shows_where_sendgrids_link_goes(
    folder: Folder, args: list[str]
) -> None:
    folder.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "4242"
    result = folder.run("send", "--dry-run", *args, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert NO_URL not in result.stderr
    shown = outbox_text(folder, "2026-11-27-test" if args else "2026-11-27")
    assert "<%asm" not in shown and "%%" not in shown
    assert "https://sendgrid.example/unsubscribe-link-added-by-sendgrid" in shown


@pytest.mark.parametrize("command", [["build"], ["send", "--dry-run"]])
def test_values_still_the_examples_are_named(folder: Folder, command: list[str]) -> None:
    result = folder.run(*command, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"warning: still the example's: {EXAMPLE_KEYS}; set your own" in result.stderr
    make_own(folder)
    result = folder.run(*command, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "still the example's" not in result.stderr


def test_one_value_left_at_an_example_domain_is_named(folder: Folder) -> None:
    make_own(folder)
    folder.env["DIGEST_NEWSLETTER_REPLY_TO"] = "me@my-company.example.org"
    result = folder.run("build", "--now", NOW)
    assert "warning: still the example's: newsletter.reply_to; set your own" in result.stderr


def test_a_source_still_reading_the_sample_feed_is_named(folder: Folder, tmp_path: Path) -> None:
    make_own(folder)
    (folder.path / "feed.xml").rename(folder.path / "sample-feed.xml")
    folder.env["DIGEST_SOURCE_LOCATION"] = "sample-feed.xml"
    result = folder.run("build", "--now", NOW)
    assert "warning: still the example's: source.location; set your own" in result.stderr
