"""The unsubscribe loop closed: a real `digest unsubscribe serve` process and the SendGrid
stand-in; a send, one click, the next send without that reader, and sync writing them
into the list. And a send after sync reaches exactly the readers it should."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.commands.conftest import SECRET, Folder
from tests.commands.test_send import send
from tests.sendgrid_server import SendGridServer
from tests.web.web_helpers import clean_env, one_click, start_server

NEXT_WEEK = "2026-12-04T09:00:00-08:00"
NEW_POST = """
    <item>
      <title>A post for the next edition</title>
      <link>https://ftvconsulting.example.com/blog/next/</link>
      <guid isPermaLink="true">https://ftvconsulting.example.com/blog/next/</guid>
      <pubDate>Tue, 01 Dec 2026 17:00:00 GMT</pubDate>
      <description>Something new.</description>
    </item>"""


def write_list(folder: Folder, text: str) -> Path:
    path = folder.path / "subscribers.csv"
    path.unlink()
    path.write_text(text, encoding="utf-8")
    return path


def add_a_post(folder: Folder) -> None:
    feed = folder.path / "feed.xml"
    text = feed.read_text(encoding="utf-8")
    feed.write_text(
        text.replace("<language>en-us</language>", f"<language>en-us</language>{NEW_POST}"),
        encoding="utf-8",
    )


def list_unsubscribe(server: SendGridServer, reader: str) -> tuple[str, dict[str, str]]:
    """The reader's unsubscribe URL as the stand-in received it, and their headers."""
    for request in server.requests:
        shared = request.body.get("headers", {})
        for personalization in request.body["personalizations"]:
            if personalization["to"][0]["email"] == reader:
                headers = {**shared, **personalization.get("headers", {})}
                return headers["List-Unsubscribe"].strip("<>"), headers
    raise AssertionError(f"{reader} got nothing")


@pytest.mark.slow
def test_one_click_keeps_the_reader_out_of_the_next_send_and_sync_writes_it(
    ready: Folder, server: SendGridServer, tmp_path: Path
) -> None:
    readers = [f"{name}@example.com" for name in ("ada", "bob", "cy", "di")]
    path = write_list(
        ready, "email,name,status\n" + "".join(f"{r},{r[:2]},active\n" for r in readers)
    )
    with (tmp_path / "endpoint.log").open("w", encoding="utf-8") as log:
        endpoint = start_server(ready.path, log, clean_env(DIGEST_UNSUBSCRIBE_SECRET=SECRET))
        try:
            assert send(ready).exit_code == 0
            assert sorted(server.accepted_recipients()) == readers
            url, headers = list_unsubscribe(server, "bob@example.com")
            assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            # The TLS proxy in front of the endpoint passes the path and query as they are.
            parts = urlsplit(url)
            assert one_click(f"{endpoint.base}{parts.path}?{parts.query}").status == 200
        finally:
            endpoint.stop()

    server.reset()
    add_a_post(ready)
    again = ready.run("send", "--yes", "--now", NEXT_WEEK)
    assert again.exit_code == 0, again.output
    assert "skipped 1 unsubscribed through the link" in again.stdout
    assert sorted(server.accepted_recipients()) == [r for r in readers if r != "bob@example.com"]

    synced = ready.run("subscribers", "sync")
    assert synced.exit_code == 0, synced.output
    assert "1 now unsubscribed: 1 from the unsubscribe link (bob@example.com)" in synced.stdout
    assert "bob@example.com,bo,unsubscribed\n" in path.read_text(encoding="utf-8")
    assert ready.run("subscribers", "check").exit_code == 0


def test_a_send_after_sync_reaches_exactly_the_active_valid_unsuppressed_unique_readers(
    ready: Folder, server: SendGridServer
) -> None:
    write_list(
        ready,
        "email,name,status\n"
        "ada@example.com,Ada,active\n"  # sent
        "ADA@Example.com,Ada twice,active\n"  # the same reader: sent once
        "bob@example.com,Bob,active\n"  # bounced at SendGrid
        "cy@example.com,Cy,\n"  # a spam report at SendGrid
        "di@example.com,Di,active\n"  # unsubscribed at SendGrid
        "eve@example.com,Eve,active\n"  # in the unsubscribe group
        "fay@example.com,Fay,active\n"  # an invalid email at SendGrid
        "gus@example.com,Gus,unsubscribed\n"  # unsubscribed here
        "not-an-address,Broken,active\n"  # invalid here
        "hal@example.com,Hal,active\n"  # sent
        "ivy@bücher.example,Ivy,active\n",  # sent, in its ASCII form
    )
    account = server.account
    account.bounces.add("BOB@example.com")
    account.spam_reports.add("cy@example.com")
    account.unsubscribes.add("di@example.com")
    account.asm_groups.add(77, suppressions=["eve@example.com"])
    account.invalid_emails.add("fay@example.com")
    ready.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "77"

    assert ready.run("subscribers", "sync").exit_code == 0
    result = send(ready)

    assert result.exit_code == 0, result.output
    expected = ["ada@example.com", "hal@example.com", "ivy@xn--bcher-kva.example"]
    assert Counter(server.accepted_recipients()) == Counter(expected)
    assert (
        "skipped 2 bounced, 1 complained, 1 duplicate, 1 invalid, 3 unsubscribed" in result.stdout
    )
