"""What the preview shows, made away from the web: the latest render of the next edition, the
email as any reader gets it, the list paged and searched, the files to watch.

Everything here blocks (reading the source, rendering, reading the list) and runs in a
worker thread. A render that fails keeps the last good email beside its error, so the
page shows both and recovers by itself at the next good render. The settings are read
again for every render: an edit to digest.toml counts like an edit to a template.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..app import App
from ..audience.csvfile import read_subscribers
from ..config import Settings
from ..errors import DigestError
from ..models import Post, RenderedEmail, Subscriber
from ..sending.draft import Draft, Look, draft, look
from ..sending.edition import render
from ..urls import is_url
from .images import IMAGES

LOG = logging.getLogger("digest.web")
READERS_A_PAGE = 20
MAX_QUERY_CHARS = 200
KEPT_READERS = 1000  # readers the page was shown, found again without reading the list
KEPT_LOOKS = 16


@dataclass(frozen=True)
class Render:
    """One render: ``version`` counts them; ``error`` ("" when it worked) stands beside the
    last email that did render (None before any)."""

    version: int
    app: App
    draft: Draft | None = None
    email: RenderedEmail | None = None
    error: str = ""
    started: float = 0.0  # when it began, seconds since the epoch (for the page's timings)
    seconds: float = 0.0  # how long it took


@dataclass(frozen=True)
class Watched:
    """The files and folders whose change makes a new render."""

    files: frozenset[Path]
    folders: frozenset[Path]


class Workbench:
    """The preview's state for one newsletter folder: ``refresh`` renders again."""

    def __init__(self, app: App, config: Path, reload: Callable[[], Settings]) -> None:
        """``reload`` reads the settings again from ``config``, the file it watches."""
        self._config = config
        self._reload = reload
        self._lock = threading.Lock()
        self._cache = threading.Lock()
        self.current = Render(0, app)
        self._readers: OrderedDict[str, Subscriber] = OrderedDict()
        self._looks: OrderedDict[tuple[int, str], Look] = OrderedDict()

    def refresh(self) -> Render:
        """Read the settings and the source again and render; a failure is kept as the error."""
        with self._lock:
            last = self.current
            started = time.time()
            try:
                app = replace(last.app, settings=self._reload())
                app = replace(app, now=app.clock())
                made = draft(app)
                now = Render(last.version + 1, app, made, render(app, made.digest))
            except DigestError as error:
                now = replace(last, version=last.version + 1, error=str(error))
            except Exception as error:  # a bug must not stop the preview: show it, log it
                LOG.exception("the preview's render failed")
                failure = f"{type(error).__name__}: {error}"
                now = replace(last, version=last.version + 1, error=failure)
            now = replace(now, started=started, seconds=time.time() - started)
            self.current = now
            with self._cache:
                self._looks.clear()
            return now

    def watched(self) -> Watched:
        """The config file, the templates folder, a local source and the subscriber list."""
        app = self.current.app
        settings = app.settings
        files = {app.paths.subscribers, self._config}
        folders = {app.settings.path(settings.newsletter.templates)}
        location = settings.source.location
        if not is_url(location):
            source = settings.path(location)
            (folders if settings.source.type == "markdown" else files).add(source)
        return Watched(frozenset(files), frozenset(folders))

    @property
    def images(self) -> Path:
        return self.current.app.settings.root / IMAGES

    def look(self, render: Render, address: str) -> Look | None:
        """The email of ``render`` as the reader ``address`` gets it (the first active
        reader when "" or unknown); None before any render worked."""
        if render.email is None:
            return None
        key = (render.version, address)
        with self._cache:
            if key in self._looks:
                return self._looks[key]
        subscriber = self.reader(address) if address else None
        seen = look(render.app, render.email, subscriber)
        with self._cache:
            self._looks[key] = seen
            while len(self._looks) > KEPT_LOOKS:
                self._looks.popitem(last=False)
        return seen

    def readers(self, query: str, page: int) -> tuple[list[Subscriber], bool]:
        """Page ``page`` (from 0) of the active readers whose address or name holds
        ``query``, and whether more follow; the list is read row by row, never whole."""
        wanted = query[:MAX_QUERY_CHARS].casefold()
        skip = page * READERS_A_PAGE
        found: list[Subscriber] = []
        for subscriber in self._active():
            if wanted in subscriber.email.casefold() or wanted in subscriber.name.casefold():
                if skip:
                    skip -= 1
                    continue
                if len(found) == READERS_A_PAGE:
                    return found, True
                found.append(subscriber)
                self._keep(subscriber)
        return found, False

    def reader(self, address: str) -> Subscriber | None:
        """The active reader with that address: one the page was shown, else from the list."""
        wanted = address.casefold()
        with self._cache:
            if wanted in self._readers:
                return self._readers[wanted]
        for subscriber in self._active():
            if subscriber.email.casefold() == wanted:
                self._keep(subscriber)
                return subscriber
        return None

    def _keep(self, subscriber: Subscriber) -> None:
        with self._cache:
            self._readers[subscriber.email.casefold()] = subscriber
            self._readers.move_to_end(subscriber.email.casefold())
            while len(self._readers) > KEPT_READERS:
                self._readers.popitem(last=False)

    def _active(self) -> Iterator[Subscriber]:
        path = self.current.app.paths.subscribers
        if not path.is_file():
            return
        with closing(read_subscribers(path)) as rows:
            for row in rows:
                if isinstance(row, Subscriber) and row.active:
                    yield row


def described(render: Render, seen: Look | None) -> dict[str, Any]:
    """What the page shows of a render, as JSON: its facts, posts, text and warnings."""
    settings = render.app.settings
    newsletter = settings.newsletter
    state: dict[str, Any] = {
        "version": render.version,
        "error": render.error,
        "rendered": {"started": render.started, "seconds": render.seconds},
        "sender": f"{newsletter.name} <{newsletter.from_email or 'newsletter.from_email unset'}>",
        "reply_to": newsletter.reply_to,
    }
    made = render.draft
    if made is not None:
        state |= {
            "edition": made.key,
            "nothing_new": made.nothing_new,
            "featured": _post(made.digest.featured),
            "teasers": [_post(post) for post in made.digest.teasers],
            "passed_over": [_post(p.post) | {"reason": p.reason} for p in made.passed_over],
        }
    if seen is not None:
        warnings = [*seen.warnings, *([made.nothing_new] if made and made.nothing_new else [])]
        state |= {
            "subject": seen.email.subject,
            "preheader": seen.email.preheader,
            "text": seen.email.text,
            "html_bytes": len(seen.email.html.encode("utf-8")),
            "warnings": warnings,
            "reader": _reader(seen),
            "unsubscribe_link": seen.unsubscribe_link,
        }
    return state


def _post(post: Post) -> dict[str, str]:
    published = post.published.date().isoformat() if post.published else ""
    return {"title": post.title, "url": post.url, "date": published}


def _reader(seen: Look) -> dict[str, Any]:
    return {"email": seen.reader.email, "name": seen.reader.name}


def reader_entry(subscriber: Subscriber) -> dict[str, Any]:
    """A reader as the picker lists it: address, name and merge fields."""
    return {"email": subscriber.email, "name": subscriber.name, "fields": dict(subscriber.fields)}
