"""`digest subscribers import FILE`: new readers appended, known ones left exactly as they
are (nobody reactivated), problems named by line, dry runs, one-line errors."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from digest.ledger import Ledger
from tests.commands.conftest import Folder

DATA = Path(__file__).resolve().parents[1] / "data" / "subscribers"
LIST = (
    "email,name,status,tags,company\r\n"
    "ada@example.com,Ada,active,weekly,Engines\r\n"
    "bob@example.com,Bob,unsubscribed,,Acme\r\n"
    "cy@example.com,Cy,bounced,,Acme\r\n"
    "di@example.com,Di,complained,,Acme\r\n"
    "not-an-address,Broken,active,,Acme\r\n"
)
EXPORT = (
    "Email,Name,Company,Plan,Status\n"
    'new@example.com,"New, One",Initech,pro,\n'  # 2: appended
    "BOB@example.com,Bob again,Acme,,active\n"  # 3: known (unsubscribed): left as it is
    "cy@example.com,Cy,Acme,,\n"  # 4: known (bounced)
    "DI@EXAMPLE.COM,Di,Acme,,active\n"  # 5: known (complained)
    "not-an-address,Broken,Acme,,\n"  # 6: invalid here too
    "NEW@example.com,Dup,Initech,,\n"  # 7: a repeat of line 2
    "gone@example.com,Gone,Initech,,unsubscribed\n"  # 8: appended as the export marks it
    "left@example.com,Left,Initech,,\n"  # 9: unsubscribed through the link already
    "ada@example.com,Ada,Engines,,\n"  # 10: known (active)
)


def setup(folder: Folder) -> tuple[Path, Path]:
    target = folder.path / "subscribers.csv"
    target.unlink()
    target.write_bytes(LIST.encode())
    export = folder.path / "signups.csv"
    export.write_bytes(EXPORT.encode())
    with Ledger.open(folder.path / ".digest" / "state.db") as ledger:
        ledger.record_unsubscribe("left@example.com", datetime(2026, 1, 1, tzinfo=UTC), "page")
    return target, export


def test_new_readers_are_appended_and_known_ones_left_exactly_as_they_are(folder: Folder) -> None:
    target, _ = setup(folder)

    result = folder.run("subscribers", "import", "signups.csv")

    assert result.exit_code == 0, result.output
    appended = (
        'new@example.com,"New, One",active,,Initech\r\n'
        "gone@example.com,Gone,unsubscribed,,Initech\r\n"
        "left@example.com,Left,unsubscribed,,Initech\r\n"
    )
    assert target.read_bytes() == (LIST + appended).encode()
    assert result.stderr.splitlines() == [
        "signups.csv:6: not-an-address: invalid address: An email address must have an @-sign.",
        "signups.csv:7: NEW@example.com: duplicate of line 2",
        "warning: signups.csv's column Plan is not in subscribers.csv, so their values are"
        " left out (add the column to subscribers.csv to keep them)",
    ]
    assert result.stdout.strip() == (
        "subscribers.csv: appended 3 new readers from signups.csv (2 of them not active, as"
        " marked); 4 already in it, left as they are; 2 rows not imported (named above)."
    )


def test_a_dry_run_names_the_readers_it_would_add_and_writes_nothing(folder: Folder) -> None:
    target, _ = setup(folder)
    result = folder.run("subscribers", "import", "--dry-run", "signups.csv")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == LIST.encode()
    assert result.stdout.splitlines()[:3] == [
        "subscribers.csv: would append new@example.com (active)",
        "subscribers.csv: would append gone@example.com (unsubscribed)",
        "subscribers.csv: would append left@example.com (unsubscribed)",
    ]
    assert "dry run: nothing written" in result.stdout
    assert [p.name for p in folder.path.glob(".subscribers.csv.*")] == []


def test_importing_the_same_export_again_changes_nothing(folder: Folder) -> None:
    target, _ = setup(folder)
    assert folder.run("subscribers", "import", "signups.csv").exit_code == 0
    once = target.read_bytes()
    written = target.stat().st_mtime_ns
    again = folder.run("subscribers", "import", "signups.csv")
    assert again.exit_code == 0, again.output
    assert "appended 0 new readers" in again.stdout and "7 already in it" in again.stdout
    assert target.read_bytes() == once and target.stat().st_mtime_ns == written


def test_hostile_addresses_are_named_inertly_and_names_kept_as_written(folder: Folder) -> None:
    export = folder.path / "hostile.csv"
    shutil.copy(DATA / "hostile_names.csv", export)
    with export.open("a", encoding="utf-8") as handle:
        handle.write('eve@example.com,"Eve\x1b[31m\nRed",active\n')
    result = folder.run("subscribers", "import", "hostile.csv")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "hostile.csv:3:" in result.stderr
    rows = (folder.path / "subscribers.csv").read_text(encoding="utf-8")
    assert rows.endswith('eve@example.com,"Eve\x1b[31m\nRed",active,,,\n')
    assert folder.run("subscribers", "check").exit_code == 0


def test_an_export_that_cannot_be_read_is_one_line(folder: Folder) -> None:
    (folder.path / "names.csv").write_text("name\nAda\n", encoding="utf-8")
    for export, said in (
        ("missing.csv", "missing.csv: no such file"),
        ("names.csv", "names.csv: line 1 has no `email` column"),
    ):
        result = folder.run("subscribers", "import", export)
        assert result.exit_code == 1
        assert said in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
