"""The newsletter folder's own pictures: ``images/`` in place of their ``site_url`` addresses.

An email links its pictures at the site (``https://example.com/images/chart.jpg``), where
they may not be published yet. The preview serves the folder's ``images/`` instead, and
the archive copies them beside its pages: both rewrite each such address whose file is
in the folder, and leave every other address as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

IMAGES = "images"
# What an image's path under images/ may hold in a link (percent-encoding included).
_PATH = r"([A-Za-z0-9._~%/-]+)"


def local_images(html: str, site_url: str, folder: Path, link: Callable[[str], str]) -> str:
    """``html`` with each ``{site_url}/images/PATH`` whose file is in ``folder`` (the
    newsletter's images/) replaced by ``link(PATH)``."""
    if not site_url or IMAGES not in html:
        return html
    pattern = re.compile(re.escape(f"{site_url.rstrip('/')}/{IMAGES}/") + _PATH)

    def swap(found: re.Match[str]) -> str:
        in_folder = image_file(folder, found.group(1)) is not None
        return link(found.group(1)) if in_folder else found.group(0)

    return pattern.sub(swap, html)


def image_file(folder: Path, path: str) -> Path | None:
    """The regular file that ``path`` (as a link writes it) names under ``folder``, or None
    for anything else: a missing file, a folder, a path that climbs out (``..``)."""
    parts = unquote(path).split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    candidate = folder.joinpath(*parts)
    return candidate if candidate.is_file() else None


def used_images(html: str, site_url: str, folder: Path) -> dict[str, Path]:
    """The images of ``folder`` that ``html`` links at the site, by their path as linked."""
    found: dict[str, Path] = {}

    def keep(path: str) -> str:
        file = image_file(folder, path)
        if file is not None:
            found[path] = file
        return path

    local_images(html, site_url, folder, keep)
    return found
