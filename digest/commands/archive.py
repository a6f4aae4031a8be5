"""`digest archive`: the web edition, static files for any host: a page per sent edition with
no reader's data, an index of them and an Atom feed, where view_online_url points."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from ..app import App
from ..files import write_atomically
from ..ledger import Ledger, ledger_exists
from ..text import plural
from ..web.archive import FEED, INDEX, Layout, Stored, feed, index, page
from ..web.images import IMAGES, used_images


def run(app: App, out_dir: Path) -> None:
    """Write the archive of every edition this folder has sent into ``out_dir``, all files
    at once (each under a temporary name, then renamed), the index and feed last."""
    newsletter = app.settings.newsletter
    layout = Layout.of(newsletter.view_online_url)
    editions = _stored(app)
    if not editions:
        app.say("No editions sent from this folder yet: nothing to archive.")
        return
    images = app.settings.root / IMAGES
    site = newsletter.site_url
    files: dict[Path, bytes] = {}
    pictures: dict[str, Path] = {}
    for edition in editions:
        document = page(edition, layout, site_url=site, images=images)
        files[out_dir / layout.page(edition.key)] = document.encode("utf-8")
        pictures.update(used_images(edition.html, site, images))
    for linked, file in sorted(pictures.items()):
        files[out_dir / IMAGES / unquote(linked)] = file.read_bytes()
    files[out_dir / INDEX] = index(editions, layout, name=newsletter.name).encode("utf-8")
    files[out_dir / FEED] = feed(editions, layout, name=newsletter.name, now=app.now)
    write_atomically(files, hint="choose another --out")
    app.say(
        f"Archived {plural(len(editions), 'edition')} and {plural(len(pictures), 'image')}"
        f" into {out_dir}/ "
        f"({INDEX}, {FEED}, a page an edition): publish it at {layout.base_url}"
    )


def _stored(app: App) -> list[Stored]:
    """Every edition whose send started, as the ledger keeps it, oldest first."""
    path = app.paths.ledger
    if not ledger_exists(path):
        return []
    found = []
    with Ledger.open(path) as ledger:
        for key in ledger.edition_keys():
            edition = ledger.edition(key)
            if edition is not None:
                found.append(
                    Stored(
                        key=edition.key,
                        subject=edition.subject,
                        preheader=edition.preheader,
                        html=edition.html,
                        token_key=edition.token_key,
                        sent_at=edition.started_at,
                    )
                )
    return found
