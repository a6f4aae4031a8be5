"""`digest build`: render the next edition into a folder, as its first reader would see it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from ..app import App
from ..config import Settings
from ..deliver.mime import build_message
from ..files import write_atomically
from ..models import Digest, Post, RenderedEmail
from ..select import Choice
from ..sending.edition import (
    message_for,
    message_id_domain,
    next_digest,
    render,
    sample_recipient,
    seen_posts,
)


def run(app: App, out_dir: Path) -> None:
    """Render the next edition and write digest.html, .txt, .eml and manifest.json into
    out_dir, as the first active subscriber sees them; say what was built."""
    settings = app.settings
    key = app.edition_key()
    digest, choice = next_digest(app, key, seen_posts(app))
    email = render(app, digest)
    reader = sample_recipient(app, email)
    seen = email.personalized(reader.substitutions)
    warnings = [*email.warnings, *_secret_warnings(settings)]
    message = message_for(settings, email, key, test=False)
    eml = build_message(message, reader, now=app.now, message_id_domain=message_id_domain(settings))
    outputs = {
        "digest.html": seen.html.encode("utf-8"),
        "digest.txt": seen.text.encode("utf-8"),
        "digest.eml": eml.as_bytes(),
    }
    manifest = _manifest(key, digest, choice, seen, outputs, warnings, reader.email)
    outputs["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    # The manifest goes last, and lists what the others hold: a build cut short between
    # two renames leaves files that do not match it, which anyone can tell.
    write_atomically(
        {out_dir / name: data for name, data in outputs.items()}, hint="choose another --out"
    )
    for warning in warnings:
        app.warn(warning)
    passed = choice.describe_passed_over()
    app.say(
        f"Built edition {key}: {seen.subject!r}, {len(digest.posts)} posts"
        f"{f' ({passed})' if passed else ''}, "
        f"{len(seen.html.encode()) // 1024} KB of HTML, as {reader.email} sees it -> {out_dir}/"
    )


def _secret_warnings(settings: Settings) -> list[str]:
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
    choice: Choice,
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
        # The posts of the source left out, by why (seen in or when making an earlier
        # edition, older than selection.max_age_days, past selection.max_posts).
        "passed_over": {
            "seen": choice.seen,
            "too_old": choice.too_old,
            "over_max_posts": choice.over_limit,
        },
        "html_bytes": len(outputs["digest.html"]),
        "rendered_for": reader,
        "warnings": warnings,
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in outputs.items()
        },
    }
