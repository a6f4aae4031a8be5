"""`digest subscribers sync` against the local SendGrid stand-in: every page of every list,
the mapping and its precedence, the list otherwise kept byte for byte, dry runs, faults."""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.ledger import Ledger
from tests.commands.conftest import Folder
from tests.sendgrid_server import Call, SendGridServer
from tests.sendgrid_standin import api
from tests.sendgrid_standin.answers import Answer

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GROUP = 4242


def write_list(folder: Folder, data: bytes) -> Path:
    path = folder.path / "subscribers.csv"
    path.unlink()
    path.write_bytes(data)
    return path


def unsubscribe(folder: Folder, *addresses: str) -> None:
    with Ledger.open(folder.path / ".digest" / "state.db") as ledger:
        for address in addresses:
            ledger.record_unsubscribe(address, AT, "one-click")


def fill(server: SendGridServer, kind: str, count: int, *, prefix: str) -> None:
    """``count`` addresses no list has, in the stand-in's ``kind`` list (several pages)."""
    listed = server.account.suppressions(kind)
    for n in range(count):
        listed.add(f"{prefix}{n}@elsewhere.example", created=1_700_000_000 + n)


# A list in CRLF with a byte order mark, quoted values, a merge column, duplicates and an
# invalid row; the comments say what SendGrid or the ledger says of each row.
BEFORE = (
    "\ufeffemail,name,status,company\r\n"
    'ada@example.com,"Lovelace, Ada",active,"Engines ""Ltd"""\r\n'  # ledger: unsubscribed
    "Bob@Example.COM,Bob,active,Acme\r\n"  # bounces, as bob@example.com
    "cy@example.com,Cy,,Acme\r\n"  # unsubscribes and bounces: unsubscribed wins
    "di@example.com,Di,complained,Acme\r\n"  # unsubscribes: stays complained
    "eve@example.com,Eve,bounced,Acme\r\n"  # spam reports: complained
    "fay@example.com,Fay,active,Acme\r\n"  # nothing: untouched
    "gus@bücher.example,Gus,active,Acme\r\n"  # invalid emails, as gus@xn--bcher-kva.example
    "hal@example.com,Hal,active,Acme\r\n"  # the ASM group
    "HAL@example.com,Hal again,active,Acme\r\n"  # the same reader: marked too
    "not-an-address,Broken,active,Acme\r\n"  # invalid: left alone
    "ivy@example.com,Ivy,unsubscribed,Acme\r\n"  # unsubscribes: already so
)
AFTER = (
    "\ufeffemail,name,status,company\r\n"
    'ada@example.com,"Lovelace, Ada",unsubscribed,"Engines ""Ltd"""\r\n'
    "Bob@Example.COM,Bob,bounced,Acme\r\n"
    "cy@example.com,Cy,unsubscribed,Acme\r\n"
    "di@example.com,Di,complained,Acme\r\n"
    "eve@example.com,Eve,complained,Acme\r\n"
    "fay@example.com,Fay,active,Acme\r\n"
    "gus@bücher.example,Gus,bounced,Acme\r\n"
    "hal@example.com,Hal,unsubscribed,Acme\r\n"
    "HAL@example.com,Hal again,unsubscribed,Acme\r\n"
    "not-an-address,Broken,active,Acme\r\n"
    "ivy@example.com,Ivy,unsubscribed,Acme\r\n"
)


def seed(folder: Folder, server: SendGridServer) -> None:
    """The suppressions BEFORE's comments name, among pages of others, and the ASM group."""
    account = server.account
    fill(server, "unsubscribes", 1203, prefix="u")  # 3 pages, the last short
    fill(server, "bounces", 1000, prefix="b")  # 2 full pages, then an empty one
    fill(server, "invalid_emails", 501, prefix="i")
    fill(server, "spam_reports", 498, prefix="s")  # one short page, with eve
    for address in ("CY@example.com", "di@example.com", "ivy@example.com"):
        account.unsubscribes.add(address)
    for address in ("bob@example.com", "cy@example.com"):
        account.bounces.add(address)
    account.invalid_emails.add("gus@xn--bcher-kva.example")
    account.spam_reports.add("eve@example.com")
    account.asm_groups.add(GROUP, suppressions=["hal@example.com", "gone@elsewhere.example"])
    folder.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = str(GROUP)
    unsubscribe(folder, "ada@example.com")


