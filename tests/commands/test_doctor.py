"""`digest doctor` against the local SendGrid stand-in, a good account and broken ones, and
an https endpoint on 127.0.0.1 whose certificate the run trusts (SSL_CERT_FILE)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.commands.conftest import API_KEY, Folder
from tests.sendgrid_server import SendGridServer

TLS = Path(__file__).resolve().parents[1] / "data" / "tls"
SENDER = "insights@ftvconsulting.example.com"


class HttpsEndpoint:
    """An https server on 127.0.0.1 (the tests' self-signed certificate) answering every
    GET with ``status`` (and ``Location`` for a redirect); it records the paths asked."""

    def __init__(self, status: int = 400) -> None:
        self.status = status
        self.paths: list[str] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.paths.append(self.path)
                self.send_response(endpoint.status)
                if 300 <= endpoint.status < 400:
                    self.send_header("Location", "https://elsewhere.example.com/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / "self-signed.crt", TLS / "self-signed.key")
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/unsubscribe"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[HttpsEndpoint]:
    served = HttpsEndpoint()
    yield served
    served.close()


@pytest.fixture
def good(ready: Folder, server: SendGridServer, endpoint: HttpsEndpoint) -> Folder:
    """The example pointed at the stand-in, its sender verified, its endpoint answering."""
    server.account.verified_senders.add(SENDER)
    ready.env.update(
        DIGEST_UNSUBSCRIBE_URL=f"{endpoint.url}?token={{token}}",
        SSL_CERT_FILE=str(TLS / "self-signed.crt"),
    )
    return ready


def lines(result: Result, status: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{status}  ")]


def check(result: Result, name: str) -> list[str]:
    """The findings of check ``name``, as "status: what it said"."""
    return [
        f"{line[:4]}: {line.split(': ', 1)[1]}"
        for line in result.output.splitlines()
        if line[6:].startswith(f"{name}: ")
    ]


def test_a_good_account_passes_every_check(
    good: Folder, server: SendGridServer, endpoint: HttpsEndpoint
) -> None:
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in lines(result, "pass")] == [
        "pass  ledger",
        "pass  config",
        "pass  source",
        "pass  templates",
        "pass  list",
        "pass  api key",
        "pass  sender",
        "pass  unsubscribe",
    ]
    assert check(result, "sender") == [f"pass: {SENDER} is a verified sender"]
    assert check(result, "unsubscribe") == [f"pass: {endpoint.url} answers over https"]
    assert check(result, "source") == ["pass: feed.xml: 10 posts, 10 in the next edition"]
    assert check(result, "list")[0] == "pass: subscribers.csv: 4 active readers"
    assert endpoint.paths == ["/unsubscribe"], "no token: nobody is unsubscribed"
    assert [call.path for call in server.calls] == [
        "/v3/scopes",
        "/v3/verified_senders",
        "/v3/whitelabel/domains",
    ]
    assert server.requests == [], "nothing sent"
    warned = result.stderr.splitlines()
    assert [line.split(":")[0] for line in warned] == ["warn  list", "warn  example values"]
    assert "newsletter.from_email, newsletter.reply_to, newsletter.site_url" in warned[1]
    assert result.stdout.splitlines()[-1].startswith("Ready to send edition ")
    assert result.stdout.splitlines()[-1].endswith(" (2 warnings).")
    assert not (good.path / ".digest" / "state.db").exists()


def test_an_authenticated_domain_stands_for_a_verified_sender(
    good: Folder, server: SendGridServer
) -> None:
    server.account.verified_senders.clear()
    server.account.domains.add("example.com", valid=False)
    server.account.domains.add("ftvconsulting.example.com")
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    assert check(result, "sender") == [
        f"pass: {SENDER} is at ftvconsulting.example.com, an authenticated domain"
    ]


def test_an_asm_group_that_exists_passes(good: Folder, server: SendGridServer) -> None:
    server.account.asm_groups.add(7, name="Weekly digest")
    good.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "7"
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    assert check(result, "asm group") == ["pass: unsubscribe group 7 ('Weekly digest') exists"]


def no_mail_send(server: SendGridServer, folder: Folder) -> None:
    server.account.scopes.remove("mail.send")


def wrong_key(server: SendGridServer, folder: Folder) -> None:
    folder.env["SENDGRID_API_KEY"] = "SG.a-key-sendgrid-never-issued"


def unverified_sender(server: SendGridServer, folder: Folder) -> None:
    server.account.verified_senders[0].verified = False


def domain_failing_dns(server: SendGridServer, folder: Folder) -> None:
    server.account.verified_senders.clear()
    server.account.domains.add("ftvconsulting.example.com", valid=False)


def no_sender_at_all(server: SendGridServer, folder: Folder) -> None:
    server.account.verified_senders.clear()


def missing_group(server: SendGridServer, folder: Folder) -> None:
    folder.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "7"


def senders_unanswered(server: SendGridServer, folder: Folder) -> None:
    folder.env["DIGEST_SENDGRID_MAX_RETRIES"] = "0"
    server.fail_next(500, path="/v3/verified_senders")


def unreachable(server: SendGridServer, folder: Folder) -> None:
    folder.env.update(DIGEST_SENDGRID_HOST="http://127.0.0.1:9", DIGEST_SENDGRID_MAX_RETRIES="0")


@pytest.mark.parametrize(
    ("breakage", "name", "says"),
    [
        (no_mail_send, "api key", "SENDGRID_API_KEY lacks the mail.send scope"),
        (wrong_key, "api key", "SendGrid refused SENDGRID_API_KEY (SendGrid answered HTTP 401"),
        (unverified_sender, "sender", f"{SENDER} waits for verification"),
        (domain_failing_dns, "sender", "its DNS records do not check out yet"),
        (no_sender_at_all, "sender", "is neither a verified sender nor at an authenticated"),
        (missing_group, "asm group", "SendGrid has no unsubscribe group 7"),
        (
            senders_unanswered,
            "sender",
            f"cannot ask SendGrid whether {SENDER} may send: SendGrid did not answer GET"
            " /v3/verified_senders after 1 attempt",
        ),
        (
            unreachable,
            "api key",
            "cannot ask SendGrid about the key: SendGrid did not answer GET /v3/scopes after 1"
            " attempt: cannot reach SendGrid",
        ),
    ],
)
def test_a_broken_account_fails_its_check_with_the_fix(
    good: Folder, server: SendGridServer, breakage, name: str, says: str
) -> None:
    breakage(server, good)
    result = good.run("doctor")
    assert result.exit_code == 1, result.output
    (failure,) = lines(result, "fail")
    assert failure.startswith(f"fail  {name}: ")
    assert says in failure
    assert result.stderr.splitlines()[-1].startswith("Not ready to send: 1 failure")
    assert server.requests == []
    assert API_KEY not in result.output


def test_what_a_restricted_key_may_not_read_is_a_warning_not_a_failure(
    good: Folder, server: SendGridServer
) -> None:
    server.account.scopes = ["mail.send"]
    good.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "7"
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    assert check(result, "sender") == [
        f"warn: this key may not read the account's senders or domains (HTTP 403), so {SENDER}"
        " cannot be checked: make sure it is a verified sender or at an authenticated domain"
        " (Settings -> Sender Authentication)"
    ]
    assert check(result, "asm group")[0].startswith(
        "warn: this key may not read unsubscribe groups (HTTP 403)"
    )


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (502, "answers HTTP 502: is `digest unsubscribe serve` running behind it?"),
        (404, "answers HTTP 404: is `digest unsubscribe serve` running behind it?"),
        (301, "redirects (HTTP 301); the one-click POST must reach the endpoint itself"),
    ],
)
def test_an_endpoint_that_answers_wrongly_is_a_warning(
    good: Folder, endpoint: HttpsEndpoint, status: int, says: str
) -> None:
    endpoint.status = status
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    assert check(result, "unsubscribe") == [f"warn: {endpoint.url} {says}"]


def test_an_endpoint_that_does_not_answer_over_https_is_a_warning(good: Folder) -> None:
    good.env["DIGEST_UNSUBSCRIBE_URL"] = "https://127.0.0.1:9/unsubscribe?token={token}"
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    (said,) = check(result, "unsubscribe")
    assert said.startswith("warn: https://127.0.0.1:9/unsubscribe does not answer over https (")


def test_a_certificate_this_machine_does_not_trust_is_a_warning(good: Folder) -> None:
    del good.env["SSL_CERT_FILE"]
    result = good.run("doctor")
    assert result.exit_code == 0, result.output
    (said,) = check(result, "unsubscribe")
    assert "does not answer over https" in said and "CERTIFICATE_VERIFY_FAILED" in said


def test_without_secrets_the_checks_that_need_them_fail(folder: Folder) -> None:
    result = folder.run("doctor")
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in lines(result, "fail")] == [
        "fail  api key",
        "fail  unsubscribe",
    ]
    assert "SENDGRID_API_KEY is not set" in result.stderr
    assert "DIGEST_UNSUBSCRIBE_SECRET is not set" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Not ready to send: 2 failures")


def test_a_config_that_does_not_load_is_one_failed_check(folder: Folder) -> None:
    folder.env["DIGEST_SCHEDULE_CRON"] = "every monday at nine"
    result = folder.run("doctor")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        result.stderr.splitlines()[0],
        "Not ready to send: the config does not load.",
    ]
    assert result.stderr.startswith("fail  config: ")
    assert "DIGEST_SCHEDULE_CRON must be a cron expression" in result.stderr


def test_the_list_fails_without_active_readers_and_warns_of_rows_a_send_skips(
    good: Folder,
) -> None:
    path = good.path / "subscribers.csv"
    path.write_text("email,name,status\nreader@newsroom.org,R,active\nbroken,B,active\n")
    warned = good.run("doctor")
    assert warned.exit_code == 0, warned.output
    assert check(warned, "list") == [
        "pass: subscribers.csv: 1 active reader",
        "warn: subscribers.csv: 1 row a send skips (first: line 3, invalid address: An email"
        " address must have an @-sign.); `digest subscribers check` lists them",
    ]
    path.write_text("email,name,status\ngone@newsroom.org,G,unsubscribed\n")
    failed = good.run("doctor")
    assert failed.exit_code == 1
    assert check(failed, "list") == [
        "fail: subscribers.csv: no active readers; add readers or fix the rows"
    ]


def test_sandbox_mode_is_a_warning(good: Folder) -> None:
    good.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    result = good.run("doctor")
    assert result.exit_code == 0
    assert "warn: sendgrid.sandbox is true: a send is a rehearsal" in "\n".join(
        check(result, "config")
    )


def test_a_half_sent_earlier_edition_fails_the_ledger_check(
    good: Folder, server: SendGridServer
) -> None:
    from tests.commands.test_send import write_readers

    write_readers(good, 1500)
    good.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert good.run("send", "--yes", "--now", "2026-11-27T09:00:00-08:00").exit_code == 1
    result = good.run("doctor")
    assert result.exit_code == 1
    assert check(result, "ledger") == [
        "fail: edition 2026-11-27 is not finished, so no new edition starts; finish it with"
        " `digest send --edition 2026-11-27`"
    ]
