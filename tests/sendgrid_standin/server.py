"""The stand-in's HTTP server: routing, the record of requests, the fault script, the CLI."""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.sendgrid_standin import api
from tests.sendgrid_standin.account import Account, account_from_json
from tests.sendgrid_standin.answers import Answer, check_key, error_body, refuse
from tests.sendgrid_standin.faults import Fault, FaultScript, fault_from_spec
from tests.sendgrid_standin.mail_send import MAX_BODY_BYTES, RecordedRequest, judge_body

MAIL_SEND_PATH = "/v3/mail/send"


@dataclass(frozen=True)
class Call:
    """One API request as it arrived, without its key, and the status it got (None: dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "status": self.status,
        }


class SendGridServer(ThreadingHTTPServer):
    """The server, its account, its record of requests and its fault script."""

    daemon_threads = True

    def __init__(
        self,
        api_key: str,
        *,
        full_validation: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        account: Account | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.api_key = api_key
        self.full_validation = full_validation
        self.account = Account() if account is None else account
        self.verbose = False
        self.faults = FaultScript()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._calls: list[Call] = []
        self._received = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the SDK as ``host`` (it appends ``/v3/...``)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # -- the record ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The accepted mail-send requests, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> list[Call]:
        """Every API request (mail send and account endpoints), in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def received(self) -> int:
        """How many mail-send requests arrived, whatever was answered."""
        with self._lock:
            return self._received

    def accepted_recipients(self) -> list[str]:
        """Every accepted address, in order (sandbox requests included)."""
        return [email for request in self.requests for email in request.recipients]

    def reset(self) -> None:
        """Forget the record, the queued faults and the rate-limit mode (not the account)."""
        with self._lock:
            self._requests.clear()
            self._calls.clear()
            self._received = 0
        self.faults.clear()

    # -- the fault script ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        reset_in: float | None = None,
        reset_at: float | None = None,
        message: str = "",
        field: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next request (to ``path``, if given) with ``status``; for 429,
        ``X-RateLimit-Reset`` is ``reset_at`` (Unix seconds) or now + ``reset_in``, and
        absent if neither is given."""
        if reset_at is None and reset_in is not None:
            reset_at = time.time() + reset_in
        self.faults.queue(
            Fault("fail", status=status, message=message, field=field, reset_at=reset_at, path=path)
        )

    def refuse_with(
        self, status: int, message: str, field: str | None = None, *, path: str | None = None
    ) -> None:
        """Refuse the next request for good, with SendGrid's error shape."""
        self.fail_next(status, message=message, field=field, path=path)

    def slow_next(self, seconds: float, *, path: str | None = None) -> None:
        """Answer the next request (judged and recorded as usual) after ``seconds``."""
        self.faults.queue(Fault("slow", seconds=seconds, path=path))

    def hang_next(
        self, seconds: float = 5.0, *, path: str | None = None, take: int | None = None
    ) -> None:
        """Judge and record the next request but answer only after ``seconds`` (past the
        client's read timeout): delivered, yet the client cannot know it. With ``take``,
        only the first ``take`` recipients of a mail send are recorded: a batch that
        arrived in part."""
        self.faults.queue(Fault("hang", seconds=seconds, path=path, take=take))

    def drop_next(self, *, path: str | None = None) -> None:
        """Read the next request, then close the connection without answering or recording."""
        self.faults.queue(Fault("drop", path=path))

    def rate_limit_every(self, n: int, reset_in: float = 1.0) -> None:
        """Answer 429 to every ``n``-th request of each path from now on (0 turns it off)."""
        self.faults.rate_limit_every(n, reset_in)

    # -- what the handler records ---------------------------------------------------------

    def _count_mail_send(self) -> None:
        with self._lock:
            self._received += 1

    def _record(self, body: dict[str, Any], headers: Mapping[str, str]) -> RecordedRequest:
        settings = body.get("mail_settings")
        mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
        sandbox = isinstance(mode, dict) and mode.get("enable") is True
        request = RecordedRequest(body, dict(headers), time.time(), uuid.uuid4().hex, sandbox)
        with self._lock:
            self._requests.append(request)
        return request

    def _log(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    # -- running -------------------------------------------------------------------------

    def start(self) -> SendGridServer:
        """Serve in a background daemon thread."""
        # A short poll lets stop() return at once instead of after the default 0.5 s.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut short any hanging answer, release the port."""
        self._stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> SendGridServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(
    api_key: str = "test-key", *, full_validation: bool = True
) -> tuple[SendGridServer, str]:
    """Start a server on a free 127.0.0.1 port; return it and its base URL. Call ``stop()``."""
    server = SendGridServer(api_key, full_validation=full_validation).start()
    return server, server.url


class _Handler(BaseHTTPRequestHandler):
    server: SendGridServer

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_test/accepted":
            self._answer(Answer(200, self.server.accepted_recipients()))
        elif path == "/_test/calls":
            self._answer(Answer(200, [call.as_json() for call in self.server.calls]))
        elif path.startswith("/_test/"):
            self._answer(refuse(404))
        else:
            self._serve(path, query, lambda _fault: self._account_get(path, query))

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_test/faults":
            self._queue_faults()
        elif path == "/_test/account":
            self._replace_account()
        elif path.startswith("/_test/"):
            self._answer(refuse(404))
        elif path == MAIL_SEND_PATH:
            self._mail_send(query)
        else:
            found = api.find_route(unquote(path))
            self._serve(path, query, lambda _fault: refuse(404 if found is None else 405))

    # -- API requests ----------------------------------------------------------------------

    def _serve(self, path: str, query: str, judge: Callable[[Fault | None], Answer]) -> None:
        """Take the path's fault, judge the request unless the fault answers it, record the
        call, then answer (late, for a slow or hanging fault; never, for a dropped one)."""
        fault = self.server.faults.take(path)
        if fault is not None and fault.kind == "drop":
            self._log_call(path, query, None)
            self.close_connection = True
            return
        answer = fault.answer() if fault is not None and fault.kind == "fail" else judge(fault)
        self._log_call(path, query, answer.status)
        if fault is not None and fault.kind in ("slow", "hang"):
            self.server._stopping.wait(fault.seconds)
        self._answer(answer)

    def _mail_send(self, query: str) -> None:
        self.server._count_mail_send()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._log_call(MAIL_SEND_PATH, query, 413)
            self._answer(refuse(413))
            return
        raw = self.rfile.read(length)
        self._serve(MAIL_SEND_PATH, query, lambda fault: self._judge_mail_send(raw, fault))

    def _judge_mail_send(self, raw: bytes, fault: Fault | None) -> Answer:
        server = self.server
        refused = check_key(self.headers.get("Authorization"), server.api_key)
        if refused is not None:
            return refused
        if "mail.send" not in server.account.scopes:
            return refuse(403)
        errors, body = judge_body(raw, self.headers.get_content_type(), full=server.full_validation)
        if errors:
            return Answer(400, error_body(errors))
        if fault is not None and fault.take is not None:
            body = {**body, "personalizations": body["personalizations"][: fault.take]}
        request = server._record(body, self.headers)
        if request.sandbox:
            return Answer(200)
        return Answer(202, None, {"X-Message-Id": request.message_id})

    def _account_get(self, path: str, query: str) -> Answer:
        refused = check_key(self.headers.get("Authorization"), self.server.api_key)
        if refused is not None:
            return refused
        return api.answer_get(
            self.server.account,
            unquote(path),
            parse_qs(query, keep_blank_values=True),
            self.headers.get("on-behalf-of"),
        )

    def _log_call(self, path: str, query: str, status: int | None) -> None:
        headers = {
            name: value for name, value in self.headers.items() if name.lower() != "authorization"
        }
        parsed = parse_qs(query, keep_blank_values=True)
        self.server._log(Call(self.command, path, parsed, headers, status))

    # -- test control ----------------------------------------------------------------------

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("too large")
        return json.loads(self.rfile.read(length))

    def _queue_faults(self) -> None:
        try:
            faults = [fault_from_spec(spec) for spec in self._read_json()]
        except (ValueError, TypeError, KeyError) as error:
            self._answer(refuse(400, f"bad fault spec: {error}"))
            return
        for fault in faults:
            self.server.faults.queue(fault)
        self._answer(Answer(200, {"queued": len(faults)}))

    def _replace_account(self) -> None:
        try:
            self.server.account = account_from_json(self._read_json())
        except (ValueError, TypeError, KeyError) as error:
            self._answer(refuse(400, f"bad account: {error}"))
            return
        self._answer(Answer(200, {"replaced": True}))

    def _answer(self, answer: Answer) -> None:
        data = b"" if answer.payload is None else json.dumps(answer.payload).encode()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a hang): nothing to answer to
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.sendgrid_server",
        description="A local stand-in for SendGrid's v3 API, for tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", required=True, help="the key requests must carry")
    parser.add_argument(
        "--fast", action="store_true", help="skip JSON Schema validation (limit checks stay)"
    )
    parser.add_argument("--rate-limit-every", type=int, default=0, metavar="N")
    parser.add_argument(
        "--account",
        type=Path,
        metavar="FILE",
        help="a JSON account document, as POST /_test/account takes",
    )
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed, after printing the base URL on the first line of stdout."""
    args = _parse_args(argv)
    account = None
    if args.account is not None:
        account = account_from_json(json.loads(args.account.read_text(encoding="utf-8")))
    server = SendGridServer(
        args.api_key,
        full_validation=not args.fast,
        host=args.host,
        port=args.port,
        account=account,
    )
    server.verbose = args.verbose
    server.rate_limit_every(args.rate_limit_every)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