def test_sync_marks_every_list_on_every_page_and_keeps_the_rest_byte_for_byte(
    ready: Folder, server: SendGridServer
) -> None:
    path = write_list(ready, BEFORE.encode())
    seed(ready, server)

    result = ready.run("subscribers", "sync")

    assert result.exit_code == 0, result.output
    assert path.read_bytes() == AFTER.encode()
    out = result.stdout
    assert out.splitlines()[:4] == [
        "subscribers.csv: changed 7 rows:",
        "  4 now unsubscribed: 1 from the unsubscribe link, 1 from SendGrid's global"
        " unsubscribes, 2 from unsubscribe group 4242 (ada@example.com, cy@example.com,"
        " hal@example.com ...)",
        "  2 now bounced: 1 from SendGrid's bounces, 1 from SendGrid's invalid emails"
        " (Bob@example.com, gus@bücher.example)",
        "  1 now complained: 1 from SendGrid's spam reports (eve@example.com)",
    ]
    assert (
        "1203 addresses in SendGrid's global unsubscribes are not in subscribers.csv, so"
        " not added: u0@elsewhere.example, u1@elsewhere.example, u2@elsewhere.example ..."
    ) in out
    assert "1 address in unsubscribe group 4242 is not in subscribers.csv" in out
    assert "gone@elsewhere.example" in out
    offsets = {
        kind: [int(call.query["offset"][0]) for call in calls_to(server, kind)]
        for kind in ("unsubscribes", "bounces", "invalid_emails", "spam_reports")
    }
    assert offsets == {
        "unsubscribes": [0, 500, 1000],
        "bounces": [0, 500, 1000],
        "invalid_emails": [0, 500],
        "spam_reports": [0],  # 499 entries
    }
    assert [call.path for call in server.calls][-1] == f"/v3/asm/groups/{GROUP}/suppressions"


def calls_to(server: SendGridServer, kind: str) -> list[Call]:
    return [call for call in server.calls if call.path == f"/v3/suppression/{kind}"]


def test_every_request_satisfies_the_suppressions_openapi_file(
    ready: Folder, server: SendGridServer
) -> None:
    write_list(ready, BEFORE.encode())
    seed(ready, server)
    assert ready.run("subscribers", "sync", "--dry-run").exit_code == 0

    calls = server.calls
    assert len(calls) == 10
    for call in calls:
        assert not openapi_problems(call), (call.path, openapi_problems(call))
        assert "on-behalf-of" not in {name.lower() for name in call.headers}
        assert call.status == 200


def openapi_problems(call: Call) -> list[str]:
    """What in ``call`` (a GET) tsg_suppressions_v3.json does not allow, as the stand-in's
    route table (written from it) says: an operation that is not there, a query parameter
    it does not declare or of the wrong type or range, and the ``Accept`` header that
    ListSuppressionBounces requires."""
    found = api.find_route(call.path)
    if call.method != "GET" or found is None:
        return [f"no operation {call.method} {call.path}"]
    route, _ = found
    declared = route.parameters["properties"]
    problems = [
        f"{name} is not a parameter of {call.path}" for name in call.query if name not in declared
    ]
    read = api.read_parameters(call.query, route)
    if isinstance(read, Answer):
        problems.append(f"refused: {read.payload}")
    if "accept" not in {name.lower() for name in call.headers}:
        problems.append("no Accept header")
    return problems


def test_a_dry_run_shows_each_change_and_writes_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    path = write_list(ready, BEFORE.encode())
    seed(ready, server)

    result = ready.run("subscribers", "sync", "--dry-run")

    assert result.exit_code == 0, result.output
    assert path.read_bytes() == BEFORE.encode()
    lines = result.stdout.splitlines()
    assert "subscribers.csv:3: Bob@example.com: active -> bounced (SendGrid's bounces)" in lines
    assert "subscribers.csv:6: eve@example.com: bounced -> complained" in result.stdout
    assert "subscribers.csv: would change 7 rows (dry run: nothing written):" in lines
    assert not list(ready.path.glob(".subscribers.csv.*"))


def test_a_list_without_a_status_column_gets_one_in_the_rows_that_change(
    ready: Folder, server: SendGridServer
) -> None:
    path = write_list(ready, b"email,name\nada@example.com,Ada\nbob@example.com,Bob\n")
    server.account.bounces.add("bob@example.com")
    result = ready.run("subscribers", "sync")
    assert result.exit_code == 0, result.output
    assert (
        path.read_bytes()
        == b"email,name,status\nada@example.com,Ada\nbob@example.com,Bob,bounced\n"
    )
    assert ready.run("subscribers", "check").exit_code == 0


