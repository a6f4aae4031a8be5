"""The checks that ask outside the folder: SendGrid's view of the API key, the sender and
the unsubscribe group (through ``deliver/sendgrid.py``, the one module that talks to
SendGrid), and whether the unsubscribe endpoint answers over https.

A key may lawfully be kept from reading senders, domains or groups (a *Mail Send*
key is the least it needs): what it may not read cannot be checked, which is a warning,
never a failure.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..app import App
from ..errors import AccountError
from .findings import FAIL, PASS, WARN, Finding
from .ready import api_key_problems, sender_problems

if TYPE_CHECKING:
    from ..deliver.account import SendGridAccount

T = TypeVar("T")

# The account checks ask once and retry little: a check reports, the send retries harder.
ACCOUNT_RETRIES = 2
# The unsubscribe endpoint must answer at once: readers' mail programs will not wait.
PROBE_SECONDS = 5.0
FORBIDDEN = 403


def account_findings(app: App) -> Iterator[Finding]:
    """The API key and its Mail Send scope, the sender, the unsubscribe group (SendGrid
    only); the sender's address for any backend."""
    settings = app.settings
    backend = settings.delivery.backend
    no_key, bad_sender = api_key_problems(settings, backend), sender_problems(settings)
    yield from (Finding(FAIL, "api key", str(problem)) for problem in no_key)
    yield from (Finding(FAIL, "sender", str(problem)) for problem in bad_sender)
    if backend != "sendgrid":
        if not bad_sender:
            yield Finding(PASS, "sender", f"{settings.newsletter.from_email} is a valid address")
        return
    if no_key and not bad_sender:
        said = "SendGrid is asked whether it takes it once SENDGRID_API_KEY is set"
        yield Finding(PASS, "sender", f"{settings.newsletter.from_email} is valid; {said}")
    if no_key or bad_sender:
        return
    from ..deliver.account import SendGridAccount
    from ..deliver.sendgrid import SendGridApi

    api = SendGridApi(
        api_key=settings.secrets.sendgrid_api_key,
        host=settings.sendgrid.host,
        timeout=settings.sendgrid.timeout,
        max_retries=min(settings.sendgrid.max_retries, ACCOUNT_RETRIES),
        sleep=app.sleep,
    )
    account = SendGridAccount(api)
    key_finding = _api_key(account)
    yield key_finding
    if key_finding.status == FAIL:
        return
    yield _sender(account, settings.newsletter.from_email)
    if settings.sendgrid.asm_group_id:
        yield _group(account, settings.sendgrid.asm_group_id)


def _api_key(account: SendGridAccount) -> Finding:
    try:
        scopes = account.scopes()
    except AccountError as error:
        if error.status == 401:
            said = f"SendGrid refused SENDGRID_API_KEY ({error.message}); create a key with"
            return Finding(FAIL, "api key", f"{said} Mail Send permission and export it")
        return Finding(FAIL, "api key", f"cannot ask SendGrid about the key: {error.message}")
    if "mail.send" not in scopes:
        return Finding(
            FAIL,
            "api key",
            "SENDGRID_API_KEY lacks the mail.send scope, so SendGrid refuses every send (403);"
            " give the key Mail Send permission (Settings -> API Keys)",
        )
    return Finding(PASS, "api key", "SendGrid accepts SENDGRID_API_KEY, and it may send mail")


