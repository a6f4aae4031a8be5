"""Local inputs that are not files (devices, folders): each command says so in one line
instead of reading until memory runs out."""

from __future__ import annotations

import pytest

from tests.commands.conftest import NOW, Folder


def one_error_line(folder: Folder, *args: str) -> str:
    """Run `digest ARGS`: it must fail with exactly one line on stderr and no traceback."""
    result = folder.run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    "command", [["subscribers", "check"], ["build", "--now", NOW]], ids=["check", "build"]
)
def test_dev_zero_as_the_subscriber_list_is_one_line(folder: Folder, command: list[str]) -> None:
    """It used to grow the process to 15 GB."""
    folder.env["DIGEST_SUBSCRIBERS_PATH"] = "/dev/zero"
    line = one_error_line(folder, *command)
    assert line.startswith("error: /dev/zero: is a device, not a CSV file; set [subscribers] path")


def test_dev_urandom_as_the_feed_is_one_line(folder: Folder) -> None:
    """It used to end in a MemoryError traceback."""
    folder.env["DIGEST_SOURCE_LOCATION"] = "/dev/urandom"
    line = one_error_line(folder, "build", "--now", NOW)
    assert line == (
        "error: /dev/urandom: is a device, not a feed file; check [source] location in digest.toml"
    )


@pytest.mark.parametrize(("config", "kind"), [("/dev/zero", "a device"), (".", "a folder")])
def test_a_config_that_is_not_a_file_is_one_line(folder: Folder, config: str, kind: str) -> None:
    line = one_error_line(folder, "--config", config, "history")
    assert line.startswith(f"error: {config}: is {kind}, not a config file; point --config")


def test_a_config_file_over_a_megabyte_is_refused(folder: Folder) -> None:
    config = folder.path / "digest.toml"
    with config.open("a", encoding="utf-8") as out:
        out.write("#" * (1024 * 1024) + "\n")
    line = one_error_line(folder, "history")
    assert "digest.toml: is larger than 1024 KB, not a config file" in line