def test_sync_keeps_the_lists_permissions(ready: Folder, server: SendGridServer) -> None:
    path = write_list(ready, b"email,status\nada@example.com,active\n")
    path.chmod(0o600)
    server.account.unsubscribes.add("ada@example.com")
    assert ready.run("subscribers", "sync").exit_code == 0
    assert path.read_bytes() == b"email,status\nada@example.com,unsubscribed\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_nothing_to_change_leaves_the_file_untouched(ready: Folder, server: SendGridServer) -> None:
    path = write_list(ready, b"email,status\nada@example.com,unsubscribed\n")
    server.account.unsubscribes.add("ada@example.com")
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    result = ready.run("subscribers", "sync")
    assert result.exit_code == 0, result.output
    assert "nothing to change (1 row marked so already)" in result.stdout
    assert path.stat().st_mtime_ns == before


def test_with_the_outbox_backend_only_the_ledgers_unsubscribes_are_written(
    folder: Folder, server: SendGridServer
) -> None:
    folder.env["DIGEST_DELIVERY_BACKEND"] = "outbox"
    path = write_list(folder, b"email,status\nada@example.com,active\nbob@example.com,active\n")
    unsubscribe(folder, "BOB@example.com")
    result = folder.run("subscribers", "sync")
    assert result.exit_code == 0, result.output
    assert "SendGrid's lists are not read" in result.stdout
    assert (
        path.read_bytes() == b"email,status\nada@example.com,active\nbob@example.com,unsubscribed\n"
    )
    assert server.calls == []


def test_rate_limits_and_server_errors_are_waited_out(
    ready: Folder, server: SendGridServer
) -> None:
    path = write_list(ready, b"email,status\nada@example.com,active\n")
    server.account.spam_reports.add("ada@example.com")
    server.fail_next(429, reset_in=1, path="/v3/suppression/bounces")
    server.fail_next(503, path="/v3/suppression/spam_reports")
    started = time.monotonic()
    result = ready.run("subscribers", "sync")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.0, "waited for X-RateLimit-Reset"
    assert path.read_bytes() == b"email,status\nada@example.com,complained\n"


@pytest.mark.parametrize(
    ("trouble", "said"),
    [
        ("no key", "SENDGRID_API_KEY is not set"),
        ("wrong key", "SendGrid refused the API key (SendGrid answered HTTP 401"),
        (
            "no scope",
            "SendGrid refused this API key a read (SendGrid answered HTTP 403 to GET"
            " /v3/suppression/spam_reports",
        ),
        ("no group", f"SendGrid has no unsubscribe group {GROUP}; check sendgrid.asm_group_id"),
        ("down", "SendGrid did not answer GET /v3/suppression/unsubscribes after 2 attempts"),
        ("not a list", "SendGrid's answer to GET /v3/suppression/unsubscribes is not a list"),
    ],
)
def test_what_sendgrid_refuses_is_one_line_and_the_list_is_not_touched(
    ready: Folder, server: SendGridServer, trouble: str, said: str
) -> None:
    path = write_list(ready, b"email,status\nada@example.com,active\n")
    unsubscribe(ready, "ada@example.com")  # even the ledger's waits for SendGrid's
    ready.env["DIGEST_SENDGRID_MAX_RETRIES"] = "1"
    if trouble == "no key":
        ready.env["SENDGRID_API_KEY"] = ""
    elif trouble == "wrong key":
        ready.env["SENDGRID_API_KEY"] = "SG.not-the-key"
    elif trouble == "no scope":
        server.account.scopes.remove("suppression.spam_reports.read")
    elif trouble == "no group":
        ready.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = str(GROUP)
    elif trouble == "down":
        server.fail_next(500)
        server.fail_next(502)
    else:
        server.account.unsubscribes.add("x@example.com")
        server.refuse_with(200, "", path="/v3/suppression/unsubscribes")

    result = ready.run("subscribers", "sync")

    assert result.exit_code == 1
    assert said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert path.read_bytes() == b"email,status\nada@example.com,active\n"
    assert not list(ready.path.glob(".subscribers.csv.*"))


def test_a_list_that_cannot_be_replaced_is_one_line(folder: Folder, server: SendGridServer) -> None:
    """The new list cannot be written beside the old one: here because its temporary name
    would pass the file system's 255 bytes (a read-only folder does it too, but not for
    root, whom CI runs as). Nothing is changed, in one line."""
    folder.env["DIGEST_DELIVERY_BACKEND"] = "outbox"
    name = "l" * 246 + ".csv"
    folder.env["DIGEST_SUBSCRIBERS_PATH"] = name
    listed = b"email,status\nada@example.com,active\n"
    (folder.path / name).write_bytes(listed)
    unsubscribe(folder, "ada@example.com")
    result = folder.run("subscribers", "sync")
    assert result.exit_code == 1
    assert f"cannot write the new {name} beside it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert (folder.path / name).read_bytes() == listed
