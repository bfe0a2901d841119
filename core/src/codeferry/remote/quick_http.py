"""Plain HTTP for a store's quick listing (:meth:`ObjectStoreFolder.quick_listing
<codeferry.remote.ObjectStoreFolder.quick_listing>`): one connection, pages of XML.

A store's plugin declares what differs (the request's address, its signature, the names in the
answer); the connection, the bounds on waiting and on size, and the parsing are here. Nothing
raises: a listing that cannot be had this way is ``None``, and the engine lists through the SDK.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import http.client
    from xml.etree.ElementTree import Element

__all__ = ["MAX_PAGES", "child_text", "children", "connection", "get_xml", "local_name"]

MAX_PAGES = 1000
"""Pages a quick listing reads at most: a larger folder is listed through the SDK."""
_PAGE_BYTES = 16 * 2**20  # a page of 5,000 names of 1,024 bytes with their properties: < 16 MB


@contextlib.contextmanager
def connection(
    scheme: str, host: str, port: int | None, timeout: float | None, cafile: str | None = None
) -> Iterator[http.client.HTTPConnection]:
    """An HTTP(S) connection whose every wait is at most ``timeout``, closed after.

    HTTPS checks the server's certificate against the system's CAs, or ``cafile``.
    """
    import http.client

    made: http.client.HTTPConnection
    if scheme == "https":
        import ssl

        context = ssl.create_default_context(cafile=cafile or None)
        made = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        made = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        yield made
    finally:
        made.close()


def get_xml(
    client: http.client.HTTPConnection, target: str, headers: Mapping[str, str]
) -> Element | None:
    """``GET target``'s XML answer, or ``None``: any status but 200, a body too large for a page
    of a listing, a network failure, XML that does not parse."""
    import http.client
    from xml.etree import ElementTree

    try:
        client.request("GET", target, headers=dict(headers))
        answer = client.getresponse()
        body = answer.read(_PAGE_BYTES + 1)
        if answer.status != 200 or len(body) > _PAGE_BYTES:
            return None
        # The SDKs read these pages with the same parser; expat (2.4.1 and later) refuses entity
        # expansion attacks, and ElementTree never fetches external entities.
        return ElementTree.fromstring(body)  # noqa: S314
    except (OSError, http.client.HTTPException, ElementTree.ParseError):
        return None


def local_name(tag: str) -> str:
    """An element's tag without its namespace (``{http://s3...}Contents`` -> ``Contents``)."""
    return tag.rpartition("}")[2]


def children(element: Element, name: str) -> Iterator[Element]:
    """The child elements of ``element`` named ``name``, whatever their namespace."""
    return (child for child in element if local_name(child.tag) == name)


def child_text(element: Element, name: str) -> str | None:
    """The text of ``element``'s first child named ``name`` (``""`` when empty), or ``None``."""
    for child in children(element, name):
        return child.text or ""
    return None
