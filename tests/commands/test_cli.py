"""The command line itself: global options before or after the command, suggestions for
misspelled commands, the version."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version

import click
import pytest

from digest import DISTRIBUTION, __version__
from digest.cli import cli
from tests.commands.conftest import NOW, Folder

# Commands that read no digest.toml: a newsletter folder does not exist yet.
NO_CONFIG = {("init",)}


def leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command that runs something, subcommands of groups included."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*path, name))
        else:
            yield (*path, name)


def arguments_of(path: tuple[str, ...]) -> list[str]:
    """A placeholder for each required argument of the command at ``path``."""
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return [f"arg-{param.name}" for param in command.params if isinstance(param, click.Argument)]


COMMANDS = [path for path in leaf_commands(cli) if path not in NO_CONFIG]
# How a command that reports a config it cannot load starts its line: `digest doctor`
# says it as the failure of its config check, the others as an error.
SAYS = {("doctor",): "fail  config: "}


def test_the_walk_finds_the_subcommands() -> None:
    assert ("build",) in COMMANDS
    assert ("subscribers", "check") in COMMANDS
    assert ("ledger", "backup") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_takes_config_after_its_name(folder: Folder, path: tuple[str, ...]) -> None:
    result = folder.run(*path, *arguments_of(path), "--config", "elsewhere.toml")
    assert result.exit_code == 1, result.output
    said = SAYS.get(path, "error: ")
    assert result.stderr.startswith(f"{said}elsewhere.toml: no such config file"), result.stderr


@pytest.mark.parametrize("place", ["before", "between", "after"])
def test_a_subcommand_takes_global_options_anywhere(folder: Folder, place: str) -> None:
    given = ["--config", "elsewhere.toml"]
    args = {
        "before": [*given, "subscribers", "check"],
        "between": ["subscribers", *given, "check"],
        "after": ["subscribers", "check", *given],
    }[place]
    result = folder.run(*args)
    assert result.exit_code == 1
    assert "elsewhere.toml: no such config file" in result.stderr


def test_verbose_after_the_command_shows_the_traceback(folder: Folder) -> None:
    result = folder.run("build", "--config", "elsewhere.toml", "-v")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: elsewhere.toml")


@pytest.mark.parametrize("where", [["-q", "build"], ["build", "-q"], ["build", "--quiet"]])
def test_quiet_before_or_after_the_command_silences_the_summary(
    folder: Folder, where: list[str]
) -> None:
    loud = folder.run("build", "--now", NOW)
    assert loud.exit_code == 0 and "Built edition" in loud.stdout
    result = folder.run(*where, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_a_global_option_given_twice_takes_the_later(folder: Folder) -> None:
    result = folder.run("--config", "first.toml", "build", "--config", "second.toml")
    assert "second.toml: no such config file" in result.stderr


@pytest.mark.parametrize(
    ("args", "suggested"),
    [
        (["biuld"], "build"),
        (["sned", "--to", "a@example.com"], "send"),
        (["subscribers", "chek"], "check"),
        (["ledger", "bakup", "x.db"], "backup"),
    ],
)
def test_a_misspelled_command_gets_a_suggestion(
    folder: Folder, args: list[str], suggested: str
) -> None:
    result = folder.run(*args)
    assert result.exit_code == 2
    assert f"Did you mean '{suggested}'?" in result.stderr


def test_a_misspelled_option_after_the_command_gets_a_suggestion(folder: Folder) -> None:
    result = folder.run("build", "--confg", "x.toml")
    assert result.exit_code == 2
    assert "Did you mean '--config'?" in result.stderr


def test_version_is_the_installed_distributions() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"digest, version {version(DISTRIBUTION)}\n"
    assert version(DISTRIBUTION) == __version__
