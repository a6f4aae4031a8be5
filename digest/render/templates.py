"""The Jinja environment: a newsletter's templates first, the built-in ones behind them.

A newsletter folder may override a single file (say ``partials/footer.mjml.j2``)
and inherit every other one from the package. MJML templates are autoescaped
(post titles are text, so markup in them shows escaped); text templates,
subjects and other strings from the config are not. Every value a template
shows has SendGrid's own tags (``<%asm_group_unsubscribe_raw_url%>``...) made inert
(``models.inert_tags``): a post cannot plant one, while a template may. Undefined
names are errors, reported as one line naming the template file and line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..errors import TemplateError
from ..models import inert_tags, token

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "scaffold" / "templates"
ESCAPED_SUFFIXES = (".mjml.j2", ".html.j2")


class SubscriberTokens:
    """What templates see as ``subscriber``: each field is its substitution token.

    ``subscriber.name`` is ``%%KEY.name%%``, ``subscriber.company`` is
    ``%%KEY.company%%``: the edition is rendered once and the sender fills the values
    per recipient.
    """

    def __init__(self, key: str) -> None:
        self._key = key
        self.asked: set[str] = set()  # the fields the templates used, checked against the list

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        self.asked.add(name)
        return token(name, self._key)

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return token(name, self._key)


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(ESCAPED_SUFFIXES)


def _finalize(value: Any) -> Any:
    """What ``{{ value }}`` shows: plain text with provider tags made inert (markup is
    left alone: HTML escaping already keeps its ``<`` from forming a tag)."""
    if type(value) is str:
        return inert_tags(value)
    return value


class _TextLoader(jinja2.FileSystemLoader):
    """Templates from a folder; one that is not UTF-8 text is a TemplateError naming it
    (Jinja would let the UnicodeDecodeError out, which names no file)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as exc:
            raise jinja2.TemplateError(
                f"{template} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None


@lru_cache(maxsize=8)
def environment(templates_dir: Path) -> jinja2.Environment:
    """The environment for one newsletter folder's templates (cached; reloads changed files)."""
    loader = jinja2.ChoiceLoader([_TextLoader(templates_dir), _TextLoader(BUILTIN_TEMPLATES)])
    return jinja2.Environment(
        loader=loader,
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
        finalize=_finalize,
    )


def template_label(env: jinja2.Environment, name: str, templates_dir: Path) -> str:
    """How error messages name a template: ``templates/digest.mjml.j2`` or the built-in path."""
    try:
        filename = env.get_template(name).filename
    except jinja2.TemplateError:  # say, not UTF-8: still named by its file, if it has one
        filename = str(templates_dir / name) if (templates_dir / name).is_file() else None
    return _label(filename, templates_dir) if filename else name


def locate(
    env: jinja2.Environment, suffix: str, templates_dir: Path, patterns: Sequence[str]
) -> str:
    """``file:line`` where a template ending in ``suffix`` matches the first of the regular
    expressions ``patterns`` that any matches (Jinja comments left out), or ""."""
    assert env.loader is not None
    sources = []
    for name in env.list_templates(filter_func=lambda name: name.endswith(suffix)):
        try:
            source, filename, _ = env.loader.get_source(env, name)
        except jinja2.TemplateError:
            continue
        if filename:
            sources.append((_JINJA_COMMENT.sub(_same_lines, source), filename))
    for pattern in patterns:
        found = re.compile(pattern, re.DOTALL)
        for source, filename in sources:
            match = found.search(source)
            if match:
                line = source.count("\n", 0, match.start()) + 1
                return f"{_label(filename, templates_dir)}:{line}"
    return ""


_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def _same_lines(comment: re.Match[str]) -> str:
    return "\n" * comment.group(0).count("\n")


def render_template(
    env: jinja2.Environment, name: str, context: dict[str, Any], templates_dir: Path
) -> str:
    """Render one template file, or raise a TemplateError naming the file and line at fault."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = _label(exc.filename, templates_dir) if exc.filename else exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: {exc.message}") from None
    except Exception as exc:
        where = _location(exc, templates_dir) or template_label(env, name, templates_dir)
        raise TemplateError(f"{where}: {_describe(exc)}") from None


def render_string(env: jinja2.Environment, source: str, context: dict[str, Any], key: str) -> str:
    """Render a template string from the config (subject, reason) as plain text."""
    try:
        return _compiled(env, source).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"digest.toml {key}: {exc.message}", "fix the Jinja expression in that key"
        ) from None
    except Exception as exc:
        raise TemplateError(
            f"digest.toml {key}: {_describe(exc)}", "fix the Jinja expression in that key"
        ) from None


@lru_cache(maxsize=64)
def _compiled(env: jinja2.Environment, source: str) -> jinja2.Template:
    return env.from_string(source)


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateError):
        return message
    return f"{type(exc).__name__}: {message}"


def _location(exc: BaseException, templates_dir: Path) -> str:
    """``file:line`` of the innermost template frame in the traceback Jinja rewrote."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename and not frame.filename.endswith(".py") and frame.filename[0] != "<"
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{_label(frame.filename, templates_dir)}:{frame.lineno}"


def _label(filename: str, templates_dir: Path) -> str:
    path = Path(filename)
    for root, prefix in ((templates_dir, templates_dir.name), (BUILTIN_TEMPLATES, "templates")):
        try:
            relative = path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        label = f"{prefix}/{relative.as_posix()}"
        return label if root == templates_dir else f"{label} (built-in)"
    return filename
