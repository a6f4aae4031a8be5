"""The local SendGrid stand-in, in parts; ``tests/sendgrid_server.py`` is its front door.

``answers`` (SendGrid's error shape), ``mail_send`` (the judge of ``POST /v3/mail/send``),
``account`` (the seedable account: scopes, suppressions, groups, senders, domains),
``api`` (the account's GET endpoints, as pure functions of the account and the request),
``schemas`` (JSON Schemas of those answers and parameters), ``faults`` (the fault script)
and ``server`` (the HTTP server that ties them together).

Not named ``sendgrid``: a test folder on ``sys.path`` would then hide the SDK.
"""
