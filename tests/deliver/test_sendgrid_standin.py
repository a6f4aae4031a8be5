"""The SendGrid stand-in's account endpoints, through the official SDK over real HTTP.

The product does not call these yet (``subscribers sync`` and ``doctor`` will): these
tests hold the stand-in to the OpenAPI files, so those features are tested against
answers shaped as SendGrid's. Every successful answer is validated against the
hand-written schemas in ``tests/sendgrid_standin/schemas.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from tests.sendgrid_server import Account, SendGridServer
from tests.sendgrid_standin import schemas
from tests.sendgrid_standin.account import DEFAULT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
BOUNCES = "/v3/suppression/bounces"


def client(server: SendGridServer, api_key: str | None = None, **options: Any) -> Any:
    """The SDK's fluent client, pointed at the stand-in."""
    key = server.api_key if api_key is None else api_key
    return SendGridAPIClient(api_key=key, host=server.url, **options).client


def fetch(endpoint: Any, **query: Any) -> tuple[int, Any]:
    """GET through the SDK; the status and the decoded JSON answer, errors included."""
    try:
        response = endpoint.get(query_params=query or None)
    except HTTPError as error:
        return error.status_code, json.loads(error.body)
    return response.status_code, json.loads(response.body)


def assert_valid(schema: dict[str, Any], document: Any) -> None:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert [error.message for error in validator.iter_errors(document)] == []


def suppression(server: SendGridServer, kind: str) -> Any:
    return getattr(client(server).suppression, kind)


def post_json(url: str, document: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)


# -- scopes ------------------------------------------------------------------------------


def test_the_scopes_are_the_keys_own(sendgrid_server: SendGridServer) -> None:
    status, body = fetch(client(sendgrid_server).scopes)
    assert status == 200
    assert "mail.send" in body["scopes"]
    assert_valid(schemas.SCOPES_RESPONSE, body)

    sendgrid_server.account.scopes = ["alerts.read", "mail.send", "alerts.read"]

    assert fetch(client(sendgrid_server).scopes) == (200, {"scopes": ["alerts.read", "mail.send"]})


# -- the suppression lists ----------------------------------------------------------------

SEEDED = {
    "unsubscribes": ({}, {}),
    "bounces": (
        {"reason": "550 5.1.1 No such user", "status": "5.1.1"},
        {"reason": "550 5.1.1 No such user", "status": "5.1.1"},
    ),
    "spam_reports": ({"ip": "198.51.100.7"}, {"ip": "198.51.100.7"}),
    "invalid_emails": ({"reason": "Mail domain unknown"}, {"reason": "Mail domain unknown"}),
}
RESPONSE_SCHEMAS = {
    "unsubscribes": schemas.UNSUBSCRIBES_RESPONSE,
    "bounces": schemas.BOUNCES_RESPONSE,
    "spam_reports": schemas.SPAM_REPORTS_RESPONSE,
    "invalid_emails": schemas.INVALID_EMAILS_RESPONSE,
}


@pytest.mark.parametrize("kind", SEEDED)
def test_each_suppression_list_shows_the_fields_of_its_kind(
    sendgrid_server: SendGridServer, kind: str
) -> None:
    details, shown = SEEDED[kind]
    sendgrid_server.account.suppressions(kind).add(
        "gone@example.com", created=1_700_000_000, **details
    )

    status, body = fetch(suppression(sendgrid_server, kind))

    assert status == 200
    assert body == [{"created": 1_700_000_000, "email": "gone@example.com", **shown}]
    assert_valid(RESPONSE_SCHEMAS[kind], body)


def test_an_entry_cannot_carry_a_field_its_list_lacks(sendgrid_server: SendGridServer) -> None:
    with pytest.raises(ValueError, match="unsubscribes entries have no reason"):
        sendgrid_server.account.unsubscribes.add("a@example.com", reason="moved")


