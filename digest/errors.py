"""One exception hierarchy: every error the user can cause says what went wrong and what to do.

The CLI prints ``str(error)`` as a single line and exits 1; nothing else in the
package prints errors or decides exit codes.
"""

from __future__ import annotations

import copy

from .models import SUBSTITUTIONS_MAX_BYTES


class DigestError(Exception):
    """Base of every error meant for the user: a cause plus a hint on what to do."""

    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def lines(self) -> list[str]:
        """The error as the CLI prints it: one line, unless it lists several problems."""
        return [str(self)]

    def __reduce__(self) -> tuple[object, ...]:
        """Errors cross from send workers to the parent: rebuilt as they were, any __init__."""
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(
    cls: type[DigestError], args: tuple[object, ...], state: dict[str, object]
) -> DigestError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(DigestError):
    """The configuration file or an environment override is missing or wrong."""

    hint = "fix the key in digest.toml or the DIGEST_* variable"


class ConfigProblems(ConfigError):
    """Several problems with the settings at once: a summary line, then one line each
    (each names its key or variable, and is its own fix)."""

    hint = ""

    def __init__(self, summary: str, problems: list[str]) -> None:
        super().__init__(summary)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        return [self.message, *(f"  {problem}" for problem in self.problems)]


class SourceError(DigestError):
    """The posts could not be read: a missing file, an unreachable URL, not a feed."""

    hint = "check [source] location in digest.toml"


class TemplateError(DigestError):
    """A template failed to load, parse or render, or MJML could not compile it."""

    hint = "fix the template named above"


class SubscribersError(DigestError):
    """subscribers.csv cannot be read at all (row-level problems are reported, not raised)."""

    hint = "check [subscribers] path and the CSV's header row"


class SubstitutionsTooLarge(SubscribersError):
    """One recipient's substitutions exceed what a provider accepts per personalization."""

    hint = "shorten this reader's fields in the subscribers file"

    def __init__(self, email: str, size: int) -> None:
        self.reason = (
            f"substitutions take {size:,} bytes, the limit is under {SUBSTITUTIONS_MAX_BYTES:,}"
        )
        super().__init__(f"{email}: {self.reason}")


class SyncError(DigestError):
    """`digest subscribers sync` could not read what it writes into the list: SendGrid
    refused or never answered, or answered something other than its lists."""

    hint = "subscribers.csv was not changed; fix the cause and run `digest subscribers sync` again"


class ListChanged(SubscribersError):
    """subscribers.csv changed while a command that rewrites it was reading it."""

    hint = "nothing was written; run the command again once nothing else edits the list"


class DiskFull(DigestError):
    """A working file could not be written for want of room: the disk or the quota is
    full, or the file reached the size limit (``ulimit -f``). Nothing was recorded."""

    hint = (
        "free some space there (or raise the file size limit), then run the command again; "
        "nothing was sent or recorded"
    )


class ChildError(DigestError):
    """A child process died, or raised an error that could not be sent back as it was."""

    hint = "run the command again; with -v for details if it fails the same way"


class NothingToSend(DigestError):
    """No new posts: no edition. Not a failure; the CLI says it and exits 0."""


class StandDown(DigestError):
    """Another process is sending the edition, or it was sent already: exit 0."""


class EditionKeyError(DigestError):
    """An --edition that names no edition: not a real date, nor a key the ledger holds."""

    hint = "an edition is named by its date, e.g. --edition 2026-03-09; `digest history` lists them"


class LedgerError(DigestError):
    """The state database is unreadable, from a newer version, or locked for too long."""

    hint = "check .digest/state.db; it is never edited by hand"


class DeliveryError(DigestError):
    """The email provider refused the send, or the send cannot start as configured.

    The hints of these errors say what to fix, not which command to run next: the part of
    the code that raises one does not know whether it sends an edition, a test or a dry
    run. The command that catches it names its own (``with_hint``): `digest send
    --edition KEY` resumes an edition, while after a test only the test's own command is
    safe to repeat (`digest send` alone would mail the whole list).
    """

    hint = "nothing was lost: fix the cause"


class SendRefused(DeliveryError):
    """A precondition of sending is missing: API key, unsubscribe method, confirmation."""

    hint = ""


class BatchRefused(DeliveryError):
    """The provider refused a request for good (a 4xx other than 429): stop the send."""

    hint = "fix what the provider names above"

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details


class BatchFailed(DeliveryError):
    """A request surely never delivered, after the retries ran out (5xx, refused connections)."""

    hint = "the batch stays pending: try again later"


class RecipientRefused(BatchFailed):
    """The provider refused one recipient for good (an SMTP 5xx to RCPT TO).

    Unlike a SendGrid 4xx this says nothing about the rest of the audience: the
    send goes on, and the recipient is recorded as rejected and never retried.
    """

    hint = "the address is undeliverable: fix it or mark it bounced in subscribers.csv"

    def __init__(self, address: str, code: int, reply: str) -> None:
        """``code`` 0 means the address was refused before it reached the server."""
        super().__init__(f"the SMTP server refused {address}: {code} {reply}" if code else reply)
        self.address = address
        self.code = code
        self.reply = reply


class BatchUncertain(DeliveryError):
    """A request went out and no answer came: the provider may or may not have taken it."""

    hint = "check the provider's activity log before sending it again"


class AccountError(DigestError):
    """The provider's API answered a question about the account (its key's scopes, its
    senders) with an error, or could not be reached (``status`` 0)."""

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class SettleError(DigestError):
    """Uncertain batches cannot be settled as asked: no such uncertain batch, or a file of
    addresses that cannot be read."""

    hint = "`digest history` lists each edition's uncertain batches"


class UnknownEdition(DigestError):
    """An edition named by --edition that this folder's ledger never started."""

    hint = "`digest history` lists the editions sent from this folder"


class WebError(DigestError):
    """A web endpoint cannot start: its address is taken or does not exist here."""

    hint = "choose another --host or --port, or stop the program listening there"


def with_hint(error: DigestError, hint: str) -> DigestError:
    """A copy of ``error`` with another hint: the one naming the command that does what it
    says, which only the command that caught the error knows."""
    changed = copy.copy(error)
    changed.hint = hint
    return changed


class InvalidAddress(ValueError):
    """An email address, or its domain, that is not valid; the message says why.

    Not a DigestError: it is a verdict on one value, which each caller turns into its
    own words (a row of the list reported, an option refused, a recipient refused).
    """
