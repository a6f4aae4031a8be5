"""`digest build`: render the next edition into a folder, as its first reader would see it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..audience.csvfile import first_active
from ..audience.personalize import recipient_for, used_tokens
from ..deliver.mime import build_message
from ..models import Digest, Post, Recipient, RenderedEmail, Subscriber
from ..render import ASM_TAGS
from ..sending.edition import (
    ASM_PLACEHOLDER_URL,
    Context,
    edition_key,
    message_for,
    message_id_domain,
    next_digest,
    render,
    sent_post_ids,
    write_atomically,
)

SAMPLE_READER = Subscriber(email="reader@example.com", name="Reader")


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    digest: Digest
    email: RenderedEmail
    reader: Recipient
    warnings: tuple[str, ...]


def build(ctx: Context, out_dir: Path) -> BuildResult:
    """Render the next edition and write digest.html, .txt, .eml and manifest.json into out_dir."""
    settings = ctx.settings
    key = edition_key(ctx.now, settings.schedule.timezone)
    digest = next_digest(ctx, key, sent_post_ids(ctx))
    email = render(ctx, digest)
    reader = sample_recipient(ctx, email)
    seen = email.personalized(reader.substitutions)
    warnings = [*email.warnings, *_secret_warnings(ctx)]
    message = message_for(settings, email, key, test=False)
    eml = build_message(message, reader, now=ctx.now, message_id_domain=message_id_domain(settings))
    outputs = {
        "digest.html": seen.html.encode("utf-8"),
        "digest.txt": seen.text.encode("utf-8"),
        "digest.eml": eml.as_bytes(),
    }
    manifest = _manifest(key, digest, seen, outputs, warnings, reader.email)
    outputs["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    # The manifest goes last, and lists what the others hold: a build cut short between
    # two renames leaves files that do not match it, which anyone can tell.
    write_atomically(
        {out_dir / name: data for name, data in outputs.items()}, hint="choose another --out"
    )
    return BuildResult(out_dir, digest, seen, reader, tuple(warnings))


def sample_recipient(ctx: Context, email: RenderedEmail) -> Recipient:
    """The first active subscriber as a recipient, with placeholders where only SendGrid knows."""
    settings = ctx.settings
    path = settings.path(settings.subscribers.path)
    subscriber = (first_active(path) if path.exists() else None) or SAMPLE_READER
    recipient = recipient_for(
        subscriber,
        unsubscribe_url_template=settings.unsubscribe.url,
        unsubscribe_mailto=settings.unsubscribe.mailto,
        secret=settings.secrets.unsubscribe_secret,
        used_tokens=used_tokens(email.subject, email.html, email.text, key=email.token_key),
        token_key=email.token_key,
    )
    placeholders = dict.fromkeys(ASM_TAGS.values(), ASM_PLACEHOLDER_URL)
    return Recipient(
        email=recipient.email,
        name=recipient.name,
        substitutions={**recipient.substitutions, **placeholders},
        headers=recipient.headers,
    )


def _secret_warnings(ctx: Context) -> list[str]:
    settings = ctx.settings
    if settings.sendgrid.asm_group_id or not settings.unsubscribe.url:
        return []
    if settings.secrets.unsubscribe_secret:
        return []
    return [
        "DIGEST_UNSUBSCRIBE_SECRET is not set: the unsubscribe link carries a preview token "
        "(a send to the list refuses without the secret)"
    ]


def _post_entry(post: Post) -> dict[str, str | None]:
    return {
        "id": post.id,
        "title": post.title,
        "url": post.url,
        "published": post.published.isoformat() if post.published else None,
    }


def _manifest(
    key: str,
    digest: Digest,
    email: RenderedEmail,
    outputs: Mapping[str, bytes],
    warnings: list[str],
    reader: str,
) -> dict[str, object]:
    return {
        "edition": key,
        "subject": email.subject,
        "preheader": email.preheader,
        "featured": _post_entry(digest.featured),
        "teasers": [_post_entry(post) for post in digest.teasers],
        "html_bytes": len(outputs["digest.html"]),
        "rendered_for": reader,
        "warnings": warnings,
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in outputs.items()
        },
    }
