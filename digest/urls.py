"""Plain functions about URLs and domain names that every stage may use; the one module
that imports idna.

A link is resolved one way (``resolve``) wherever it is made absolute: the sources keep
only the http(s) links a reader can follow (``absolute_url``), the render stage keeps
what it was given, to warn about it. International domains are written in the ASCII
form headers and SMTP need by IDNA 2008 (``ascii_domain``), wherever an address or a
domain leaves digest.
"""

from __future__ import annotations

import functools
from urllib.parse import urljoin, urlsplit

import idna

from .errors import InvalidAddress

WEB_SCHEMES = ("http", "https")


def is_url(location: str) -> bool:
    """Whether a location (of a feed, say) names an http(s) URL rather than a path.

    Only the scheme is looked at, so that a malformed URL is still taken for a URL
    (and whoever fetches it says what is wrong with it) rather than for a missing file.
    """
    scheme, colon, _ = location.strip().partition(":")
    return bool(colon) and scheme.lower() in WEB_SCHEMES


def is_web_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


def resolve(url: str, base: str) -> str:
    """``url`` (stripped) resolved against ``base``: a protocol-relative URL takes https (an
    email has no page whose scheme it could take); without an http(s) ``base`` any other
    URL stays as it is. "" for an empty URL, or one that cannot be joined (such as
    ``https://[::1/a``, an unclosed IPv6 address)."""
    url = url.strip()
    if not url:
        return ""
    if url.startswith("//"):
        return "https:" + url
    if not is_web_url(base):
        return url
    try:
        return urljoin(base, url)
    except ValueError:
        return ""


def absolute_url(url: str, base_url: str) -> str:
    """``url`` resolved against ``base_url``; "" unless the result is an http(s) URL."""
    resolved = resolve(url, base_url)
    return resolved if is_web_url(resolved) else ""


def ascii_domain(domain: str) -> str:
    """The domain in the ASCII form headers and SMTP need, by IDNA 2008 (the idna package,
    as email-validator uses it): straße.de is xn--strae-oqa.de. (Python's own "idna" codec
    follows IDNA 2003, which maps it to strasse.de: another domain, someone else's mail.)

    Raises InvalidAddress for a domain that is not a valid name.
    """
    return domain if domain.isascii() else _ascii_domain(domain)


def ascii_address(address: str) -> str:
    """``address`` with its domain in ASCII (``ascii_domain``), the local part as it is:
    user@bücher.example is user@xn--bcher-kva.example. Most addresses are ASCII already
    and come back as they are, at the cost of one ``isascii``.

    Raises InvalidAddress for a domain that is not a valid name.
    """
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{ascii_domain(domain)}"


@functools.lru_cache(maxsize=1024)
def _ascii_domain(domain: str) -> str:
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidAddress(
            f"the domain {domain} is not a valid international name ({exc})"
        ) from None