def test_1234_bounces_come_in_three_pages_of_at_most_500(sendgrid_server: SendGridServer) -> None:
    seeded = [f"reader{n}@example.com" for n in range(1234)]
    for n, email in enumerate(seeded):
        sendgrid_server.account.bounces.add(email, created=1_700_000_000 + n)
    bounces = suppression(sendgrid_server, "bounces")

    pages: list[list[dict[str, Any]]] = []
    for offset in range(0, 5000, 500):  # a bounded walk: a server that ignores offset fails
        status, page = fetch(bounces, limit=500, offset=offset)
        assert status == 200
        assert_valid(schemas.BOUNCES_RESPONSE, page)
        pages.append(page)
        if len(page) < 500:
            break

    assert [len(page) for page in pages] == [500, 500, 234]
    assert [entry["email"] for page in pages for entry in page] == seeded
    assert [call.query for call in sendgrid_server.calls] == [
        {"limit": ["500"], "offset": ["0"]},
        {"limit": ["500"], "offset": ["500"]},
        {"limit": ["500"], "offset": ["1000"]},
    ]
    assert fetch(bounces, limit=500, offset=1500) == (200, [])


def test_start_and_end_time_are_inclusive_and_email_matches_a_prefix_or_wildcards(
    sendgrid_server: SendGridServer,
) -> None:
    for created, email in enumerate(
        ["sales@example.com", "Salesforce@example.org", "ops@market.example", "me@example.com"]
    ):
        sendgrid_server.account.unsubscribes.add(email, created=100 + created)
    unsubscribes = suppression(sendgrid_server, "unsubscribes")

    def emails(**query: Any) -> list[str]:
        status, body = fetch(unsubscribes, **query)
        assert status == 200
        return [entry["email"] for entry in body]

    assert emails(start_time=101, end_time=102) == ["Salesforce@example.org", "ops@market.example"]
    assert emails(email="sales") == ["sales@example.com", "Salesforce@example.org"]
    assert emails(email="market") == []  # a prefix, not a substring
    assert emails(email="%market") == ["ops@market.example"]
    assert emails(email="%example%com") == ["sales@example.com", "me@example.com"]
    assert emails(email="sales@example.com") == ["sales@example.com"]


BAD_QUERIES = {
    "a page over 500": ({"limit": 501}, "limit"),
    "an empty page": ({"limit": 0}, "limit"),
    "a word for a limit": ({"limit": "all"}, "limit"),
    "a fraction for a limit": ({"limit": "2.5"}, "limit"),
    "a negative offset": ({"offset": -1}, "offset"),
    "a date for a time": ({"start_time": "2026-03-09"}, "start_time"),
    "an offset given twice": ({"offset": [0, 500]}, "offset"),
}


@pytest.mark.parametrize("case", BAD_QUERIES)
def test_bad_paging_parameters_are_400_naming_the_parameter(
    sendgrid_server: SendGridServer, case: str
) -> None:
    query, field = BAD_QUERIES[case]

    status, body = fetch(suppression(sendgrid_server, "spam_reports"), **query)

    assert status == 400
    assert [error["field"] for error in body["errors"]] == [field]
    assert_valid(schemas.ERROR_RESPONSE, body)


