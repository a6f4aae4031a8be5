"""Links in the email: absolute against the site, UTM parameters on links to the site.

Every URL the templates see is made absolute here, and post links carry the
campaign's UTM parameters, so the HTML and text parts share the same links.
Substitution tokens, SendGrid tags and mailto: links are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..config import Tracking
from ..urls import WEB_SCHEMES, resolve

PLACEHOLDER = re.compile(r"^(%%[\w.-]+%%|<%\w+%>)$")
LINK_ATTRIBUTE = re.compile(r"""\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def is_placeholder(url: str) -> bool:
    """A substitution token (``%%KEY.name.html%%``) or a SendGrid tag (``<%tag%>``), filled per
    recipient."""
    return bool(PLACEHOLDER.match(url.strip()))


def absolute(url: str, base: str) -> str:
    """``url`` resolved against ``base`` (the site URL) as ``urls.resolve`` does; placeholders
    as they are. A link that stays relative is for ``is_absolute`` to catch, and warn about."""
    return url.strip() if is_placeholder(url) else resolve(url, base)


def is_absolute(url: str) -> bool:
    """Whether a link works from an inbox: http(s) with a host, mailto:, or a placeholder."""
    if is_placeholder(url):
        return True
    parts = urlsplit(url.strip())
    if parts.scheme == "mailto":
        return True
    return parts.scheme in WEB_SCHEMES and bool(parts.netloc)


def host(url: str) -> str:
    """The host of a URL, lower case, without a leading "www."."""
    name = (urlsplit(url).hostname or "").lower()
    return name.removeprefix("www.")


def site_hosts(site_url: str, post_urls: Iterable[str]) -> frozenset[str]:
    """The hosts that count as the newsletter's own site: the site URL's, else the posts'."""
    if site_url and host(site_url):
        return frozenset({host(site_url)})
    return frozenset(name for name in (host(url) for url in post_urls) if name)


def utm_parameters(tracking: Tracking, edition: str) -> dict[str, str]:
    """The UTM parameters for one edition; empty settings are left out."""
    values = {
        "utm_source": tracking.utm_source,
        "utm_medium": tracking.utm_medium,
        "utm_campaign": tracking.utm_campaign.replace("{edition}", edition),
    }
    return {key: value for key, value in values.items() if value}


def with_utm(url: str, parameters: Mapping[str, str], hosts: frozenset[str]) -> str:
    """``url`` with the UTM parameters added when it leads to one of ``hosts``.

    Parameters already in the URL win (an author's own campaign stays), and the
    fragment stays last.
    """
    if not parameters or is_placeholder(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in WEB_SCHEMES or host(url) not in hosts:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, value) for key, value in parameters.items() if key not in present]
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(query)))


def relative_links(html: str) -> list[str]:
    """The href and src values in ``html`` that would not work from an inbox."""
    found = (first or second for first, second in LINK_ATTRIBUTE.findall(html))
    return sorted({url for url in found if not is_absolute(url.replace("&amp;", "&"))})
