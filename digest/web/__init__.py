"""The web room: digest's ASGI apps (the unsubscribe endpoint, the editor's preview) and the
web edition (the archive's static pages and Atom feed).

The only package that imports Starlette and uvicorn (and, for the preview's file watch,
watchfiles, in ``watch``). ``server`` holds what every app shares: building an app with
bounded request bodies, security headers and one log line per request, self-contained
HTML pages, and running it under uvicorn. The preview renders and sends tests through
``sending/``, so this room stands above it.
"""
