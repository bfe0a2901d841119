"""A folder's listing with the standard library: List Blobs, signed here with the account's key.

A re-pull that finds nothing changed is one listing; through adlfs it first imports adlfs and the
Azure SDK (0.3 s of a worker's whole process). This module lists with :mod:`http.client` and signs
with Shared Key (an HMAC-SHA256 of the request, 30 lines) or sends the connection string's shared
access signature. It is used only for a connection string (the block's, or
``AZURE_STORAGE_CONNECTION_STRING`` when the block has no credentials), which adlfs takes as it
is; sign-ins through Azure's credential chain are left to the SDK, as is any failure (``None``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "PAGE_SIZE",
    "ListingRequest",
    "connection_string_parts",
    "folder_listing",
    "list_folder",
    "request_for",
    "sign",
]

API_VERSION = "2021-08-06"
"""The Blob service version the requests ask for (Azurite and every Azure region serve it)."""
PAGE_SIZE = 5000
"""Names a page of the listing holds: the service's largest page."""


@dataclass(frozen=True)
class ListingRequest:
    """Where and as whom to list: the blob endpoint's parts and the key or SAS to use."""

    scheme: str
    host: str
    port: int | None
    path: str
    account: str
    key: bytes | None
    sas: str | None

    def __repr__(self) -> str:
        return f"ListingRequest({self.scheme}://{self.host}{self.path}, account={self.account!r})"


def folder_listing(
    options: Mapping[str, Any], container: str, folder: str
) -> dict[str, dict[str, Any]] | None:
    """The store's quick lister (``Azure.quick_lister``): ``folder`` of ``container`` listed with
    the adlfs ``options`` (``{}``: the environment's connection string), or ``None``."""
    from codeferry.timeouts import network_timeouts

    request = request_for(options)
    if request is None:
        return None
    return list_folder(request, container, folder, network_timeouts().connect)


def connection_string_parts(text: str) -> dict[str, str]:
    """A connection string's ``key=value`` parts, by key in lower case."""
    parts: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    return parts


def request_for(
    options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ListingRequest | None:
    """How to list with the adlfs ``options`` a container's credentials give, or ``None``."""
    env = os.environ if environ is None else environ
    text = options.get("connection_string")
    if not options:
        text = env.get("AZURE_STORAGE_CONNECTION_STRING")
    elif set(options) != {"connection_string"}:
        return None  # a sign-in through azure-identity
    if not isinstance(text, str) or not text:
        return None
    parts = connection_string_parts(text)
    account = parts.get("accountname", "")
    endpoint = parts.get("blobendpoint")
    if not endpoint:
        if not account or parts.get("usedevelopmentstorage"):
            return None
        protocol = parts.get("defaultendpointsprotocol", "https")
        endpoint = f"{protocol}://{account}.blob.{parts.get('endpointsuffix', 'core.windows.net')}"
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname or url.query:
        return None
    path = url.path.rstrip("/")
    account = account or (path.strip("/").split("/")[0] if path else url.hostname.split(".")[0])
    key: bytes | None = None
    if parts.get("accountkey"):
        try:
            key = base64.b64decode(parts["accountkey"], validate=True)
        except (binascii.Error, ValueError):
            return None
    sas = parts.get("sharedaccesssignature", "").lstrip("?") or None
    return ListingRequest(url.scheme, url.hostname, url.port, path, account, key, sas)


def sign(request: ListingRequest, path: str, query: Mapping[str, str], date: str) -> dict[str, str]:
    """The headers of a ``GET path?query`` sent at ``date`` (RFC 1123), signed with Shared Key
    when the request has the account's key."""
    headers = {"x-ms-date": date, "x-ms-version": API_VERSION}
    if request.key is None:
        return headers
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers))
    resource = f"/{request.account}{path}" + "".join(
        f"\n{name.lower()}:{value}" for name, value in sorted(query.items())
    )
    # Verb, then eleven standard headers this GET does not send, then the rest.
    to_sign = "GET\n" + "\n" * 11 + canonical_headers + resource
    signature = hmac.new(request.key, to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {request.account}:{base64.b64encode(signature).decode()}"
    return headers


def list_folder(
    request: ListingRequest,
    container: str,
    folder: str,
    timeout: float | None,
    page_size: int = PAGE_SIZE,
) -> dict[str, dict[str, Any]] | None:
    """Every blob under ``folder/`` of ``container`` as adlfs's ``find`` names and describes it
    (``name``, ``size``, ``etag``, ``content_settings``, ``metadata``), or ``None`` on any
    failure. Each wait is at most ``timeout``."""
    from codeferry.remote.quick_http import MAX_PAGES, child_text, children, connection, get_xml

    path = f"{request.path}/{container}"
    query = {"comp": "list", "include": "metadata", "maxresults": str(page_size)}
    query["restype"] = "container"
    if folder:
        query["prefix"] = f"{folder}/"
    signed = request.key is not None
    sas = dict(parse_qsl(request.sas, keep_blank_values=True)) if request.sas and not signed else {}
    entries: dict[str, dict[str, Any]] = {}
    with connection(request.scheme, request.host, request.port, timeout) as client:
        for _ in range(MAX_PAGES):
            sent = {**query, **sas}
            target = (
                quote(path)
                + "?"
                + "&".join(
                    f"{quote(name, safe='')}={quote(value, safe='')}"
                    for name, value in sent.items()
                )
            )
            date = formatdate(usegmt=True)
            page = get_xml(client, target, sign(request, path, query, date))
            if page is None:
                return None
            for blobs in children(page, "Blobs"):
                for blob in children(blobs, "Blob"):
                    entry = _entry(container, blob)
                    if entry is None:
                        return None
                    entries[entry["name"]] = entry
            marker = child_text(page, "NextMarker")
            if not marker:
                return entries
            query["marker"] = marker
    return None


def _entry(container: str, blob: Any) -> dict[str, Any] | None:
    """One blob as adlfs describes it, or ``None`` if the answer lacks what that needs."""
    from codeferry.remote.quick_http import child_text, children

    names = list(children(blob, "Name"))
    properties = next(children(blob, "Properties"), None)
    if len(names) != 1 or properties is None:
        return None
    name = names[0].text or ""
    if names[0].get("Encoded") == "true":
        name = unquote(name)
    size, etag = child_text(properties, "Content-Length"), child_text(properties, "Etag")
    if size is None or not size.isdigit() or not etag:
        return None
    md5 = child_text(properties, "Content-MD5")
    try:
        digest = base64.b64decode(md5, validate=True) if md5 else None
    except (binascii.Error, ValueError):
        digest = None
    metadata = {
        item.tag: item.text or "" for holder in children(blob, "Metadata") for item in holder
    }
    return {
        # A name ending in "/" is a folder's marker (adlfs lists it as a folder): the engine
        # leaves it out by that "/".
        "name": f"{container}/{name}",
        "size": int(size),
        "type": "file",
        "etag": f'"{etag.strip(chr(34))}"',
        "content_settings": {"content_md5": digest},
        "metadata": metadata,
    }
