"""Whether a send may start: a sender, an API key, a way to unsubscribe and its secret,
and a sandbox the backend honours. The send refuses on the first problem
(``check_ready``); a dry run and `digest doctor` list them all (``send_problems``)."""

from __future__ import annotations

from ..app import App
from ..audience.addresses import normalize
from ..config import Settings
from ..errors import InvalidAddress, SendRefused
from .edition import SENDER_HINT, require_sender


def check_ready(app: App, backend_name: str, *, to_list: bool) -> None:
    """Refuse, in one line, a send that lacks a sender, an API key or an unsubscribe method."""
    require_sender(app.settings)
    problems = send_problems(app.settings, backend_name, to_list=to_list)
    if problems:
        raise problems[0]
    if to_list and one_click_not_assured(app.settings):
        app.warn(ONE_CLICK_NOT_ASSURED)


ONE_CLICK_NOT_ASSURED = (
    "one-click unsubscribe is not assured with an ASM group alone; "
    "set [unsubscribe] url to add RFC 8058 headers"
)


def one_click_not_assured(settings: Settings) -> bool:
    """An ASM group without an unsubscribe URL: SendGrid may add only a mailto: link."""
    return bool(settings.sendgrid.asm_group_id) and not settings.unsubscribe.url


def send_problems(settings: Settings, backend_name: str, *, to_list: bool) -> list[SendRefused]:
    """Every reason a send (to the list, or a test) would refuse to start, in the order
    ``check_ready`` meets them: for a dry run to warn of all of them."""
    found = sender_problems(settings) + api_key_problems(settings, backend_name)
    if to_list:
        found += sandbox_problems(settings, backend_name)
        found += unsubscribe_problems(settings, backend_name)
    return found


def sender_problems(settings: Settings) -> list[SendRefused]:
    """The sender and reply-to addresses: set, and valid in full. (The settings checked
    only their shape, as build and a dry run may use a test domain such as localhost that
    no real send would take.)"""
    found = [_invalid_address(settings, key) for key in ("from_email", "reply_to")]
    if not settings.newsletter.from_email:
        found.append(SendRefused("newsletter.from_email is not set", SENDER_HINT))
    return [problem for problem in found if problem is not None]


def api_key_problems(settings: Settings, backend_name: str) -> list[SendRefused]:
    if backend_name == "sendgrid" and not settings.secrets.sendgrid_api_key:
        return [
            SendRefused(
                "SENDGRID_API_KEY is not set",
                "export SENDGRID_API_KEY with a key that has Mail Send permission",
            )
        ]
    return []


def _invalid_address(settings: Settings, key: str) -> SendRefused | None:
    address = getattr(settings.newsletter, key)
    if not address:
        return None
    try:
        normalize(address)
    except InvalidAddress as problem:
        return SendRefused(
            f"newsletter.{key} {address!r} is not a valid address: {problem}",
            f"fix newsletter.{key} in digest.toml",
        )
    return None


def sandbox_problems(settings: Settings, backend_name: str) -> list[SendRefused]:
    """A sandbox that the backend would ignore: the operator thinks it rehearses."""
    if settings.sendgrid.sandbox and backend_name != "sendgrid":
        return [
            SendRefused(
                f"sendgrid.sandbox is true, but delivery.backend is {backend_name}: sandbox"
                " mode is SendGrid's, so this send would deliver every message",
                "set sendgrid.sandbox = false to send for real, or delivery.backend = sendgrid"
                " to rehearse",
            )
        ]
    return []


def unsubscribe_problems(settings: Settings, backend_name: str) -> list[SendRefused]:
    """What a send to the list needs beyond a test: a way to unsubscribe that works with
    the backend, and the secret its links are sealed with."""
    asm, url = settings.sendgrid.asm_group_id, settings.unsubscribe.url
    found = []
    if asm and backend_name != "sendgrid":
        found.append(
            SendRefused(
                "sendgrid.asm_group_id works only with delivery.backend = sendgrid",
                "set [unsubscribe] url for the smtp and outbox backends",
            )
        )
    if not asm and not url:
        found.append(
            SendRefused(
                "no unsubscribe method is configured",
                "set [unsubscribe] url (self-hosted, RFC 8058) or [sendgrid] asm_group_id",
            )
        )
    if url and not settings.secrets.unsubscribe_secret:
        found.append(
            SendRefused(
                "DIGEST_UNSUBSCRIBE_SECRET is not set, so unsubscribe links cannot be signed",
                "export DIGEST_UNSUBSCRIBE_SECRET, a long random string your endpoint also knows",
            )
        )
    return found
