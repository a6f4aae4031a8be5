"""`digest unsubscribe serve`: the one-click unsubscribe endpoint, run in the foreground."""

from __future__ import annotations

from ..app import App


def serve(app: App, host: str, port: int) -> None:
    """Serve the endpoint on host:port until stopped; says where it listens first."""
    from ..web.server import serve as run
    from ..web.unsubscribe import HEALTH_PATH, endpoint_path, make_app

    endpoint = make_app(app.settings, clock=app.clock)
    path = endpoint_path(app.settings.unsubscribe.url)

    def announce(url: str) -> None:
        app.say(f"Serving the unsubscribe endpoint at {url}{path} (health: {url}{HEALTH_PATH})")

    run(endpoint, host, port, announce=announce)