def test_unknown_parameters_are_ignored_as_sendgrid_does(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.account.bounces.add("gone@example.com", created=5)

    status, body = fetch(suppression(sendgrid_server, "bounces"), page=3, limit=1)

    assert status == 200
    assert [entry["email"] for entry in body] == ["gone@example.com"]
    assert sendgrid_server.calls[0].query == {"page": ["3"], "limit": ["1"]}


# -- ASM groups ---------------------------------------------------------------------------


def test_an_asm_group_and_its_unpaged_list_of_addresses(sendgrid_server: SendGridServer) -> None:
    left = [f"left{n}@example.com" for n in range(600)]
    sendgrid_server.account.asm_groups.add(
        42, name="Weekly digest", description="Every Monday.", suppressions=left
    )
    group = client(sendgrid_server).asm.groups._(42)

    status, body = fetch(group)
    assert status == 200
    assert body == {
        "id": 42,
        "name": "Weekly digest",
        "description": "Every Monday.",
        "is_default": False,
        "unsubscribes": 600,
    }
    assert_valid(schemas.ASM_GROUP_RESPONSE, body)

    # The operation has no paging parameters: a limit is ignored, every address comes.
    status, addresses = fetch(group.suppressions, limit=500)
    assert status == 200
    assert addresses == left
    assert_valid(schemas.ASM_GROUP_SUPPRESSIONS_RESPONSE, addresses)


@pytest.mark.parametrize("group_id", ["8", "seven", "0"])
def test_a_group_that_does_not_exist_is_404(sendgrid_server: SendGridServer, group_id: str) -> None:
    sendgrid_server.account.asm_groups.add(7)
    group = client(sendgrid_server).asm.groups._(group_id)

    assert fetch(group)[0] == 404
    assert fetch(group.suppressions)[0] == 404
    assert fetch(client(sendgrid_server).asm.groups._(7))[0] == 200


def test_a_group_name_is_bounded_as_sendgrid_bounds_it(sendgrid_server: SendGridServer) -> None:
    with pytest.raises(ValueError, match="30 characters"):
        sendgrid_server.account.asm_groups.add(1, name="x" * 31)


# -- verified senders and authenticated domains ---------------------------------------------


def test_verified_senders_page_by_last_seen_id(sendgrid_server: SendGridServer) -> None:
    senders = sendgrid_server.account.verified_senders
    for n in range(5):
        senders.add(f"sender{n}@example.com", verified=n != 3, from_name=f"Sender {n}")
    endpoint = client(sendgrid_server).verified_senders

    seen: list[dict[str, Any]] = []
    for _ in range(10):  # bounded, in case lastSeenID were ignored
        query = {"limit": 2, **({"lastSeenID": seen[-1]["id"]} if seen else {})}
        status, body = fetch(endpoint, **query)
        assert status == 200
        assert_valid(schemas.VERIFIED_SENDERS_RESPONSE, body)
        if not body["results"]:
            break
        seen += body["results"]

    assert [(s["from_email"], s["verified"]) for s in seen] == [
        (f"sender{n}@example.com", n != 3) for n in range(5)
    ]
    assert seen[0]["from_name"] == "Sender 0"
    status, body = fetch(endpoint, id=seen[3]["id"])
    assert [sender["from_email"] for sender in body["results"]] == ["sender3@example.com"]


def test_authenticated_domains_are_searched_paged_and_filtered(
    sendgrid_server: SendGridServer,
) -> None:
    domains = sendgrid_server.account.domains
    domains.add("example.com", subdomain="em42")
    domains.add("example.com.au", valid=False)
    domains.add("other.org")
    domains.add("example.com", username="a-subuser")
    endpoint = client(sendgrid_server).whitelabel.domains

    status, found = fetch(endpoint, domain="example.com")
    assert status == 200
    assert_valid(schemas.DOMAINS_RESPONSE, found)
    # A search: the caller must check which domain each answer is, and whether it is valid.
    assert [(d["domain"], d["valid"], d["username"]) for d in found] == [
        ("example.com", True, "digest-tests"),
        ("example.com.au", False, "digest-tests"),
        ("example.com", True, "a-subuser"),
    ]
    assert found[0]["dns"]["mail_cname"]["host"] == "em42.example.com"
    assert found[1]["dns"]["dkim1"]["valid"] is False

    own = fetch(endpoint, domain="example.com", exclude_subusers="true")[1]
    assert [d["username"] for d in own] == ["digest-tests", "digest-tests"]
    theirs = fetch(endpoint, username="a-subuser")[1]
    assert [(d["domain"], d["username"]) for d in theirs] == [("example.com", "a-subuser")]
    pages = [fetch(endpoint, limit=3, offset=offset)[1] for offset in (0, 3, 6)]
    assert [[d["id"] for d in page] for page in pages] == [[1, 2, 3], [4], []]
    assert fetch(endpoint, exclude_subusers="maybe")[0] == 400


# -- keys, scopes and subusers -----------------------------------------------------------------

ENDPOINTS = {
    "scopes": (lambda c: c.scopes, None),
    "unsubscribes": (lambda c: c.suppression.unsubscribes, "suppression.unsubscribes.read"),
    "bounces": (lambda c: c.suppression.bounces, "suppression.bounces.read"),
    "spam reports": (lambda c: c.suppression.spam_reports, "suppression.spam_reports.read"),
    "invalid emails": (lambda c: c.suppression.invalid_emails, "suppression.invalid_emails.read"),
    "asm group": (lambda c: c.asm.groups._(7), "asm.groups.read"),
    "asm suppressions": (lambda c: c.asm.groups._(7).suppressions, "asm.groups.suppressions.read"),
    "verified senders": (lambda c: c.verified_senders, "sender_verification_eligible"),
    "domains": (lambda c: c.whitelabel.domains, "whitelabel.read"),
}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_wrong_key_is_401_and_a_key_without_the_scope_403(
    sendgrid_server: SendGridServer, name: str
) -> None:
    endpoint, scope = ENDPOINTS[name]
    sendgrid_server.account.asm_groups.add(7)
    assert fetch(endpoint(client(sendgrid_server)))[0] == 200

    status, body = fetch(endpoint(client(sendgrid_server, api_key="SG.another-key")))
    assert status == 401
    assert_valid(schemas.ERROR_RESPONSE, body)

    if scope is not None:  # any valid key may read its own scopes
        sendgrid_server.account.scopes = [s for s in DEFAULT_SCOPES if s != scope]
        assert fetch(endpoint(client(sendgrid_server))) == (
            403,
            {"errors": [{"message": "access forbidden", "field": None}]},
        )


def test_a_key_without_mail_send_cannot_send(sendgrid_server: SendGridServer) -> None:
    body = {
        "personalizations": [{"to": [{"email": "reader@example.com"}]}],
        "from": {"email": "news@example.com"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }
    mail = client(sendgrid_server).mail.send
    sendgrid_server.account.scopes = [s for s in DEFAULT_SCOPES if s != "mail.send"]

    with pytest.raises(HTTPError) as refused:
        mail.post(request_body=body)
    assert refused.value.status_code == 403
    assert sendgrid_server.requests == []

    sendgrid_server.account.scopes.append("mail.send")
    assert mail.post(request_body=body).status_code == 202


def test_on_behalf_of_reads_a_subusers_account(sendgrid_server: SendGridServer) -> None:
    sub = Account()
    sub.bounces.add("sub-reader@example.com", created=1)
    sendgrid_server.account.subusers["newsletter-sub"] = sub
    sendgrid_server.account.bounces.add("parent-reader@example.com", created=1)
    sendgrid_server.account.verified_senders.add("parent@example.com")

    as_sub = client(sendgrid_server, impersonate_subuser="newsletter-sub")
    as_nobody = client(sendgrid_server, impersonate_subuser="nobody")

    assert [e["email"] for e in fetch(as_sub.suppression.bounces)[1]] == ["sub-reader@example.com"]
    assert fetch(as_nobody.suppression.bounces)[0] == 403
    # the verified-senders operation lists no on-behalf-of header: it serves the key's own
    senders = fetch(as_sub.verified_senders)[1]["results"]
    assert [s["from_email"] for s in senders] == ["parent@example.com"]
    assert sendgrid_server.calls[0].headers["On-Behalf-Of"] == "newsletter-sub"


def test_calls_keep_path_query_and_headers_but_not_the_key(sendgrid_server: SendGridServer) -> None:
    fetch(suppression(sendgrid_server, "invalid_emails"), limit=10, email="a@b.example")

    [call] = sendgrid_server.calls
    assert (call.method, call.path, call.status) == ("GET", "/v3/suppression/invalid_emails", 200)
    assert call.query == {"email": ["a@b.example"], "limit": ["10"]}
    assert call.headers["Accept"] == "application/json"
    assert "authorization" not in {name.lower() for name in call.headers}
    assert sendgrid_server.api_key not in json.dumps(call.as_json())


def test_a_post_to_a_read_only_endpoint_is_405(sendgrid_server: SendGridServer) -> None:
    with pytest.raises(HTTPError) as refused:
        client(sendgrid_server).whitelabel.domains.post(request_body={"domain": "x.example"})
    assert refused.value.status_code == 405


# -- faults ------------------------------------------------------------------------------------


def test_a_429_on_one_path_carries_its_reset_and_leaves_other_paths_alone(
    sendgrid_server: SendGridServer,
) -> None:
    reset_at = time.time() + 30
    sendgrid_server.fail_next(429, reset_at=reset_at, path=BOUNCES)
    api = client(sendgrid_server)

    assert fetch(api.scopes)[0] == 200  # another path: the fault waits
    with pytest.raises(HTTPError) as limited:
        api.suppression.bounces.get(query_params={"limit": 500, "offset": 0})
    assert limited.value.status_code == 429
    assert limited.value.headers["X-RateLimit-Reset"] == str(math.ceil(reset_at))
    assert fetch(api.suppression.bounces, limit=500, offset=0)[0] == 200  # the retry

    assert [(c.path, c.status) for c in sendgrid_server.calls] == [
        ("/v3/scopes", 200),
        (BOUNCES, 429),
        (BOUNCES, 200),
    ]


def test_500_slow_and_dropped_answers_on_account_endpoints(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.fail_next(500)
    sendgrid_server.slow_next(0.3)
    sendgrid_server.drop_next()
    domains = client(sendgrid_server).whitelabel.domains

    assert fetch(domains)[0] == 500
    started = time.monotonic()
    assert fetch(domains) == (200, [])
    assert time.monotonic() - started >= 0.3
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        domains.get()

    assert [c.status for c in sendgrid_server.calls] == [500, 200, None]


def test_rate_limits_count_each_path_on_its_own(sendgrid_server: SendGridServer) -> None:
    sendgrid_server.rate_limit_every(2)
    api = client(sendgrid_server)

    statuses = [fetch(endpoint)[0] for endpoint in (api.scopes, api.suppression.bounces) * 2]

    assert statuses == [200, 200, 429, 429]


# -- the account over HTTP, and as a process ------------------------------------------------

BROKEN_ACCOUNT = {
    "scopes": ["suppression.bounces.read", "sender_verification_eligible"],
    "bounces": [{"email": "gone@example.com", "created": 1_700_000_000, "reason": "550 gone"}],
    "verified_senders": [{"from_email": "news@example.com", "verified": False}],
}


def test_the_account_is_replaced_over_http(sendgrid_server: SendGridServer) -> None:
    url = sendgrid_server.url

    assert post_json(f"{url}/_test/account", BROKEN_ACCOUNT) == (200, {"replaced": True})

    api = client(sendgrid_server)
    assert fetch(api.scopes)[1]["scopes"] == BROKEN_ACCOUNT["scopes"]
    assert fetch(api.suppression.bounces)[1][0]["reason"] == "550 gone"
    assert fetch(api.verified_senders)[1]["results"][0]["verified"] is False
    assert fetch(api.whitelabel.domains)[0] == 403
    status, body = post_json(f"{url}/_test/account", {"bounce": []})
    assert status == 400
    assert "unknown account key 'bounce'" in body["errors"][0]["message"]
    assert [call["path"] for call in get_json(f"{url}/_test/calls")] == [
        "/v3/scopes",
        BOUNCES,
        "/v3/verified_senders",
        "/v3/whitelabel/domains",
    ]


@pytest.mark.slow
def test_the_server_process_serves_an_account_file_and_path_faults(tmp_path: Path) -> None:
    account = tmp_path / "account.json"
    account.write_text(json.dumps(BROKEN_ACCOUNT), encoding="utf-8")
    command = [sys.executable, "-m", "tests.sendgrid_server", "--port", "0", "--api-key", "pk"]
    process = subprocess.Popen(
        [*command, "--account", str(account)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        bounces = SendGridAPIClient(api_key="pk", host=url).client.suppression.bounces
        faults = [{"kind": "fail", "status": 503, "path": BOUNCES}]
        assert post_json(f"{url}/_test/faults", faults) == (200, {"queued": 1})

        assert fetch(bounces)[0] == 503
        assert [e["email"] for e in fetch(bounces)[1]] == ["gone@example.com"]
        assert [call["status"] for call in get_json(f"{url}/_test/calls")] == [503, 200]
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- the schemas can fail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        (schemas.SPAM_REPORTS_RESPONSE, [{"created": 1, "email": "a@example.com"}]),
        (schemas.UNSUBSCRIBES_RESPONSE, [{"created": "yesterday", "email": "a@example.com"}]),
        (schemas.ASM_GROUP_SUPPRESSIONS_RESPONSE, [{"email": "a@example.com"}]),
        (schemas.SCOPES_RESPONSE, {"scopes": ["mail.send", "mail.send"]}),
        (schemas.VERIFIED_SENDERS_RESPONSE, {"results": [{"id": 1, "verified": "yes"}]}),
        (schemas.DOMAINS_RESPONSE, [{"id": 1, "domain": "example.com", "valid": True}]),
    ],
)
def test_the_schemas_refuse_a_wrong_shape(schema: dict[str, Any], document: Any) -> None:
    assert list(Draft202012Validator(schema).iter_errors(document)) != []
