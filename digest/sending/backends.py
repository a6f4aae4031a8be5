"""Choosing and configuring the delivery backend for a run, and how many batches it takes at once.

Each backend's module is imported only when that backend is chosen: the email
package takes 0.1 s, and so does the SendGrid SDK, which its backend imports
only when ``prepare`` or the first batch asks for it: ``digest send`` starts
reading the list in a child process first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..app import App
from ..deliver import Backend
from .edition import message_id_domain

if TYPE_CHECKING:
    from ..deliver.outbox import OutboxBackend


def make_backend(app: App, name: str) -> Backend:
    """The backend called ``name`` ("sendgrid", "smtp" or "outbox"), set up from the settings."""
    settings = app.settings
    if name == "sendgrid":
        from ..deliver.sendgrid import SendGridBackend

        sendgrid = settings.sendgrid
        return SendGridBackend(
            api_key=settings.secrets.sendgrid_api_key,
            host=sendgrid.host,
            timeout=sendgrid.timeout,
            max_retries=sendgrid.max_retries,
            sleep=app.sleep,
        )
    if name == "smtp":
        from ..deliver.smtp import SmtpBackend

        smtp = settings.smtp
        return SmtpBackend(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=settings.secrets.smtp_password,
            timeout=smtp.timeout,
            from_domain=message_id_domain(settings),
            now=app.clock,
            sleep=app.sleep,
        )
    return make_outbox(app)


def make_outbox(app: App) -> OutboxBackend:
    """The outbox backend: each message as an .eml file under ``delivery.outbox``."""
    from ..deliver.outbox import OutboxBackend

    return OutboxBackend(
        app.paths.outbox, now=app.clock, message_id_domain=message_id_domain(app.settings)
    )


def concurrency(app: App, backend: Backend) -> int:
    """How many batches may be in flight at once: SendGrid takes several, others one."""
    return max(1, app.settings.sendgrid.concurrency) if backend.name == "sendgrid" else 1
