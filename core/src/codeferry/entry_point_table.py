"""The installed plugins' entry points, read from package metadata and kept until installs change.

Finding them through :mod:`importlib.metadata` means importing it and reading one file of every
installed distribution, a tenth of a ``codeferry pull`` that has nothing to transfer. So the
table of one entry-point group is kept in the home (``cache/entry-points-*.json``, one file per
Python environment) beside a fingerprint of what is installed: the name and modification time of
every distribution's metadata folder on ``sys.path``. Installing, upgrading, reinstalling or
removing a distribution changes a name or a time (its metadata folder is written anew), so the
next lookup reads the metadata again: a new plugin is seen at once. A metadata folder changed in
the last few seconds may still be being written (or its file system may keep coarse times), so
no table is kept then. When distributions may come from elsewhere (an import hook that finds
distributions), the metadata is read every time.

The cache is only a copy: one that cannot be read or written is ignored.

Without a table (a new home: every fresh container), the ``*.dist-info`` folders pip writes are
read directly: ``entry_points.txt`` of each, and the ``METADATA`` headers of those in the group.
Importing :mod:`importlib.metadata` (and the email parser it brings) would add 2 MB and about 40 ms
to that first command; it still reads anything else on ``sys.path`` (``.egg-info``, zip files).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.digests import sha256

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PluginEntryPoint", "entry_points"]

_FORMAT = 2
_METADATA_SUFFIXES = (".dist-info", ".egg-info")
_SETTLED_NS = 3_000_000_000  # a metadata folder unchanged this long is taken as written


@dataclass(frozen=True)
class PluginEntryPoint:
    """One entry point of a group: its name, its value, and the distribution that declares it."""

    name: str
    value: str
    distribution: str
    version: str | None
    refused: str | None = None
    """Why the distribution cannot run on this codeferry (it is made for another), if it cannot."""


def entry_points(group: str) -> list[PluginEntryPoint]:
    """The entry points of ``group`` of the installed distributions, sorted by name."""
    listings = _listings()
    if listings is None:
        return _read_metadata(group, None)
    fingerprint, newest = _fingerprint(listings)
    cache = _cache_file(group)
    cached = _read_cache(cache, fingerprint)
    if cached is not None:
        return cached
    found = _read_metadata(group, listings)
    if time.time_ns() - newest > _SETTLED_NS:
        _write_cache(cache, fingerprint, found)
    return found


_Listings = list[tuple[str, list[tuple[str, int]]]]
"""Each ``sys.path`` entry with its metadata folders' names and modification times (ns), sorted;
a zip file is one nameless item with the file's time."""


def _listings() -> _Listings | None:
    """What ``sys.path`` holds, read once per lookup; ``None`` when an import hook also finds
    distributions (only :mod:`importlib.metadata` asks it)."""
    import importlib.machinery

    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder:
            return None
    listings: _Listings = []
    for entry in sys.path:
        try:
            with os.scandir(entry or os.curdir) as listing:
                folders = sorted(
                    (item.name, item.stat().st_mtime_ns)
                    for item in listing
                    if item.name.endswith(_METADATA_SUFFIXES)
                )
        except NotADirectoryError:  # a zip file: replaced as a whole
            folders = [("", _modified(entry))]
        except OSError:
            folders = []
        listings.append((entry, folders))
    return listings


def _fingerprint(listings: _Listings) -> tuple[str, int]:
    """What is installed, as a digest, and the newest time in it (nanoseconds).

    Only the ``sys.path`` entries that hold metadata count, in their order: the script's folder
    or the working directory (``python -m codeferry`` run from anywhere) changes nothing.
    """
    digest = sha256(repr((_FORMAT, sys.executable)).encode())
    newest = 0
    for entry, folders in listings:
        if folders:
            newest = max([newest, *(modified for _, modified in folders)])
            digest.update(repr((entry, folders)).encode())
    return digest.hexdigest(), newest


def _read_metadata(group: str, listings: _Listings | None) -> list[PluginEntryPoint]:
    found = None if listings is None else _read_dist_info(group, listings)
    return found if found is not None else _read_with_importlib(group)


