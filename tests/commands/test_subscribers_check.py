"""`digest subscribers check`: every problem with its line number, exit 1 if there is any."""

from __future__ import annotations

from tests.commands.conftest import Folder


def test_the_example_list_is_clean(folder: Folder) -> None:
    result = folder.run("subscribers", "check")
    assert result.exit_code == 0
    assert "no problems" in result.stdout


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
