"""`digest subscribers check`: every problem with its line number, exit 1 if there is any."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from digest.audience.active import check_list
from digest.audience.personalize import Personalizer
from digest.commands.subscribers import KINDS
from digest.ledger import Ledger
from digest.models import Subscriber
from digest.sending.pipeline import SHARED_BYTES
from tests.commands.conftest import NOW, Folder

# The example folder's [unsubscribe] url.
UNSUBSCRIBE_URL = "https://ftvconsulting.example.com/unsubscribe?email={email}&token={token}"


def test_the_example_list_is_clean(folder: Folder) -> None:
    result = folder.run("subscribers", "check")
    assert result.exit_code == 0
    assert "no problems" in result.stdout


def test_check_ends_with_how_many_rows_are_what(folder: Folder) -> None:
    path = folder.path / "subscribers.csv"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(
            "ADA@example.com,Again,active\nbroken,Broken,active\nzed@example.com,,complained\n"
        )
    result = folder.run("subscribers", "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "subscribers.csv: 2 problems; 4 active, 1 unsubscribed, 1 bounced, 1 complained,"
        " 1 invalid, 1 duplicate."
    ]


def test_check_says_how_many_who_unsubscribed_through_the_link_are_not_synced(
    folder: Folder,
) -> None:
    with Ledger.open(folder.path / ".digest" / "state.db") as ledger:
        for address in ("ada@example.com", "margaret@example.com", "edsger@example.com"):
            ledger.record_unsubscribe(address, datetime(2026, 1, 5, tzinfo=UTC), "one-click")
    result = folder.run("subscribers", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "2 readers who unsubscribed through the link are not marked so in it yet (sends"
        " leave them out already): `digest subscribers sync` does it."
    )


def test_each_problem_is_named_with_its_line(folder: Folder) -> None:
    path = folder.path / "subscribers.csv"
    path.unlink()
    path.write_text(
        "email,name,status\n"
        "ok@example.com,Ok,active\n"
        "not-an-address,Broken,active\n"
        "OK@example.com,Again,active\n"
        "fine@example.com,Fine,retired\n",
        encoding="utf-8",
    )
    result = folder.run("subscribers", "check")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5"]
    assert "duplicate" in lines[1]
    assert "retired" in lines[2]


DATA = Path(__file__).resolve().parents[1] / "data" / "subscribers"
SECRET = "check-test-secret"


def use_list(folder: Folder, name: str) -> None:
    target = folder.path / "subscribers.csv"
    target.unlink()
    shutil.copy(DATA / name, target)


def use_company_in_templates(folder: Folder) -> None:
    """The text part greets each reader with their company, as a template may."""
    template = folder.path / "templates" / "digest.txt.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(
        text.replace(
            "Hi {{ subscriber.first_name }}",
            "Hi {{ subscriber.first_name }} of {{ subscriber.company }}",
        ),
        encoding="utf-8",
    )


def flagged(result: Result) -> dict[int, str]:
    """The lines `subscribers check` flagged, with their reasons."""
    lines = result.stderr.strip().splitlines()
    return {int(line.split(":")[1]): line.split(": ", 2)[2] for line in lines}


def dry_run(folder: Folder) -> tuple[Result, list[str]]:
    """A dry run with the unsubscribe secret set, as for a send; the addresses it wrote."""
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    try:
        result = folder.run("send", "--dry-run", "--now", NOW)
    finally:
        folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = ""
    assert result.exit_code == 0, result.output
    outbox = folder.path / "outbox" / "2026-11-27"
    written = sorted(path.stem for path in outbox.glob("*.eml"))
    shutil.rmtree(outbox)
    return result, written


def test_a_quote_left_open_is_flagged_and_the_rows_it_swallowed_are_checked(
    folder: Folder,
) -> None:
    use_list(folder, "open_quote_middle.csv")

    result = folder.run("subscribers", "check")

    assert result.exit_code == 1
    assert flagged(result) == {
        3: "quote left open: the row is skipped and the lines after it are read as rows; "
        "close the quote",
        5: "duplicate of line 2",
    }


@pytest.mark.parametrize("company_in_templates", [False, True], ids=["unused", "used"])
def test_check_flags_every_row_a_send_leaves_out_and_none_it_sends(
    folder: Folder, company_in_templates: bool
) -> None:
    # left_out.csv: line 3 leaves a quote open, line 5 has 20 KB of company, line 6 is
    # active but line 8 unsubscribes the address, line 9 repeats line 2, line 10 is broken.
    use_list(folder, "left_out.csv")
    if company_in_templates:
        use_company_in_templates(folder)

    check = folder.run("subscribers", "check")
    dry, written = dry_run(folder)

    problems = flagged(check)
    assert check.exit_code == 1
    expected = {3, 6, 9, 10} | ({5} if company_in_templates else set())
    assert set(problems) == expected
    assert problems[6] == "line 8 marks this address unsubscribed, so this row is not sent"
    if company_in_templates:
        assert problems[5].startswith("substitutions take 20,")
        assert written == ["ada@example.com", "alan@example.com", "katherine@example.com"]
        assert "skipped 2 duplicate, 3 invalid, 1 unsubscribed" in dry.stdout
    else:
        assert written == [
            "ada@example.com", "alan@example.com", "huge@example.com", "katherine@example.com"
        ]  # fmt: skip
        assert "skipped 2 duplicate, 2 invalid, 1 unsubscribed" in dry.stdout
    assert {"ada@example.com", "alan@example.com", "katherine@example.com"} <= set(written)


def test_check_sizes_unsubscribe_links_as_signed_even_without_the_secret(folder: Folder) -> None:
    """A row that fits with a preview token but not with a signed one is flagged."""
    use_company_in_templates(folder)
    email = "edge@example.com"

    def misfit(length: int, secret: str) -> str:
        return Personalizer(
            unsubscribe_url_template=UNSUBSCRIBE_URL,
            unsubscribe_mailto="",
            secret=secret,
            used_tokens=frozenset({"%%name%%", "%%company%%", "%%unsubscribe_url%%"}),
        ).misfit(Subscriber(email, "Edge", fields={"company": "A" * length}))

    length = next(n for n in range(9000, 10_000) if misfit(n, SECRET))
    assert not misfit(length, "")  # the preview token is shorter than a signed one
    (folder.path / "subscribers.csv").write_text(
        f"email,name,status,company\nada@example.com,Ada,active,Acme\n"
        f"{email},Edge,active,{'A' * length}\n",
        encoding="utf-8",
    )

    check = folder.run("subscribers", "check")
    _, written = dry_run(folder)

    assert list(flagged(check)) == [3]
    assert written == ["ada@example.com"]


@pytest.mark.slow
def test_a_long_list_read_in_shares_is_checked_as_a_short_one(folder: Folder) -> None:
    """Past SHARED_BYTES the list is read by two children, a share of the readers each:
    the same problems, in line order, and the same counts as one reading."""
    path = folder.path / "subscribers.csv"
    rows = ["email,name,status,company"]
    rows += [f"reader{i}@example.com,Reader {i},active,Company {i}" for i in range(110_000)]
    rows[5_000] = "READER77@EXAMPLE.COM,Again,active,X"  # a duplicate far from its first row
    rows[70_000] = "reader9@example.com,,unsubscribed,X"  # withholds row 11, read long before
    rows[90_000] = "not-an-address,Broken,active,X"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert path.stat().st_size > SHARED_BYTES

    result = folder.run("subscribers", "check")

    assert result.exit_code == 1
    expected = check_list(path)
    assert [line.split(": ", 2)[2] for line in result.stderr.splitlines()] == [
        problem.reason for problem in expected.problems
    ]
    assert [int(line.split(":")[1]) for line in result.stderr.splitlines()] == [11, 5001, 90001]
    counts = ", ".join(f"{expected.counts[kind]} {kind}" for kind in KINDS)
    assert result.stdout.splitlines()[0] == f"subscribers.csv: 3 problems; {counts}."
