"""`digest preview`: the editor's page for the next edition, served on loopback until stopped."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from pathlib import Path

from ..app import App
from ..config import Settings

# Seconds the requests still open may take once Ctrl-C stops the preview: its event
# streams end at once, so this only bounds a test send under way.
SHUTDOWN_SECONDS = 5


def run(
    app: App,
    host: str,
    port: int,
    *,
    config: Path,
    reload: Callable[[], Settings],
    open_browser: bool,
) -> None:
    """Render the next edition, say where the page is (and what is wrong, if anything),
    then serve it, rendering again whenever ``config``, a template or the source changes."""
    from ..web.preview import check_loopback, make_preview
    from ..web.server import serve
    from ..web.workbench import Workbench

    check_loopback(host)
    bench = Workbench(app, config, reload)
    first = bench.refresh()
    if first.error:
        app.warn(f"{first.error} (the page shows it until it is fixed)")
    elif first.draft is not None and first.draft.nothing_new:
        app.say(f"{first.draft.nothing_new.capitalize()}.")
    preview, asgi = make_preview(bench)

    def announce(url: str) -> None:
        preview.listening(url)
        edition = f" edition {first.draft.key}" if first.draft else ""
        app.say(f"Previewing{edition} at {url}/ (it follows your edits; Ctrl-C stops it)")
        if open_browser:
            webbrowser.open(f"{url}/")

    serve(
        asgi,
        host,
        port,
        announce=announce,
        lifespan=True,
        shutdown_seconds=SHUTDOWN_SECONDS,
        stopping=preview.stopping,
    )
