"""The outbox backend: each recipient's message written as an .eml file, nothing sent.

For dry runs, tests and editors: the files are exactly what the SMTP backend
would transmit (CRLF line ends, 7-bit), and open in any mail client. They go to
``<directory>/<edition>/<address>.eml``, so they sort by address and a rerun
overwrites the same files instead of adding copies. Each file is written to a
temporary name in the same folder and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from ..errors import BatchFailed
from ..files import write_atomic
from ..models import Recipient
from . import Message
from .mime import build_message

_UNSAFE = re.compile(r"[^a-z0-9@._+-]")
_MAX_STEM = 200


class OutboxBackend:
    """Writes one .eml per recipient under ``directory/<edition>/``."""

    name = "outbox"
    batch_size = 1000

    def __init__(
        self, directory: Path, *, now: Callable[[], datetime], message_id_domain: str
    ) -> None:
        self.directory = Path(directory)
        self._now = now
        self._message_id_domain = message_id_domain

    def send(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Write each recipient's message; return ``outbox:<edition>:<files written>``."""
        folder = self.folder_for(message.edition)
        written: set[Path] = set()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for recipient in recipients:
                email = build_message(
                    message, recipient, now=self._now(), message_id_domain=self._message_id_domain
                )
                path = folder / f"{file_stem(recipient.email)}.eml"
                write_atomic(path, email.as_bytes())
                written.add(path)
        except OSError as error:
            failed = BatchFailed(f"cannot write the outbox in {folder}: {error.strerror or error}")
            failed.hint = "set delivery.outbox to a folder you can write"
            raise failed from None
        return f"outbox:{message.edition}:{len(written)}"

    def folder_for(self, edition: str) -> Path:
        """Where the messages of ``edition`` go."""
        return self.directory / (safe_name(edition) or "no-edition")

    def prepare(self) -> None:
        """Nothing to load: the email package came with this module."""

    def close(self) -> None:
        """Nothing to release: every file is complete when ``send`` returns."""


def safe_name(text: str) -> str:
    """``text`` lowercased with anything but letters, digits and ``@._+-`` replaced by ``_``."""
    return _UNSAFE.sub("_", text.strip().lower()).lstrip(".")


def file_stem(address: str) -> str:
    """A file name for an address: the address itself when it is safe, else plus a short hash.

    The hash keeps two addresses that sanitize alike (or are cut at the length
    limit) in separate files; addresses compare case-insensitively, so case never
    makes a second file.
    """
    canonical = address.strip().lower()
    stem = safe_name(canonical)
    if stem == canonical and len(stem) <= _MAX_STEM:
        return stem
    suffix = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    return f"{stem[:_MAX_STEM]}-{suffix}"
