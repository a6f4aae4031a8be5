"""`digest build`: render the next edition into a folder, as its first reader would see it;
with --edition, a sent edition as the ledger stores it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..app import App
from ..deliver.mime import build_message
from ..errors import UnknownEdition
from ..files import write_atomically
from ..ledger import Ledger, ledger_exists
from ..models import Post, RenderedEmail
from ..sending.draft import Draft, Look, draft, look
from ..sending.edition import message_for, message_id_domain, render, stored_email
from ..text import plural


def run(app: App, out_dir: Path, edition: str | None = None) -> None:
    """Write digest.html, .txt, .eml and manifest.json into out_dir, as the first active
    subscriber sees them (the unsubscribe link with a preview token); say what was built.

    Without ``edition``, the next edition as it stands (when nothing is new yet, laid out
    with the last edition's posts); with it, that sent edition exactly as stored.
    """
    key, email, about, posts = _edition(app, edition)
    seen = look(app, email)
    outputs = _outputs(app, key, seen)
    manifest = _manifest(key, seen, outputs, about)
    outputs["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    # The manifest goes last, and lists what the others hold: a build cut short between
    # two renames leaves files that do not match it, which anyone can tell.
    write_atomically(
        {out_dir / name: data for name, data in outputs.items()}, hint="choose another --out"
    )
    for warning in seen.warnings:
        app.warn(warning)
    if about.get("nothing_new"):
        app.say(f"{str(about['nothing_new']).capitalize()}.")
    size = len(outputs["digest.html"]) // 1024
    app.say(
        f"Built edition {key}{' as sent' if edition else ''}: {seen.email.subject!r}, "
        f"{posts}, {size} KB of HTML, as {seen.reader.email} sees it"
        f" but for a placeholder unsubscribe link -> {out_dir}/"
    )


def _edition(app: App, edition: str | None) -> tuple[str, RenderedEmail, dict[str, object], str]:
    """The key and email built, the manifest's fields about its posts, and what the
    summary line says of them ("10 posts (5 passed over: ...)")."""
    if edition is not None:
        email, post_ids = _stored(app, edition)
        about: dict[str, object] = {"stored": True, "posts": list(post_ids)}
        return edition, email, about, plural(len(post_ids), "post")
    next_edition = draft(app)
    posts = plural(len(next_edition.digest.posts), "post") + _passed(next_edition)
    return next_edition.key, render(app, next_edition.digest), _posts(next_edition), posts


def _stored(app: App, key: str) -> tuple[RenderedEmail, tuple[str, ...]]:
    """The email of edition ``key`` as the ledger keeps it, and its posts' ids; or
    UnknownEdition."""
    path = app.paths.ledger
    stored = None
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            stored = ledger.edition(key)
    if stored is None:
        raise UnknownEdition(f"edition {key} was never sent from this folder")
    return stored_email(stored), stored.post_ids


def _outputs(app: App, key: str, seen: Look) -> dict[str, bytes]:
    message = message_for(app.settings, seen.email, key, test=False, preview=True)
    eml = build_message(
        message, seen.reader, now=app.now, message_id_domain=message_id_domain(app.settings)
    )
    return {
        "digest.html": seen.email.html.encode("utf-8"),
        "digest.txt": seen.email.text.encode("utf-8"),
        "digest.eml": eml.as_bytes(),
    }


def _post_entry(post: Post) -> dict[str, str | None]:
    return {
        "id": post.id,
        "title": post.title,
        "url": post.url,
        "published": post.published.isoformat() if post.published else None,
    }


def _posts(next_edition: Draft) -> dict[str, object]:
    digest, choice = next_edition.digest, next_edition.choice
    return {
        "featured": _post_entry(digest.featured),
        "teasers": [_post_entry(post) for post in digest.teasers],
        "nothing_new": next_edition.nothing_new,
        # The posts of the source the selection left out, by why (seen in or when making
        # an earlier edition, older than selection.max_age_days, the same link as another,
        # past selection.max_posts); when nothing is new, every post, the layout's too.
        "passed_over": {
            "seen": choice.seen,
            "too_old": choice.too_old,
            "same_link": choice.same_link,
            "over_max_posts": choice.over_limit,
        },
    }


def _passed(next_edition: Draft) -> str:
    """What the summary line says the selection passed over (the nothing-new line, said
    before it, already does when nothing is new)."""
    passed = next_edition.choice.describe_passed_over()
    return f" ({passed})" if passed and not next_edition.nothing_new else ""


def _manifest(
    key: str, seen: Look, outputs: dict[str, bytes], about: dict[str, object]
) -> dict[str, object]:
    return {
        "edition": key,
        "subject": seen.email.subject,
        "preheader": seen.email.preheader,
        **about,
        "html_bytes": len(outputs["digest.html"]),
        "rendered_for": seen.reader.email,
        "warnings": list(seen.warnings),
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in outputs.items()
        },
    }
