"""An Atom feed (RFC 4287), written with the standard library's ElementTree, which escapes
every text and attribute it writes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

NAMESPACE = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    updated: datetime
    summary: str = ""


def feed(
    *,
    title: str,
    id: str,
    link: str,
    self_link: str,
    updated: datetime,
    entries: Sequence[Entry],
) -> bytes:
    """The feed document, UTF-8 with its XML declaration; its author is its title."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(_name("feed"))
    _text(root, "title", title)
    _text(root, "id", id)
    _text(root, "updated", _when(updated))
    author = ET.SubElement(root, _name("author"))
    _text(author, "name", title)
    ET.SubElement(root, _name("link"), rel="alternate", type="text/html", href=link)
    ET.SubElement(root, _name("link"), rel="self", type="application/atom+xml", href=self_link)
    for entry in entries:
        item = ET.SubElement(root, _name("entry"))
        _text(item, "title", entry.title)
        _text(item, "id", entry.id)
        _text(item, "updated", _when(entry.updated))
        ET.SubElement(item, _name("link"), rel="alternate", type="text/html", href=entry.link)
        if entry.summary:
            _text(item, "summary", entry.summary)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _name(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> None:
    """A child element of ``text``, less what XML 1.0 cannot carry (control characters)."""
    ET.SubElement(parent, _name(tag)).text = _NOT_XML.sub("", text)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
