"""What every digest web app shares, called as ASGI: bounded bodies, safe pages, the log."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest.web.server import Limits, page, web_app
from tests.web.web_helpers import asgi_call

LIMITS = Limits(max_body_bytes=64, body_seconds=0.2)


async def echo(request: Request) -> Response:
    return PlainTextResponse(f"read {len(await request.body())} bytes")


async def broken(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def hostile(_request: Request) -> Response:
    return page('<script>alert("x")</script>', "Tom & Jerry's <b>news</b>")


APP = web_app(
    [
        Route("/echo", echo, methods=["POST"]),
        Route("/broken", broken),
        Route("/hostile", hostile),
    ],
    limits=LIMITS,
)


def test_a_body_within_the_limit_reaches_the_app_whole_even_in_pieces() -> None:
    answer = asgi_call(APP, "POST", "/echo", chunks=[b"a" * 30, b"b" * 30, b"c" * 4])
    assert (answer.status, answer.text) == (200, "read 64 bytes")


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    # Nothing of the body is sent: the answer must come without waiting for it.
    answer = asgi_call(APP, "POST", "/echo", headers=[("Content-Length", "65")], ending="stall")
    assert answer.status == 413
    assert answer.headers["connection"] == "close"


def test_a_body_that_grows_over_the_limit_is_refused() -> None:
    answer = asgi_call(APP, "POST", "/echo", chunks=[b"a" * 40, b"b" * 40, b"c"])
    assert answer.status == 413


def test_a_body_that_stops_arriving_gets_a_408_after_the_time_limit() -> None:
    answer = asgi_call(APP, "POST", "/echo", chunks=[b"List-Unsub"], ending="stall")
    assert answer.status == 408
    assert answer.headers["connection"] == "close"


def test_a_client_gone_mid_body_gets_no_answer_and_the_app_never_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="digest.web"):
        answer = asgi_call(APP, "POST", "/echo", chunks=[b"abc"], ending="gone")
    assert answer.status == 0
    assert [record.getMessage().split()[:3] for record in caplog.records] == [
        ["POST", "/echo", "-"]
    ]


def test_every_answer_carries_the_security_headers_errors_too() -> None:
    answers = [
        asgi_call(APP, "GET", "/hostile"),
        asgi_call(APP, "GET", "/nowhere"),
        asgi_call(APP, "PUT", "/echo"),
        asgi_call(APP, "POST", "/echo", chunks=[b"x" * 100]),
        asgi_call(APP, "GET", "/broken"),
    ]
    assert [a.status for a in answers] == [200, 404, 405, 413, 500]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "set-cookie" not in answer.headers
    assert "a bug" not in answers[-1].text
    assert [type(a.raised[0]) if a.raised else None for a in answers] == [None] * 4 + [RuntimeError]


def test_page_text_is_escaped_everywhere() -> None:
    text = asgi_call(APP, "GET", "/hostile").text
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "Tom &amp; Jerry&#x27;s &lt;b&gt;news&lt;/b&gt;" in text


def test_the_log_line_escapes_control_characters_and_cuts_long_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="digest.web"):
        asgi_call(APP, "GET", "/a\nfake 200 line\x1b[31m")
        asgi_call(APP, "GET", "/" + "x" * 5000)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("GET /a\\nfake 200 line\\x1b[31m 404 ")
    assert len(lines[1]) < 300 and "..." in lines[1]
    assert all("\n" not in line and "\x1b" not in line for line in lines)
