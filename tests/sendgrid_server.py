"""A local stand-in for SendGrid's v3 Mail Send endpoint, for tests and benchmarks.

A real HTTP server (``ThreadingHTTPServer`` on 127.0.0.1) serving ``POST /v3/mail/send``
the way SendGrid documents it; its parts are in ``tests/sendgrid_standin/`` and this
module is its front door. A ``Bearer`` key, a JSON body that validates against the
schema copied from the official OpenAPI file (``tests/sendgrid_schema.py``) and the
documented limits that schema cannot express (checked by hand in ``check_limits``).
A valid request is recorded and answered 202 with a unique ``X-Message-Id``; with
``mail_settings.sandbox_mode.enable`` it is answered 200 without one, as SendGrid
does, and recorded with ``sandbox=True``. Violations get 400 (413 for an oversized
body, 401 for a wrong key) with SendGrid's error shape ``{"errors": [{"message": ...,
"field": ...}]}``. Every request is logged in ``server.calls`` (method, path, parsed
query, headers without ``Authorization``, the status answered).

Faults are scripted per request: each incoming request takes the first queued fault
meant for its path, or for any path (``fail_next``, ``refuse_with``, ``slow_next``,
``hang_next``, ``drop_next``, each with an optional ``path=``), and
``rate_limit_every(n)`` answers 429 to every n-th request of each path. A request
answered with an error status is not recorded; a slow or hanging one is (it was
accepted: the answer is merely late); a dropped one is not.

In tests::

    server, base_url = start_server(api_key="test-key")
    try: ...  # point the backend's host at base_url
    finally: server.stop()

As a process (benchmarks, crash tests)::

    python -m tests.sendgrid_server --port 0 --api-key KEY [--fast]

prints its base URL on the first line of stdout and serves until killed.
``--fast`` skips the JSON Schema validation (measured: about 0.1 s per
1000-personalization request with jsonschema, against 9 ms for the hand checks
alone) but keeps every hand-written limit check. Another process reads the
accepted addresses, in order, from ``GET /_test/accepted`` (a JSON list), every
call from ``GET /_test/calls``, and queues faults with ``POST /_test/faults`` (a JSON
list such as ``[{"kind": "fail", "status": 500}, {"kind": "hang", "seconds": 5}]``).
"""

from __future__ import annotations

import sys

from tests.sendgrid_standin.faults import Fault
from tests.sendgrid_standin.mail_send import RecordedRequest, check_limits, validate_mail_send
from tests.sendgrid_standin.server import Call, SendGridServer, main, start_server

__all__ = [
    "Call",
    "Fault",
    "RecordedRequest",
    "SendGridServer",
    "check_limits",
    "main",
    "start_server",
    "validate_mail_send",
]

if __name__ == "__main__":
    main(sys.argv[1:])