def _read_dist_info(group: str, listings: _Listings) -> list[PluginEntryPoint] | None:
    """The group's entry points from the ``*.dist-info`` folders listed, as
    :func:`importlib.metadata.entry_points` gives them (the first distribution of a name wins);
    ``None`` when ``sys.path`` holds another kind of installation (``.egg-info``, a zip file)."""
    seen: set[str] = set()
    found: list[PluginEntryPoint] = []
    for entry, folders in listings:
        for name, _ in folders:
            if not name or name.endswith(".egg-info"):
                return None
            distribution = _normalized(name.partition("-")[0])
            if distribution in seen:
                continue
            seen.add(distribution)
            found += _group_of(Path(entry or os.curdir) / name, group)
    return sorted(found, key=lambda ep: ep.name)


def _group_of(folder: Path, group: str) -> list[PluginEntryPoint]:
    """The entry points of ``group`` one ``*.dist-info`` folder declares."""
    try:
        declared = _section(
            (folder / "entry_points.txt").read_text(encoding="utf-8", errors="replace"), group
        )
    except OSError:
        return []
    if not declared:
        return []
    headers = _headers(folder)
    name = (headers.get("name") or [folder.name.partition("-")[0]])[0]
    version = headers["version"][0] if headers.get("version") else None
    refused = _refusal_of(name, version, headers.get("requires-dist", []))
    return [PluginEntryPoint(key, value, name, version, refused) for key, value in declared]


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of ``[group]`` in an ``entry_points.txt``."""
    entries: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line.strip("[]") == group  # as importlib.metadata reads it
        elif inside:
            key, equals, value = line.partition("=")
            if equals:
                entries.append((key.strip(), value.strip()))
    return entries


def _headers(folder: Path) -> dict[str, list[str]]:
    """The header fields of ``METADATA`` (lower-case names; a field may repeat)."""
    fields: dict[str, list[str]] = {}
    try:
        with (folder / "METADATA").open(encoding="utf-8", errors="replace") as file:
            for line in file:
                if not line.strip():
                    break  # the description follows the headers
                key, colon, value = line.partition(":")
                if colon and not line[0].isspace():
                    fields.setdefault(key.strip().lower(), []).append(value.strip())
    except OSError:
        pass
    return fields


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _read_with_importlib(group: str) -> list[PluginEntryPoint]:
    from importlib import metadata

    return [
        PluginEntryPoint(
            ep.name,
            ep.value,
            ep.dist.name if ep.dist else ep.module,
            ep.dist.version if ep.dist else None,
            _refusal(ep.dist),
        )
        for ep in sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)
    ]


def _refusal(distribution: Any) -> str | None:
    if distribution is None:
        return None
    return _refusal_of(distribution.name, distribution.version, distribution.requires or ())


def _refusal_of(name: str, version: str | None, requires: Iterable[str]) -> str | None:
    """Decided when the table is made: the table is made again when codeferry is upgraded."""
    from codeferry.compatibility import incompatibility

    return incompatibility(name, version, requires)


def _modified(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def _cache_file(group: str) -> Path:
    from codeferry import settings

    environment = sha256(repr((sys.executable, sys.prefix)).encode()).hexdigest()[:16]
    return settings.home_path() / "cache" / f"entry-points-{group}-{environment}.json"


def _read_cache(path: Path, fingerprint: str) -> list[PluginEntryPoint] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != _FORMAT or data["fingerprint"] != fingerprint:
            return None
        return [
            PluginEntryPoint(
                str(name),
                str(value),
                str(dist),
                None if ver is None else str(ver),
                None if refused is None else str(refused),
            )
            for name, value, dist, ver, refused in data["entry_points"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, fingerprint: str, found: list[PluginEntryPoint]) -> None:
    from codeferry import settings

    data = {
        "format": _FORMAT,
        "fingerprint": fingerprint,
        "entry_points": [
            [ep.name, ep.value, ep.distribution, ep.version, ep.refused] for ep in found
        ],
    }
    with contextlib.suppress(OSError):  # a read-only home: the metadata is read each time
        settings.home()  # made private and marked, if this is its first use
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        temporary.replace(path)