def _sender(account: SendGridAccount, address: str) -> Finding:
    """A verified Single Sender, or an address at an authenticated domain."""
    wanted, domain = address.lower(), address.rpartition("@")[2].lower()
    unreadable: list[str] = []
    try:
        senders = _read(account.senders, unreadable, "senders")
        domains = _read(account.domains, unreadable, "domains")
    except AccountError as error:
        said = f"cannot ask SendGrid whether {address} may send: {error.message}"
        return Finding(FAIL, "sender", said)
    match = [sender for sender in senders if sender.from_email.lower() == wanted]
    if any(sender.verified for sender in match):
        return Finding(PASS, "sender", f"{address} is a verified sender")
    covering = [entry for entry in domains if _covers(entry.domain.lower(), domain)]
    if any(entry.valid for entry in covering):
        authenticated = next(entry.domain for entry in covering if entry.valid)
        return Finding(PASS, "sender", f"{address} is at {authenticated}, an authenticated domain")
    if covering:
        return Finding(
            FAIL,
            "sender",
            f"{covering[0].domain} is set up in SendGrid but its DNS records do not check out"
            " yet: fix them, then Verify it (Settings -> Sender Authentication)",
        )
    if match:
        return Finding(
            FAIL,
            "sender",
            f"{address} waits for verification: open the link SendGrid mailed to it",
        )
    if unreadable:
        return Finding(
            WARN,
            "sender",
            f"this key may not read the account's {' or '.join(unreadable)} (HTTP 403), so"
            f" {address} cannot be checked: make sure it is a verified sender or at an"
            " authenticated domain (Settings -> Sender Authentication)",
        )
    return Finding(
        FAIL,
        "sender",
        f"{address} is neither a verified sender nor at an authenticated domain, so"
        " SendGrid refuses mail from it; verify it or authenticate its domain (Settings ->"
        " Sender Authentication)",
    )


def _covers(authenticated: str, domain: str) -> bool:
    """Whether mail from ``domain`` is at the authenticated domain (or under it: DMARC
    aligns a subdomain with its organisational domain)."""
    return domain == authenticated or domain.endswith(f".{authenticated}")


def _read(read: Callable[[], list[T]], unreadable: list[str], what: str) -> list[T]:
    """``read()``, or nothing when the key may not (noted in ``unreadable``)."""
    try:
        return read()
    except AccountError as error:
        if error.status != FORBIDDEN:
            raise
        unreadable.append(what)
        return []


def _group(account: SendGridAccount, group_id: int) -> Finding:
    try:
        name = account.asm_group(group_id)
    except AccountError as error:
        if error.status == 404:
            return Finding(
                FAIL,
                "asm group",
                f"SendGrid has no unsubscribe group {group_id}: create it (Suppressions ->"
                " Unsubscribe Groups) or fix sendgrid.asm_group_id",
            )
        if error.status == FORBIDDEN:
            return Finding(
                WARN,
                "asm group",
                f"this key may not read unsubscribe groups (HTTP 403), so group {group_id}"
                " cannot be checked: make sure it exists",
            )
        return Finding(FAIL, "asm group", f"cannot ask SendGrid: {error.message}")
    return Finding(PASS, "asm group", f"unsubscribe group {group_id} ({name!r}) exists")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to report, not one to follow (RFC 8058 forbids one)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> NoReturn:
        raise urllib.error.HTTPError(req.full_url, code, msg, headers, fp)


def probe_endpoint(url: str, timeout: float = PROBE_SECONDS) -> Finding:
    """Whether the unsubscribe URL's host answers over https: a GET of its path without a
    token (which unsubscribes no one; digest's endpoint answers it 400). A warning when
    not: the endpoint may answer readers from beyond a firewall this machine is behind."""
    parts = urlsplit(url)
    target = urlunsplit(("https", parts.netloc, parts.path or "/", "", ""))
    check = "unsubscribe"
    plain = "" if parts.scheme == "https" else "; unsubscribe.url is http: mail programs want https"
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(target, headers={"User-Agent": "digest doctor"})
    try:
        with opener.open(request, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return Finding(
            WARN,
            check,
            f"{target} does not answer over https ({reason}): readers' unsubscribe links"
            " fail unless it answers them from where they are (behind a firewall, say);"
            f" see README, Hosting the unsubscribe endpoint{plain}",
        )
    if 300 <= status < 400:
        said = f"redirects (HTTP {status}); the one-click POST must reach the endpoint itself"
    elif status == 404 or status >= 500:
        said = f"answers HTTP {status}: is `digest unsubscribe serve` running behind it?"
    else:
        return Finding(WARN if plain else PASS, check, f"{target} answers over https{plain}")
    return Finding(WARN, check, f"{target} {said}{plain}")
