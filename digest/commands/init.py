"""`digest init DIR`: a new newsletter folder with the newsletter's own values (nothing of
the example company's); with --example, the bundled example newsletter to try things on.

A new folder gets a digest.toml of the values the options give and, on a terminal, the
answers for the others (blank: the default, or unset: build shows a marked placeholder
and says so, a send refuses); a list with no reader, or the user's own address; the
built-in templates, to edit; without a feed, a sample feed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from ..config import SAMPLE_FEED
from ..config.generate import QUESTIONS, READER, Question, digest_toml, still_needed
from ..config.load import read_value
from ..errors import ConfigError, InvalidAddress
from ..files import replace_together
from ..urls import is_url

NEW_FOLDER = "choose a new or empty folder you can write to"
LIST_HEADER = "email,name,status,tags,subscribed_at\n"
Ask = Callable[[Question], str]


def run(
    target: Path, given: Mapping[str, str], ask: Ask | None, say: Callable[[str], None]
) -> None:
    """Make the folder from ``given`` (by key) and, with ``ask``, the answers to the rest
    (no folder yet, so no ``App``); ``say`` what was made and what is left to set."""
    answers = _answers(given, ask, say)
    for line in _new_folder(target, answers):
        say(line)
    unset = still_needed(answers)
    if unset:
        say(f"Still to set in {target / 'digest.toml'}: {', '.join(unset)}")
    say(f"Next: cd {target} && digest build")


def example(target: Path, say: Callable[[str], None]) -> None:
    """Copy the bundled example newsletter (FTV Consulting's, with sample readers)."""
    with as_file(files("digest") / "scaffold") as scaffold:
        names = sorted(path.name for path in Path(scaffold).iterdir() if path.name != SAMPLE_FEED)
        _refuse_existing(target, names)
        with _writing(target):
            shutil.copytree(
                scaffold, target, ignore=shutil.ignore_patterns(SAMPLE_FEED), dirs_exist_ok=True
            )
    for name in names:
        say(f"created {target / name}")
    say(f"Next: cd {target} && digest build (the example: set your own values before a real send)")


def _answers(
    given: Mapping[str, str], ask: Ask | None, say: Callable[[str], None]
) -> dict[str, Any]:
    """The values given, and (with ``ask``) the answers to the others, re-asked until
    each reads; the group is not asked about once an unsubscribe URL is given."""
    answers: dict[str, Any] = {}
    for question in QUESTIONS:
        if question.key in given:
            value, problem = _read(question, given[question.key])
            if problem:
                raise ConfigError(f"{question.flag}: {problem}", "fix it, or leave it out for now")
        elif ask is None or (question.flag == "--asm-group-id" and answers.get("unsubscribe.url")):
            continue
        else:
            value, problem = _read(question, ask(question))
            while problem:
                say(problem)
                value, problem = _read(question, ask(question))
        if value != "":  # blank: the key keeps its default
            answers[question.key] = value
    return answers


def _read(question: Question, text: str) -> tuple[Any, str]:
    """An answer as its key's value (checked by the key's rule), or its problem."""
    text = text.strip()
    if question.key == READER:
        from ..audience.addresses import normalize

        try:
            return (normalize(text) if text else ""), ""
        except InvalidAddress as problem:
            return None, f"{text!r} is not an address: {problem}"
    if question.key == "unsubscribe.url" and text and "{token}" not in text:
        return None, f"unsubscribe.url {text!r} has no {{token}}: write it where the token goes"
    return read_value(question.key, text) if text else ("", "")


def _new_folder(target: Path, answers: dict[str, Any]) -> list[str]:
    """Write the folder; what was made, a line each."""
    reader = answers.pop(READER, "")
    row = f"{reader},,active,,\n" if reader else ""
    written = {target / "subscribers.csv": LIST_HEADER + row}
    made = [f"created {target / 'subscribers.csv'} ({reader or 'no reader yet'})"]
    location = answers.get("source.location")
    if location:
        answers["source.location"], directory = _as_seen_from(target, location)
        answers["source.type"] = "markdown" if directory else "feed"
    else:
        answers["source.location"] = SAMPLE_FEED
        sample = files("digest") / "scaffold" / SAMPLE_FEED
        written[target / SAMPLE_FEED] = sample.read_text(encoding="utf-8")
        made.append(f"created {target / SAMPLE_FEED} (samples: set source.location to your feed)")
    written[target / "digest.toml"] = digest_toml(answers)
    _refuse_existing(target, [path.name for path in written] + ["templates"])
    with _writing(target), as_file(files("digest") / "scaffold" / "templates") as templates:
        shutil.copytree(templates, target / "templates")
        replace_together({path: text.encode("utf-8") for path, text in written.items()})
    return [f"created {target / 'digest.toml'}", *made, f"created {target / 'templates'}/"]


def _as_seen_from(target: Path, location: str) -> tuple[str, bool]:
    """A feed's location as digest.toml reads it (a path relative to the new folder, from
    one given relative to here), and whether it is a folder (of Markdown posts)."""
    if is_url(location):
        return location, False
    path = Path(location).expanduser().absolute()
    return os.path.relpath(path, target.absolute()), path.is_dir()


def _refuse_existing(target: Path, names: list[str]) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder", NEW_FOLDER)
    existing = [target / name for name in names if (target / name).exists()]
    if existing:
        raise ConfigError(
            f"{existing[0]} already exists", "choose an empty folder, or delete the file first"
        )


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Make the folder and write in it; an OSError is one line naming the folder."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as error:
        raise ConfigError(
            f"cannot create the newsletter folder {target}: {error.strerror or error}", NEW_FOLDER
        ) from None
