"""A local stand-in for SendGrid's v3 API, for tests and benchmarks.

A real HTTP server (``ThreadingHTTPServer`` on 127.0.0.1), in ``tests/sendgrid_standin/``;
this module is its front door. It serves what the product calls, as the official
OpenAPI files describe it:

* ``POST /v3/mail/send``: a ``Bearer`` key, a JSON body that validates against the
  schema written from the OpenAPI file (``tests/sendgrid_schema.py``) and the
  documented limits that schema cannot express (``check_limits``, by hand). A valid
  request is recorded and answered 202 with a unique ``X-Message-Id``; with
  ``mail_settings.sandbox_mode.enable`` it is answered 200 without one, as SendGrid
  does, and recorded with ``sandbox=True``. Violations get 400 (413 for an oversized
  body, 401 for a wrong key, 403 for a key without ``mail.send``).
* ``GET /v3/scopes``, ``/v3/suppression/{unsubscribes,bounces,spam_reports,
  invalid_emails}``, ``/v3/asm/groups/{id}``, ``/v3/asm/groups/{id}/suppressions``,
  ``/v3/verified_senders`` and ``/v3/whitelabel/domains``, from ``server.account``
  (``tests/sendgrid_standin/account.py``): paged, filtered and validated as the files
  say (``tests/sendgrid_standin/api.py``); 401 for a wrong key, 403 for a key without
  the endpoint's scope or an unknown ``on-behalf-of`` subuser, 400 for a bad query
  parameter (``limit=501`` on a suppression list), 404 for an unknown group. Their
  answers validate against ``tests/sendgrid_standin/schemas.py``.

Errors have SendGrid's shape ``{"errors": [{"message": ..., "field": ...}]}``. Every API
request is logged in ``server.calls`` (method, path, parsed query, headers without
``Authorization``, the status answered); accepted mail sends also in
``server.requests``, with their bodies.

Faults are scripted per request: each API request takes the first queued fault meant
for its path (or for any path): ``fail_next``, ``refuse_with``, ``slow_next``,
``hang_next``, ``drop_next``, each with an optional ``path=``; ``rate_limit_every(n)``
answers 429 to every n-th request of each path. A mail send answered with an error
status is not recorded; a slow or hanging one is (it was accepted: the answer is
merely late); a dropped one is not.

In tests::

    server, base_url = start_server(api_key="test-key")
    server.account.bounces.add("gone@example.com", created=1_700_000_000)
    server.account.scopes.remove("mail.send")    # a broken account
    try: ...  # point the SDK's host at base_url
    finally: server.stop()

As a process (benchmarks, crash tests)::

    python -m tests.sendgrid_server --port 0 --api-key KEY [--fast] [--account FILE]

prints its base URL on the first line of stdout and serves until killed.
``--fast`` skips the JSON Schema validation of mail sends (measured: about 0.1 s per
1000-personalization request with jsonschema, against 9 ms for the hand checks
alone) but keeps every hand-written limit check. Another process reads the
accepted addresses, in order, from ``GET /_test/accepted`` (a JSON list) and every
call from ``GET /_test/calls``; it queues faults with ``POST /_test/faults`` (a JSON
list such as ``[{"kind": "fail", "status": 500, "path": "/v3/suppression/bounces"},
{"kind": "hang", "seconds": 5}]``) and replaces the account with ``POST
/_test/account`` (the JSON document ``account_from_json`` reads, also what
``--account`` takes).
"""

from __future__ import annotations

import sys

from tests.sendgrid_standin.account import Account, account_from_json
from tests.sendgrid_standin.faults import Fault
from tests.sendgrid_standin.mail_send import (
    Delivered,
    RecordedRequest,
    check_limits,
    validate_mail_send,
)
from tests.sendgrid_standin.server import Call, SendGridServer, main, start_server

__all__ = [
    "Account",
    "Call",
    "Delivered",
    "Fault",
    "RecordedRequest",
    "SendGridServer",
    "account_from_json",
    "check_limits",
    "main",
    "start_server",
    "validate_mail_send",
]

if __name__ == "__main__":
    main(sys.argv[1:])
