"""Render an edition once: subject, preheader, HTML and text, still carrying substitution tokens.

Jinja renders ``digest.mjml.j2`` (autoescaped), MJML compiles it to HTML and
premailer inlines the CSS; ``digest.txt.j2`` renders the text part from the same
context, so both parts carry the same posts, links and footer. Post links are
absolute and carry UTM parameters before they reach a template. Per-subscriber
values (``subscriber.name``, ``unsubscribe_url``) are tokens the sender fills: they
carry the edition's random key, and each token in the HTML is rewritten into the
variant its place needs (``tokens.place_tokens``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from ..config import Newsletter, Tracking
from ..models import VARIANTS, Digest, Post, RenderedEmail, token
from ..text import html_to_text, trim
from . import links, text
from .inline import inline_css
from .mjml import compile_mjml
from .readers import ReaderValue, SubscriberTokens, check_whole
from .templates import (
    environment,
    locate,
    render_string,
    render_traced,
    template_label,
)
from .tokens import place_tokens

__all__ = ["PostView", "render_email"]

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
UNSUBSCRIBE_MODES = ("url", "asm")
# SendGrid's unsubscribe-group tags, by the link they stand for in ASM mode.
ASM_TAGS = {
    "unsubscribe_url": "<%asm_group_unsubscribe_raw_url%>",
    "preferences_url": "<%asm_preferences_raw_url%>",
}
EXCERPT_CHARS, EXCERPT_WORDS = 400, 60
SUMMARY_CHARS = 200
PREHEADER_CHARS = 140
SIZE_WARNING_KB, GMAIL_CLIP_KB = 90, 102


@dataclass(frozen=True)
class PostView:
    """A post as templates see it: text fields, absolute links (with UTM), a formatted date.

    ``content`` is the post's sanitized HTML; ``excerpt`` (its plain-text opening) is
    computed only when a template asks for it.
    """

    title: str
    url: str
    canonical_url: str
    date: str
    published: datetime | None
    author: str
    image: str
    image_alt: str
    summary: str
    content: str
    tags: tuple[str, ...]

    @cached_property
    def excerpt(self) -> str:
        return text.excerpt(self.content or self.summary, EXCERPT_CHARS, EXCERPT_WORDS)


def render_email(
    digest: Digest,
    *,
    newsletter: Newsletter,
    tracking: Tracking,
    templates_dir: Path,
    unsubscribe_mode: str = "url",
    now: datetime,
    token_key: str,
    plain_in_html: Collection[str] = (),
) -> RenderedEmail:
    """Render ``digest`` for every subscriber at once; raise TemplateError on a template fault.

    ``unsubscribe_mode`` is "url" (the self-hosted link, token ``%%KEY.unsubscribe_url%%``)
    or "asm" (SendGrid's unsubscribe group tags replace the tokens after compiling).
    ``token_key`` (``models.new_token_key``) is the key of the edition's tokens.
    ``plain_in_html`` names the fields whose every value reads the same HTML-escaped (the
    caller knows: an unsubscribe URL made from a template without ``& < > " '``): their
    plain token serves the HTML's text and attributes too, one substitution fewer a reader.
    """
    if unsubscribe_mode not in UNSUBSCRIBE_MODES:
        raise ValueError(f"unsubscribe_mode must be one of {UNSUBSCRIBE_MODES}")
    if not token_key.isalnum():
        raise ValueError("token_key must be letters and digits")
    env = environment(templates_dir)
    warnings: list[str] = []
    context = _context(digest, newsletter, tracking, unsubscribe_mode, now, token_key, warnings)
    subject = " ".join(
        render_string(env, newsletter.subject, context, "[newsletter] subject").split()
    )
    check_whole(subject, token_key, lambda _: "digest.toml [newsletter] subject")
    context["subject"] = subject or newsletter.name
    context["reason"] = render_string(env, newsletter.reason, context, "[newsletter] reason")
    check_whole(context["reason"], token_key, lambda _: "digest.toml [newsletter] reason")
    mjml = render_traced(env, HTML_TEMPLATE, context, templates_dir)
    check_whole(mjml.text, token_key, mjml.where)
    label = template_label(env, HTML_TEMPLATE, templates_dir)

    def where(patterns: Sequence[str]) -> str:
        return locate(env, ".mjml.j2", templates_dir, patterns) or label

    compiled = inline_css(compile_mjml(mjml.text, mjml.where))
    html = place_tokens(compiled, token_key, where, plain_in_html=frozenset(plain_in_html))
    text_part = render_traced(env, TEXT_TEMPLATE, context, templates_dir)
    check_whole(text_part.text, token_key, text_part.where)
    plain = _tidy_text(text_part.text)
    if unsubscribe_mode == "asm":
        html, plain = _swap_asm_tags(html, token_key), _swap_asm_tags(plain, token_key)
    warnings += _html_warnings(html)
    return RenderedEmail(
        subject=context["subject"],
        preheader=context["preheader"],
        html=html,
        text=plain,
        warnings=tuple(warnings),
        subscriber_fields=tuple(sorted(context["subscriber"].asked)),
        token_key=token_key,
    )


def _context(
    digest: Digest,
    newsletter: Newsletter,
    tracking: Tracking,
    unsubscribe_mode: str,
    now: datetime,
    token_key: str,
    warnings: list[str],
) -> dict[str, Any]:
    """Everything the templates, the subject and the reason may use."""
    site = newsletter.site_url
    hosts = links.site_hosts(site, (links.absolute(post.url, site) for post in digest.posts))
    utm = links.utm_parameters(tracking, digest.edition)
    featured = _post_view(digest.featured, site, utm, hosts, warnings)
    teasers = [_post_view(post, site, utm, hosts, warnings) for post in digest.teasers]
    return {
        "newsletter": newsletter,
        "digest": digest,
        "edition": digest.edition,
        "featured": featured,
        "teasers": teasers,
        "posts": [featured, *teasers],
        "site_url": links.with_utm(site, utm, hosts) if site else "",
        "preheader": text.preview(featured.summary or featured.excerpt, PREHEADER_CHARS),
        "subscriber": SubscriberTokens(token_key),
        "unsubscribe_url": ReaderValue("unsubscribe_url", token_key),
        "preferences_url": ReaderValue("preferences_url", token_key)
        if unsubscribe_mode == "asm"
        else "",
        "view_online_url": newsletter.view_online_url.replace("{edition}", digest.edition),
        "now": now,
        "year": now.year,
    }


def _post_view(
    post: Post,
    site: str,
    utm: dict[str, str],
    hosts: frozenset[str],
    warnings: list[str],
) -> PostView:
    """The template-facing view of one post; a link that cannot work from an inbox is warned,
    and so is what the source had to leave out of the post."""
    warnings.extend(post.warnings)
    url = links.absolute(post.url, site)
    if not links.is_absolute(url):
        warnings.append(
            f"post {post.id!r} links to {post.url!r}, which is not absolute; "
            "set [newsletter] site_url so links work from an inbox"
        )
    image = links.absolute(post.image, site)
    title = " ".join(post.title.split()) or url
    summary_source = post.summary or html_to_text(post.content, limit=SUMMARY_CHARS)
    return PostView(
        title=title,
        url=links.with_utm(url, utm, hosts),
        canonical_url=url,
        date=text.format_date(post.published),
        published=post.published,
        author=post.author,
        image=image if image.startswith(("https://", "http://")) else "",
        image_alt=" ".join(post.image_alt.split()) or title,
        summary=trim(summary_source, SUMMARY_CHARS),
        content=post.content,
        tags=post.tags,
    )


def _tidy_text(plain: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in plain.strip().splitlines()]
    kept = [line for index, line in enumerate(lines) if line or (index and lines[index - 1])]
    return "\n".join(kept) + "\n"


def _swap_asm_tags(content: str, key: str) -> str:
    """SendGrid's unsubscribe-group tags in place of the tokens, whatever their variant
    (MRML cannot parse ``<%``)."""
    for name, tag in ASM_TAGS.items():
        for variant in VARIANTS:
            content = content.replace(token(name, key, variant), tag)
    return content


def _html_warnings(html: str) -> list[str]:
    """What an editor should hear about the finished HTML: its size, links that will not work."""
    warnings = []
    size_kb = len(html.encode("utf-8")) / 1024
    if size_kb > SIZE_WARNING_KB:
        warnings.append(
            f"digest.html is {size_kb:.0f} KB; Gmail clips messages over about "
            f"{GMAIL_CLIP_KB} KB (fewer posts or shorter summaries keep it whole)"
        )
    relative = links.relative_links(html)
    if relative:
        shown = ", ".join(relative[:3])
        warnings.append(f"links that will not work from an inbox: {shown}; make them absolute")
    return warnings
