"""Reading the settings: defaults < digest.toml < DIGEST_<SECTION>_<KEY> environment < CLI.

Each value is converted to its key's type and checked by its key's rule (both declared
on the key's field, ``settings.py``). Unknown keys, wrong types and broken rules are
collected and reported together, one a line, each naming its key (in the file) or its
variable (in the environment), with the nearest real name for a misspelled one.
Secrets come only from the environment and are never shown.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from ..errors import ConfigError, ConfigProblems
from ..files import special_kind
from ..text import closest
from .checks import is_text, not_negative
from .settings import SECTIONS, Option, Secrets, Settings, option

CONFIG_FILE = "digest.toml"
MAX_CONFIG_BYTES = 1024 * 1024
# Each secret's variable, by its attribute of Secrets.
SECRET_VARIABLES = {item.name: option(item).variable for item in fields(Secrets)}
# The keys of the file where a secret is written by mistake: the variable to use instead.
FILE_SECRETS = {
    option(item).file_key: option(item).variable
    for item in fields(Secrets)
    if option(item).file_key
}


def find_config(cli_path: str | None, env: Mapping[str, str]) -> Path:
    """The config file to read: --config, else DIGEST_CONFIG, else ./digest.toml."""
    chosen = cli_path or _env(env, "DIGEST_CONFIG") or CONFIG_FILE
    return Path(chosen)


def load_settings(path: Path, env: Mapping[str, str]) -> Settings:
    """Read the config file and the environment into Settings, or raise one ConfigError
    (ConfigProblems when there are several) naming each key or variable at fault."""
    table = _read_toml(path)
    found = _Problems()
    sections: dict[str, Any] = {}
    for name, value in table.items():
        if name not in SECTIONS:
            found.file.append(f"unknown section [{name}]{_suggestion(name, SECTIONS, '[{}]')}")
        elif not isinstance(value, dict):
            found.file.append(f"[{name}] must be a table")
    for name in SECTIONS:
        raw = table.get(name, {})
        raw = raw if isinstance(raw, dict) else {}
        sections[name] = _build_section(name, raw, env, found)
    found.env.extend(_unknown_variables(env))
    secrets = Secrets(**{attr: _env(env, var) for attr, var in SECRET_VARIABLES.items()})
    found.env.extend(_secret_problems(secrets))
    found.raise_any(path)
    return Settings(root=path.absolute().parent, secrets=secrets, **sections)


@dataclass
class _Problems:
    """What is wrong, kept apart by where it was written: the file, or the environment."""

    file: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)

    def raise_any(self, path: Path) -> None:
        """One problem is one line naming where it is; several are a summary line, then
        one line each."""
        count = len(self.file) + len(self.env)
        if count == 1 and self.file:
            raise ConfigError(f"{path}: {self.file[0]}", f"fix it in {path.name}")
        if count == 1:
            raise ConfigError(self.env[0], "fix the variable, or unset it")
        if count:
            where = " and ".join(
                place
                for place, listed in ((str(path), self.file), ("the environment", self.env))
                if listed
            )
            verb = "have" if self.file and self.env else "has"
            raise ConfigProblems(f"{where} {verb} {count} problems:", [*self.file, *self.env])


def _suggestion(word: str, choices: Iterable[str], shape: str = "{}") -> str:
    """ " (did you mean X?)" for the choice nearest a misspelled ``word``, else ""."""
    near = closest(word, choices)
    return f" (did you mean {shape.format(near)}?)" if near else ""


def read_value(key: str, text: str) -> tuple[Any, str]:
    """``text`` as the value of ``key`` (``newsletter.site_url``), read as an environment
    variable's text is and checked by the key's rule: ``(value, "")``, or ``(None,
    problem)`` naming the key."""
    section, _, name = key.partition(".")
    cls = SECTIONS[section]
    kind = get_type_hints(cls)[name]
    if not is_text(text):
        return None, f"{key} is not valid UTF-8 text"
    values: dict[str, Any] = {}
    problems: list[str] = []
    rule = next(option(item) for item in fields(cls) if item.name == name)
    _take(values, name, kind, rule, _from_env_text(text, kind), key, problems)
    return (values[name], "") if not problems else (None, problems[0])


def _secret_problems(secrets: Secrets) -> list[str]:
    """Secrets that could never work, named by their variable but never shown."""
    found = (
        option(item).check(option(item).variable, getattr(secrets, item.name))
        for item in fields(Secrets)
        if option(item).check is not None
    )
    return [problem for problem in found if problem]


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    """DIGEST_<SECTION>_<KEY> variables that name no key: a typo would be silently ignored."""
    known = {
        f"DIGEST_{name}_{key}".upper()
        for name in SECTIONS
        for key in get_type_hints(SECTIONS[name])
    }
    known.update(SECRET_VARIABLES.values())
    prefixes = tuple(f"DIGEST_{name.upper()}_" for name in SECTIONS)
    return [
        f"unknown setting {variable} in the environment"
        + (_suggestion(variable, known) or " (see README's configuration reference)")
        for variable in sorted(env)
        if variable.startswith(prefixes) and variable not in known and _env(env, variable)
    ]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        kind = special_kind(path)
        too_large = not kind and path.stat().st_size > MAX_CONFIG_BYTES
        # Windows editors may start with a BOM.
        text = "" if kind or too_large else path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file",
            "run `digest init DIR` to create a newsletter folder, or pass --config",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc})", "check the file"
        ) from None
    if kind or too_large:
        what = f"is {kind}" if kind else f"is larger than {MAX_CONFIG_BYTES // 1024} KB"
        raise ConfigError(
            f"{path}: {what}, not a config file",
            "point --config (or DIGEST_CONFIG) at the newsletter's digest.toml",
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the syntax at that line") from None


def _build_section(name: str, raw: dict[str, Any], env: Mapping[str, str], found: _Problems) -> Any:
    cls = SECTIONS[name]
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    rules = {item.name: option(item) for item in fields(cls)}
    for key, value in raw.items():
        if f"{name}.{key}" in FILE_SECRETS:
            found.file.append(
                f"[{name}] {key} must not be in the file: "
                f"set {FILE_SECRETS[f'{name}.{key}']} in the environment instead"
            )
        elif key not in hints:
            found.file.append(f"unknown key {name}.{key}{_key_suggestion(name, key)}")
        else:
            _take(values, key, hints[key], rules[key], value, f"{name}.{key}", found.file)
    for key, kind in hints.items():
        variable = f"DIGEST_{name}_{key}".upper()
        text = _env(env, variable)
        label = f"environment variable {variable}"
        if not is_text(text):
            found.env.append(f"{label} is not valid UTF-8 text")
        elif text:
            converted = _from_env_text(text, kind)
            _take(values, key, kind, rules[key], converted, label, found.env)
    return cls(**values)


def _key_suggestion(section: str, key: str) -> str:
    """The key of ``section`` nearest a misspelled one, or the section a key belongs in."""
    near = _suggestion(key, get_type_hints(SECTIONS[section]), f"{section}.{{}}")
    if near:
        return near
    homes = [name for name in SECTIONS if key in get_type_hints(SECTIONS[name])]
    return f" (it belongs in [{homes[0]}])" if homes else ""


def _take(
    values: dict[str, Any],
    key: str,
    kind: Any,
    rule: Option,
    value: Any,
    label: str,
    problems: list[str],
) -> None:
    """Convert ``value`` to ``kind`` and check it by ``rule``: into ``values`` when it is
    fine, else its problem, naming ``label``, into ``problems``."""
    try:
        converted = _convert(value, kind)
    except (TypeError, ValueError):
        problems.append(f"{label} must be {_describe(kind)}, not {value!r}")
        return
    if rule.choices and converted not in rule.choices:
        choices = ", ".join(rule.choices)
        problems.append(f"{label} must be one of {choices}, not {converted!r}")
        return
    check = rule.check or (not_negative if kind in (int, float) else None)
    problem = check(label, converted) if check else ""
    if problem:
        problems.append(problem)
        return
    values[key] = converted


def _convert(value: Any, kind: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        if not math.isfinite(value):
            raise ValueError
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TypeError


def _from_env_text(text: str, kind: Any) -> Any:
    """Environment values are text; read them as the key's type so _convert can check them."""
    if kind is bool:
        lowered = text.strip().lower()
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            lowered, text
        )
    if kind in (int, float):
        try:
            number = kind(text.strip())
        except ValueError:
            return text
        return number if kind is int or math.isfinite(number) else text
    if kind is str:
        return text
    return [item.strip() for item in text.split(",") if item.strip()]


def _describe(kind: Any) -> str:
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a finite number",
        str: "a string",
    }
    return names.get(kind, "a list of strings")


def _env(env: Mapping[str, str], name: str) -> str:
    """An environment variable set to the empty string counts as unset."""
    return env.get(name, "") or ""
