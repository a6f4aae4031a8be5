"""SendGrid's suppression lists read through the official SDK from the local stand-in:
every page, the status each list calls for, retries of what may pass, bounds."""

from __future__ import annotations

import random
import socket
from typing import Any

import pytest

from digest.deliver import suppressions
from digest.deliver.sendgrid import SendGridApi
from digest.deliver.suppressions import PAGE, Suppressed, read_suppressions
from digest.errors import SyncError
from tests.deliver.conftest import SENDGRID_TEST_KEY
from tests.sendgrid_server import SendGridServer


def api(url: str, *, timeout: float = 5.0, slept: list[float] | None = None) -> SendGridApi:
    record = slept if slept is not None else []
    return SendGridApi(
        api_key=SENDGRID_TEST_KEY,
        host=url,
        timeout=timeout,
        max_retries=2,
        sleep=record.append,
        clock=lambda: 1_800_000_000.0,
        rng=random.Random(7),
    )


def test_each_list_is_read_to_its_last_page_with_the_status_it_calls_for(
    sendgrid_server: SendGridServer,
) -> None:
    account = sendgrid_server.account
    for n in range(PAGE + 1):
        account.bounces.add(f"b{n}@example.com")
    account.unsubscribes.add("u@example.com")
    account.invalid_emails.add("i@example.com")
    account.spam_reports.add("s@example.com")
    account.asm_groups.add(9, suppressions=["g@example.com"])

    found = list(read_suppressions(api(sendgrid_server.url).get, 9))

    assert found[0] == Suppressed("u@example.com", "unsubscribed", "SendGrid's global unsubscribes")
    assert [entry.address for entry in found[1 : PAGE + 2]] == [
        f"b{n}@example.com" for n in range(PAGE + 1)
    ]
    assert {entry.status for entry in found[1 : PAGE + 2]} == {"bounced"}
    assert [(entry.address, entry.status) for entry in found[PAGE + 2 :]] == [
        ("i@example.com", "bounced"),
        ("s@example.com", "complained"),
        ("g@example.com", "unsubscribed"),
    ]


def test_no_group_means_no_group_request(sendgrid_server: SendGridServer) -> None:
    list(read_suppressions(api(sendgrid_server.url).get, 0))
    assert not [call for call in sendgrid_server.calls if call.path.startswith("/v3/asm/")]


def test_a_lost_answer_is_asked_again_as_a_get_changes_nothing(
    sendgrid_server: SendGridServer,
) -> None:
    sendgrid_server.account.spam_reports.add("s@example.com")
    sendgrid_server.hang_next(2, path="/v3/suppression/spam_reports")
    slept: list[float] = []
    found = list(read_suppressions(api(sendgrid_server.url, timeout=0.5, slept=slept).get, 0))
    assert [entry.address for entry in found] == ["s@example.com"]
    assert len(slept) == 1


def test_a_reset_far_away_or_a_server_that_stays_down_is_one_sync_error(
    sendgrid_server: SendGridServer,
) -> None:
    sendgrid_server.fail_next(429, reset_at=1_800_000_000 + 3600)
    with pytest.raises(SyncError, match="the wait it asks for, 3600 s, is longer"):
        list(read_suppressions(api(sendgrid_server.url).get, 0))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{taken.getsockname()[1]}"
    with pytest.raises(SyncError, match=f"after 3 attempts: cannot reach SendGrid at {closed}"):
        list(read_suppressions(api(closed).get, 0))


def test_a_server_that_never_sends_a_short_page_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suppressions, "MAX_PAGES", 3)
    asked: list[dict[str, int]] = []

    def endless(*path: str, query: dict[str, int], **_: Any) -> list[dict[str, str]]:
        asked.append(query)
        return [{"email": f"x{len(asked)}-{n}@example.com"} for n in range(PAGE)]

    with pytest.raises(SyncError, match="unsubscribes list goes on past 1,500 entries"):
        list(read_suppressions(endless, 0))
    assert [query["offset"] for query in asked] == [0, 500, 1000]


def test_entries_without_an_address_are_passed_over() -> None:
    def odd(*path: str, **_: Any) -> Any:
        if path[-1] == "unsubscribes":
            return [{"email": "a@example.com"}, {"email": None}, "b@example.com", {}]
        return [] if path[0] == "suppression" else ["g@example.com", 7]

    assert [entry.address for entry in read_suppressions(odd, 3)] == [
        "a@example.com",
        "g@example.com",
    ]
