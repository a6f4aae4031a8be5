"""The Jinja environment: a newsletter's templates first, the built-in ones behind them.

A newsletter folder may override a single file (say ``partials/footer.mjml.j2``)
and inherit every other one from the package. MJML templates are autoescaped
(post titles are text, so markup in them shows escaped); text templates,
subjects and other strings from the config are not. Every value a template
shows has SendGrid's own tags (``<%asm_group_unsubscribe_raw_url%>``...) made inert
(``models.inert_tags``): a post cannot plant one, while a template may. Undefined
names are errors, reported as one line naming the template file and line.

A per-reader value (``subscriber.name``) is its token, a ``ReaderValue``: the filters
that can work per reader (upper, lower, title, capitalize, trim, default) go into
the token, for the sender to apply; any other filter on it is an error naming the
template and line. ``render_traced`` renders a template and keeps, for each piece of
its output, the template (an included partial, say) and line that wrote it.
"""

from __future__ import annotations

import bisect
import contextvars
import functools
import re
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..errors import TemplateError
from ..models import inert_tags
from .readers import TEXT_KEEPING_FILTERS, ReaderValue, filtered

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "scaffold" / "templates"
ESCAPED_SUFFIXES = (".mjml.j2", ".html.j2")


# What Jinja passes a filter before the value, for a filter that asks for it.
_PASSED_FIRST = (jinja2.runtime.Context, jinja2.nodes.EvalContext, jinja2.Environment)


def _reader_aware(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's filter ``name``, which on a ReaderValue becomes part of its token, or an
    error saying why it cannot be (the value is filled in after rendering)."""

    @functools.wraps(function)  # keeps how Jinja calls it (with the context first, say)
    def apply(*args: Any, **options: Any) -> Any:
        passes = args and isinstance(args[0], _PASSED_FIRST)
        value = args[1] if passes and len(args) > 1 else args[0] if args else None
        if not isinstance(value, ReaderValue) or name in TEXT_KEEPING_FILTERS:
            return function(*args, **options)
        return filtered(value, name, args[2 if passes else 1 :], options)

    return apply


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
    env = jinja2.Environment(
        loader=loader,
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
        finalize=_finalize,
    )
    env.template_class = _TracedTemplate
    env.filters = {name: _reader_aware(name, function) for name, function in env.filters.items()}
    return env


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


# The templates whose output is being traced, innermost last (see render_traced).
_TRACE: contextvars.ContextVar[list[tuple[jinja2.Template, Iterator[str]]] | None]
_TRACE = contextvars.ContextVar("digest_template_trace", default=None)


class _TracedTemplate(jinja2.Template):
    """A template that, while ``render_traced`` renders, says which template (itself, an
    included partial, a block) is writing."""

    @classmethod
    def _from_namespace(
        cls,
        environment: jinja2.Environment,
        namespace: Any,
        globals: Any,
    ) -> jinja2.Template:
        template = super()._from_namespace(environment, namespace, globals)
        template.root_render_func = _traced(template, template.root_render_func)
        blocks = template.blocks.items()
        template.blocks = {name: _traced(template, block) for name, block in blocks}
        return template


def _traced(template: jinja2.Template, render: Callable[[Any], Iterator[str]]) -> Any:
    def traced(context: Any) -> Iterator[str]:
        stack = _TRACE.get()
        events = render(context)
        return events if stack is None else _writing(stack, template, events)

    return traced


def _writing(
    stack: list[tuple[jinja2.Template, Iterator[str]]],
    template: jinja2.Template,
    events: Iterator[str],
) -> Iterator[str]:
    stack.append((template, events))
    try:
        yield from events
    finally:
        stack.pop()


@dataclass(frozen=True)
class Traced:
    """A template's output, and for each piece of it the template and code line that wrote it."""

    text: str
    starts: list[int]
    origins: list[tuple[jinja2.Template, int]]
    templates_dir: Path

    def where(self, offset: int) -> str:
        """``templates/partials/footer.mjml.j2:12``: where the output at ``offset`` comes from."""
        if not self.origins:
            return ""
        index = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        template, code_line = self.origins[index]
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
        piece, at = self.text[start:end], offset - start
        line = template.get_corresponding_lineno(code_line)
        line = _source_line(template.filename or "", line, piece, at)
        return f"{_label(template.filename or '', self.templates_dir)}:{line}"


def _source_line(filename: str, line: int, piece: str, at: int) -> int:
    """The line of the template text that wrote ``piece[at:]``.

    Jinja knows the line of each expression, but gives text the line of what came
    before it (an ``if`` above it, say): a tag at ``at`` is looked for in the
    template's source from that line on (Jinja comments left out), as often as the
    piece repeats it before ``at``.
    """
    try:
        source = _JINJA_COMMENT.sub(_same_lines, Path(filename).read_text(encoding="utf-8"))
    except (OSError, UnicodeError):
        return line
    head = piece[at:]
    tag = _TAG_START.match(head)
    if tag is None:  # text an expression wrote: its line is Jinja's
        return line + piece.count("\n", 0, at)
    from_line = sum(len(text) + 1 for text in source.split("\n")[: line - 1])
    whole = head[: head.find(">") + 1]
    for anchor in filter(None, (whole, tag.group(0))):  # the whole tag, else its name
        found = from_line - 1
        for _ in range(piece.count(anchor, 0, at) + 1):
            found = source.find(anchor, found + 1)
            if found < 0:
                break
        if found >= 0:
            return source.count("\n", 0, found) + 1
    return line + piece.count("\n", 0, at)


_TAG_START = re.compile(r"<[^\s>]*")


def render_traced(
    env: jinja2.Environment, name: str, context: dict[str, Any], templates_dir: Path
) -> Traced:
    """Render one template file, keeping where each piece of the output comes from; raise
    a TemplateError naming the file and line at fault."""
    stack: list[tuple[jinja2.Template, Iterator[str]]] = []
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[tuple[jinja2.Template, int]] = []
    offset = 0
    reset = _TRACE.set(stack)
    try:
        for piece in env.get_template(name).generate(context):
            template, events = stack[-1]
            frame = getattr(events, "gi_frame", None)
            starts.append(offset)
            origins.append((template, frame.f_lineno if frame else 1))
            pieces.append(piece)
            offset += len(piece)
    except jinja2.TemplateSyntaxError as exc:
        where = _label(exc.filename, templates_dir) if exc.filename else exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: {exc.message}") from None
    except Exception as exc:
        where = _location(exc, templates_dir) or template_label(env, name, templates_dir)
        if isinstance(exc, TemplateError):
            raise TemplateError(f"{where}: {exc.message}", exc.hint) from None
        raise TemplateError(f"{where}: {_describe(exc)}") from None
    finally:
        _TRACE.reset(reset)
    return Traced("".join(pieces), starts, origins, templates_dir)


def render_string(env: jinja2.Environment, source: str, context: dict[str, Any], key: str) -> str:
    """Render a template string from the config (subject, reason) as plain text."""
    try:
        return _compiled(env, source).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"digest.toml {key}: {exc.message}", "fix the Jinja expression in that key"
        ) from None
    except TemplateError as exc:
        raise TemplateError(f"digest.toml {key}: {exc.message}", exc.hint) from None
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
