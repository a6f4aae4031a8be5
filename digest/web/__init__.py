"""The web room: digest's ASGI apps (the unsubscribe endpoint; the editor's preview later).

The only package that imports Starlette and uvicorn. ``server`` holds what every app
shares: building an app with bounded request bodies, security headers and one log
line per request, self-contained HTML pages, and running it under uvicorn.
"""
