"""`digest subscribers import FILE`: a sign-up export merged into the list.

New addresses are appended, in the export's order, with their name and the values of
the columns the list has (matched ignoring case: an export's ``Company`` fills the
list's ``company``; a column the list lacks is left out, and named); an address
the list has in any row, even an invalid one, is left exactly as it is, so an import
never reactivates anyone. A new address the export marks unsubscribed, bounced or
complained comes in so marked, and one the ledger records as unsubscribed through the
link comes in unsubscribed. Rows that cannot come in (an invalid address, a repeat of
an earlier row of the export) are reported by their line. The list is written as
``audience.rewrite.append_rows`` writes it: the rows before untouched, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..app import App
from ..audience.addresses import address_key
from ..audience.csvfile import DUPLICATE, Problem, written_records
from ..audience.rewrite import STATUS, append_rows, known_addresses
from ..models import Subscriber
from .pipeline import unsubscribed_through_the_link

# The status a new reader the ledger records as unsubscribed comes in with.
UNSUBSCRIBED = "unsubscribed"


@dataclass
class ImportReport:
    """What an import found and did: the readers appended (or to append, in a dry run)
    with their status, the export's addresses the list has already, its rows that could
    not come in, the export's columns the list lacks, and whether the list was written."""

    added: list[tuple[Subscriber, str]] = field(default_factory=list)
    known: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    written: bool = False


def import_signups(app: App, export: Path, *, dry_run: bool = False) -> ImportReport:
    """Append the export's new readers to the list (unless ``dry_run``); see the module."""
    path = app.paths.subscribers
    columns = next(written_records(path)).header
    report = ImportReport()
    candidates, export_columns = _readers(export, report)
    known = known_addresses(path, candidates.keys())
    report.known = len(known)
    unsubscribed = unsubscribed_through_the_link(app)
    rows = []
    for key, reader in candidates.items():
        if key in known:
            continue
        status = UNSUBSCRIBED if key in unsubscribed and reader.active else reader.status
        if status != "active" and STATUS not in columns:
            why = f"marked {status}, and {path.name} has no status column to say so"
            report.problems.append(Problem(reader.line, reader.email, why))
            continue
        report.added.append((reader, status))
        rows.append(_cells(columns, reader, status))
    report.problems.sort(key=lambda problem: problem.line)
    kept = {name.lower() for name in columns}
    report.ignored_columns = tuple(
        name for name in export_columns if name and name.lower() not in kept
    )
    if rows and not dry_run:
        append_rows(path, rows)
        report.written = True
    return report


def _readers(export: Path, report: ImportReport) -> tuple[dict[str, Subscriber], tuple[str, ...]]:
    """The export's valid rows by address (``address_key``), the first of each kept (the
    others go to ``report.problems``), and its columns."""
    readers: dict[str, Subscriber] = {}
    columns: tuple[str, ...] = ()
    for record in written_records(export):
        row = record.row
        columns = columns or record.header
        if isinstance(row, Problem):
            report.problems.append(row)
        elif isinstance(row, Subscriber):
            first = readers.setdefault(address_key(row.email), row)
            if first is not row:
                why = f"duplicate of line {first.line}"
                report.problems.append(Problem(row.line, row.email, why, DUPLICATE))
    return readers, columns


def _cells(columns: tuple[str, ...], reader: Subscriber, status: str) -> list[str]:
    """The reader's row, in the list's columns (matched ignoring case)."""
    values = {
        **{name.lower(): value for name, value in reader.fields.items()},
        "email": reader.email,
        "name": reader.name,
        STATUS: status,
        "tags": ";".join(reader.tags),
        "subscribed_at": reader.subscribed_at,
    }
    return [values.get(name.lower(), "") if name else "" for name in columns]
