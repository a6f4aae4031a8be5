"""`digest unsubscribe serve`: the one-click unsubscribe endpoint, run in the foreground."""

from __future__ import annotations

from ..sending.edition import Context


def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the endpoint on host:port until stopped; says where it listens first."""
    from ..web.server import serve as run
    from ..web.unsubscribe import HEALTH_PATH, endpoint_path, make_app

    app = make_app(ctx.settings, clock=ctx.clock)
    path = endpoint_path(ctx.settings.unsubscribe.url)

    def announce(url: str) -> None:
        ctx.say(f"Serving the unsubscribe endpoint at {url}{path} (health: {url}{HEALTH_PATH})")

    run(app, host, port, announce=announce)
