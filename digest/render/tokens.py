"""Where each per-reader token lands in the finished HTML, and the variant it needs there.

The templates place tokens (``%%KEY.name%%``) without knowing where MJML and
premailer will put them; the value a reader gets must be escaped for that place.
One pass over the final HTML rewrites each token into its variant: in text and
ordinary attributes the HTML-escaped value (``%%KEY.name.html%%``), inside a link
after its scheme and host the percent-encoded one (``%%KEY.name.url%%``). A place
where no escaping makes a reader's value harmless is refused with a TemplateError:
a whole link or its host (a reader could point it anywhere), ``<style>``,
``<script>``, ``style`` and ``on*`` attributes, comments, tag and attribute names.
The links digest makes itself (``unsubscribe_url``, ``preferences_url``) may be a
whole link: they get the HTML-escaped URL. The subject and the text part keep the
plain tokens, and so does the HTML for a field the caller says needs no escaping
(``plain_in_html``: an unsubscribe URL whose template has nothing HTML escapes).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from ..errors import TemplateError
from ..models import HTML, URL, token, token_pattern

# The tokens that stand for a whole link digest makes, not for anything a reader typed.
OWN_LINKS = ("unsubscribe_url", "preferences_url")
URL_ATTRIBUTES = frozenset(
    {
        "action",
        "background",
        "cite",
        "codebase",
        "data",
        "formaction",
        "href",
        "icon",
        "longdesc",
        "manifest",
        "ping",
        "poster",
        "src",
        "srcset",
        "usemap",
        "xlink:href",
    }
)
# One piece of markup: an Outlook conditional comment's opening or closing (what is
# between them is markup, which Outlook reads), another comment, a declaration, a
# script or style element, or a tag. The text is what lies between them.
_MARKUP = re.compile(
    r"""(?P<condition><!--\[if[^\]>]*\]>(?:<!-->)?|(?:<!--)?<!\[endif\]-->)
      | (?P<comment><!--.*?-->)
      | (?P<declaration><![^>]*>)
      | (?P<raw><(?P<raw_tag>script|style)\b.*?</(?P=raw_tag)\s*>)
      | (?P<tag></?[A-Za-z][^\s/>]*(?:"[^"]*"|'[^']*'|[^'">])*>)""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_TAG_NAME = re.compile(r"</?([^\s/>]+)")
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
# What precedes a per-reader value that cannot change where a link leads.
_AFTER_HOST = re.compile(r"\s*(?:https?://[^/?#]*[/?#]|mailto:)", re.IGNORECASE)
_SOME_HOST = "https://digest.invalid/"


Locate = Callable[[Sequence[str]], str]


def place_tokens(
    document: str, key: str, locate: Locate, *, plain_in_html: frozenset[str] = frozenset()
) -> str:
    """``document`` (the final HTML) with each token of ``key`` in its variant.

    A token where no variant is safe raises TemplateError naming the field and where
    a template places it: ``locate`` gives ``templates/partials/footer.mjml.j2:3`` for
    the first of some regular expressions that a template source matches.
    """
    if key not in document:
        return document
    place = _Placer(key, locate, plain_in_html)
    pieces: list[str] = []
    done = 0
    for found in _MARKUP.finditer(document):
        pieces.append(place.text(document[done : found.start()]))
        pieces.append(place.markup(found))
        done = found.end()
    pieces.append(place.text(document[done:]))
    return "".join(pieces)


