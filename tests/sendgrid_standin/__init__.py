"""The local SendGrid stand-in, in parts; ``tests/sendgrid_server.py`` is its front door.

``answers`` (SendGrid's error shape), ``mail_send`` (the judge of ``POST /v3/mail/send``),
``faults`` (the fault script) and ``server`` (the HTTP server that ties them together).

Not named ``sendgrid``: a test folder on ``sys.path`` would then hide the SDK.
"""
