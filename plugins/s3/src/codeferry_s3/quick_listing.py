"""A folder's listing with the standard library: ``ListObjectsV2``, signed here with SigV4.

A re-pull that finds nothing changed is one listing; through s3fs it first imports s3fs,
aiobotocore and botocore (0.4 s of a worker's whole process, more than the listing of 2,000 keys
takes against moto). This module lists with :mod:`http.client` and signs the requests itself
(botocore's own signer, ``botocore.auth``, costs 0.11 s to import: the signing is 30 lines of
``hmac``). It is used only where the answer is certain to be the one botocore would get: keys
given (in the block or the environment, as botocore's chain takes them first), an endpoint and
region known without reading ``~/.aws``, no client settings beyond those. Anything else, and any
failure, is ``None``: the engine then lists through s3fs and reports what went wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

__all__ = ["ListingRequest", "folder_listing", "list_folder", "request_for", "sign"]

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_UNRESERVED = "-_.~"
_PLAIN_OPTIONS = {"key", "secret", "token", "endpoint_url", "client_kwargs", "use_ssl", "anon"}


@dataclass(frozen=True)
class ListingRequest:
    """Where and as whom to list a bucket: the endpoint's parts and the keys to sign with."""

    scheme: str
    host: str
    port: int | None
    path_style: bool
    region: str
    key: str | None
    secret: str | None
    token: str | None

    def __repr__(self) -> str:
        return f"ListingRequest({self.scheme}://{self.host}, region={self.region!r})"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port in (None, default) else f"{self.host}:{self.port}"


def folder_listing(
    options: Mapping[str, Any], bucket: str, folder: str
) -> dict[str, dict[str, Any]] | None:
    """The store's quick lister (``S3.quick_lister``): ``folder`` of ``bucket`` listed with the
    s3fs ``options`` (``{}``: the environment's credentials), or ``None``."""
    from codeferry.timeouts import network_timeouts

    request = request_for(options)
    if request is None:
        return None
    return list_folder(request, bucket, folder, network_timeouts().connect)


def request_for(
    options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ListingRequest | None:
    """How to list with the s3fs ``options`` a bucket's credentials give, or ``None``.

    ``None`` whenever botocore could resolve something differently: a profile, client settings
    (``config``, ``verify``, an API version), keys or a region it would read from ``~/.aws``, or
    an instance role.
    """
    env = os.environ if environ is None else environ
    client = options.get("client_kwargs") or {}
    if set(options) - _PLAIN_OPTIONS or set(client) - {"region_name"}:
        return None
    keys = (None, None, None) if options.get("anon") else _keys(options, env)
    if keys is None:
        return None
    region = client.get("region_name") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    endpoint = (
        options.get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    )
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            return None
        if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            return None
        scheme, host, port, path_style = parts.scheme, parts.hostname, parts.port, True
        region = region or "us-east-1"  # botocore's for an endpoint of its own
    elif region:
        scheme = "https" if options.get("use_ssl", True) else "http"
        host, port, path_style = f"s3.{region}.amazonaws.com", None, False
    else:
        return None  # the region would come from ~/.aws/config, or from the bucket
    return ListingRequest(scheme, host, port, path_style, region, *keys)


def _keys(options: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """The key, secret and token botocore would sign with, if they are given, else ``None``."""
    key, secret, token = options.get("key"), options.get("secret"), options.get("token")
    if key is None:
        if env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE"):
            return None  # which of the profile and the variables wins is botocore's to say
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
    if not (key and secret):
        return None
    return key, secret, token or None


def sign(
    request: ListingRequest,
    path: str,
    query: Mapping[str, str],
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers of a signed ``GET path?query`` (AWS Signature Version 4, empty body)."""
    headers = {"host": request.host_header, "x-amz-content-sha256": _EMPTY_SHA256}
    if request.key is None or request.secret is None:
        return headers
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers["x-amz-date"] = stamp
    if request.token:
        headers["x-amz-security-token"] = request.token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            quote(path, safe="/" + _UNRESERVED),
            _query_string(query),
            "".join(f"{name}:{headers[name].strip()}\n" for name in names),
            ";".join(names),
            _EMPTY_SHA256,
        ]
    )
    scope = f"{stamp[:8]}/{request.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = ("AWS4" + request.secret).encode()
    for part in scope.split("/"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={request.key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def list_folder(
    request: ListingRequest, bucket: str, folder: str, timeout: float | None
) -> dict[str, dict[str, Any]] | None:
    """Every key under ``folder/`` of ``bucket`` as s3fs's ``find`` names and describes it
    (``name``, ``size``, ``ETag``), or ``None`` on any failure. Each wait is at most ``timeout``."""
    from codeferry.remote.quick_http import MAX_PAGES, child_text, children, connection, get_xml

    virtual = not request.path_style and _DNS_BUCKET.match(bucket) is not None
    if virtual:
        request = dataclasses.replace(request, host=f"{bucket}.{request.host}")
    path = "/" if virtual else f"/{bucket}"
    query = {"encoding-type": "url", "list-type": "2", "prefix": f"{folder}/" if folder else ""}
    entries: dict[str, dict[str, Any]] = {}
    cafile = os.environ.get("AWS_CA_BUNDLE")
    with connection(request.scheme, request.host, request.port, timeout, cafile) as client:
        for _ in range(MAX_PAGES):
            target = f"{quote(path, safe='/' + _UNRESERVED)}?{_query_string(query)}"
            page = get_xml(client, target, sign(request, path, query))
            if page is None:
                return None
            for item in children(page, "Contents"):
                key, size, etag = (child_text(item, name) for name in ("Key", "Size", "ETag"))
                if key is None or size is None or not size.isdigit() or etag is None:
                    return None
                name = f"{bucket}/{unquote_plus(key)}"
                entries[name] = {"name": name, "size": int(size), "ETag": etag, "type": "file"}
            if child_text(page, "IsTruncated") != "true":
                return entries
            token = child_text(page, "NextContinuationToken")
            if not token:
                return None
            query["continuation-token"] = token
    return None


def _query_string(query: Mapping[str, str]) -> str:
    return "&".join(
        f"{quote(name, safe=_UNRESERVED)}={quote(value, safe=_UNRESERVED)}"
        for name, value in sorted(query.items())
    )
