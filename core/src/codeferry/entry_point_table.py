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
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeferry.digests import sha256

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
    installed = _fingerprint()
    if installed is None:
        return _read_metadata(group)
    fingerprint, newest = installed
    cache = _cache_file(group)
    cached = _read_cache(cache, fingerprint)
    if cached is not None:
        return cached
    found = _read_metadata(group)
    if time.time_ns() - newest > _SETTLED_NS:
        _write_cache(cache, fingerprint, found)
    return found


def _read_metadata(group: str) -> list[PluginEntryPoint]:
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
    """Decided when the table is made: the table is made again when codeferry is upgraded."""
    from codeferry.compatibility import incompatibility

    if distribution is None:
        return None
    return incompatibility(distribution.name, distribution.version, distribution.requires or ())


def _fingerprint() -> tuple[str, int] | None:
    """What is installed, as a digest, and the newest time in it (nanoseconds).

    ``None`` when it cannot be told from ``sys.path`` alone.
    """
    import importlib.machinery

    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder:
            return None
    digest = sha256(repr((_FORMAT, sys.executable, sys.path)).encode())
    newest = 0
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
        newest = max([newest, *(modified for _, modified in folders)])
        digest.update(repr((entry, folders)).encode())
    return digest.hexdigest(), newest


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