class _Placer:
    """The rewriting of one document's tokens, piece by piece."""

    def __init__(self, key: str, locate: Locate, plain_in_html: frozenset[str]) -> None:
        self._key = key
        self._tokens = token_pattern(key)
        self._locate = locate
        self._plain_in_html = plain_in_html

    def _escaped(self, found: re.Match[str]) -> str:
        """A token's HTML-escaped variant, or the plain token where that reads the same."""
        name = found.group(1)
        return token(name, self._key, "" if name in self._plain_in_html else HTML)

    def text(self, text: str) -> str:
        """Text between tags (a title's included): HTML-escaped values."""
        if self._key not in text:
            return text
        return self._tokens.sub(self._escaped, text)

    def markup(self, found: re.Match[str]) -> str:
        piece = found.group(0)
        if self._key not in piece:
            return piece
        if found.group("tag"):
            return self._tag(piece)
        if found.group("raw"):
            tag = found.group("raw_tag").lower()
            raise self._refused(piece, f"in a <{tag}> element", near=rf"<{tag}\b(?:(?!</).)*?")
        where = {
            "condition": "an Outlook conditional comment's condition",
            "comment": "an HTML comment",
            "declaration": "the document's declaration",
        }[found.lastgroup or "comment"]
        raise self._refused(piece, f"in {where}", near=r"<!(?:(?!>).)*?")

    def _tag(self, tag: str) -> str:
        name = _TAG_NAME.match(tag)
        assert name is not None, "_MARKUP matched a tag"
        if self._key in name.group(1):
            raise self._refused(tag, "as a tag's name", near=r"</?")
        head = name.end()
        return tag[:head] + _ATTRIBUTE.sub(self._attribute(name.group(1)), tag[head:])

    def _attribute(self, tag: str) -> Callable[[re.Match[str]], str]:
        def rewrite(found: re.Match[str]) -> str:
            attribute, value = found.group(1), found.group(2) or ""
            if self._key not in found.group(0):
                return found.group(0)
            if self._key in attribute:
                raise self._refused(found.group(0), f"as an attribute's name in <{tag}>")
            where, lowered = f"<{tag} {attribute}>", attribute.lower()
            near = rf"\b{re.escape(attribute)}\s*=\s*[\"']?[^\"'>]*?"
            if value[:1] not in ("'", '"'):
                raise self._refused(value, f"in {where} without quotes", near=near)
            if lowered == "style" or lowered.startswith("on"):
                raise self._refused(value, f"in {where}, which is CSS or script", near=near)
            if lowered in URL_ATTRIBUTES:
                value = self._link(value, where, near)
            else:
                value = self._tokens.sub(self._escaped, value)
            return f"{attribute}={value}"

        return rewrite

    def _link(self, value: str, where: str, near: str) -> str:
        """Tokens in a link: percent-encoded after its scheme and host; digest's own links
        may be the whole link; anything else is refused."""

        def variant(found: re.Match[str]) -> str:
            field = found.group(1)
            before = self._tokens.sub(_SOME_HOST, html.unescape(value[1 : found.start()]))
            if field in OWN_LINKS and not before.strip():
                return self._escaped(found)
            if _AFTER_HOST.match(before):
                return token(field, self._key, URL)
            raise self._refused(
                found.group(0),
                f"in {where} before the link's host is fixed",
                "a reader's value may go only after it: "
                f'href="https://example.com/page?who={{{{ {_shown(field)} }}}}"',
                near,
            )

        return self._tokens.sub(variant, value)

    def _refused(self, piece: str, where: str, hint: str = "", near: str = "") -> TemplateError:
        """The error for a token in ``piece`` placed ``where``; ``near`` is a regular
        expression for what precedes it in the template, to find the line."""
        found = self._tokens.search(piece)
        field = found.group(1) if found else ""
        shown = _shown(field) if field else "a per-reader value"
        place = self._locate([near + _expression(field), _expression(field)]) if field else ""
        return TemplateError(
            f"{place or 'the HTML template'}: {shown} is placed {where}, "
            "where no escaping keeps a reader's value harmless",
            hint or "move it into the text or an attribute such as alt or title",
        )


def _shown(field: str) -> str:
    """How a template writes the value of a token: ``subscriber.name``, ``unsubscribe_url``."""
    return field if field in OWN_LINKS else f"subscriber.{field}"


def _expression(field: str) -> str:
    """A regular expression for how a template writes the value of a token's field."""
    if field in OWN_LINKS:
        return rf"\b{field}\b"
    return rf"""\bsubscriber\s*(?:\.\s*{re.escape(field)}\b|\[\s*["']{re.escape(field)}["']\s*\])"""
