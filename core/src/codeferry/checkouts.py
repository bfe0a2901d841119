"""Where pulled code lands: versioned folders beside each other, switched atomically.

A checkout is a folder in the codeferry home::

    <root>/.lock                 serialises pulls (several workers on one host)
    <root>/current -> versions/<id>  the version in use; replaced atomically (the commit point)
    <root>/versions/<id>/        one complete tree per version
    <root>/versions/<id>.json    its version, source, and the plugin's state for the next pull
    <root>/cache/                kept between pulls for the plugin (a git object store, say)
    <root>/staging-*             a pull in progress; removed by the next pull if it was killed

An explicit destination folder becomes a symbolic link to ``<root>/current``. A program runs from
its version's own folder, so a later pull never changes files under it; versions in use (see
:meth:`Checkout.use`) are never cleaned up.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from codeferry import settings
from codeferry.errors import PullError
from codeferry.storage import FetchResult, PullContext, PullResult

if TYPE_CHECKING:
    from collections.abc import Iterator

    from codeferry.storage import CodeStorage

__all__ = ["Checkout", "CheckoutVersion", "hold_version", "link_version"]

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-use detection falls back to keep-N only
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class CheckoutVersion:
    """One pulled version in a checkout."""

    id: str
    directory: Path
    version: str
    state: dict[str, Any]


class Checkout:
    """A folder of pulled versions of one source, with one current version.

    :param keep: how many versions to keep, the current one included. A pull makes room for its
        new version while it fetches, so an unchanged or failed pull may leave one fewer.
    """

    def __init__(self, root: str | Path, *, link: str | Path | None = None, keep: int = 3) -> None:
        self.root = Path(root)
        self.link = Path(link) if link is not None else None
        self.keep = max(keep, 1)
        self.versions_dir = self.root / "versions"
        self.cache_dir = self.root / "cache"
        self.current_link = self.root / "current"

    @classmethod
    def for_storage(
        cls, storage: CodeStorage, destination: str | Path | None = None, *, keep: int = 3
    ) -> Checkout:
        """The checkout for ``storage``: its own folder in the home, or behind ``destination``."""
        if destination is None:
            key = storage.checkout_key()
            label = _UNSAFE_CHARS.sub("-", str(storage).split("://")[-1]).strip("-")[:40]
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            return cls(settings.checkouts_dir() / f"{label or 'source'}-{digest}", keep=keep)
        link = Path(destination).expanduser().absolute()
        digest = hashlib.sha256(str(link).encode()).hexdigest()[:16]
        root = settings.checkouts_dir() / f"dest-{_UNSAFE_CHARS.sub('-', link.name)}-{digest}"
        return cls(root, link=link, keep=keep)

    @property
    def current(self) -> CheckoutVersion | None:
        """The version checked out now, or ``None`` before the first pull."""
        try:
            target = self.current_link.readlink()
        except FileNotFoundError:
            return None
        directory = (self.root / target).resolve()
        meta = json.loads(directory.with_name(directory.name + ".json").read_text())
        return CheckoutVersion(directory.name, directory, meta["version"], meta.get("state", {}))

    def versions(self) -> list[CheckoutVersion]:
        """Every version this checkout still holds, newest first (the current one among them).

        For tools that run code on a version chosen earlier (an Airflow task on the bundle version
        its DAG run started with): hold the one picked with :meth:`use` before reading it, since
        cleanup may remove a version that is not in use.
        """
        if not self.versions_dir.is_dir():
            return []
        found = []
        for directory in sorted(self.versions_dir.iterdir(), reverse=True):
            meta = directory.with_name(directory.name + ".json")
            if not directory.is_dir():
                continue
            try:
                data = json.loads(meta.read_text())
            except (FileNotFoundError, ValueError):
                continue  # removed, or being removed, by a concurrent cleanup
            found.append(
                CheckoutVersion(directory.name, directory, data["version"], data.get("state", {}))
            )
        return found

    def pull(self, storage: CodeStorage) -> PullResult:
        """Pull ``storage`` into a new version and switch to it, or keep the current one."""
        self._check_link()
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(exist_ok=True)
        with FileLock(self.root / ".lock"):
            self._remove_leftovers()
            current = self.current
            staging = self.root / f"staging-{uuid.uuid4().hex}"
            staging.mkdir()
            context = PullContext(
                target=staging,
                previous=current.directory if current else None,
                previous_version=current.version if current else None,
                previous_state=current.state if current else {},
                cache_dir=self.cache_dir,
            )
            # Versions the new one will push out are removed while the fetch waits on the network.
            sweeper = threading.Thread(
                target=self._remove_versions, args=(self._old_versions(current, room=1),)
            )
            sweeper.start()  # joined below; with nothing to remove it ends at once
            try:
                result = storage.fetch(context)
                if not isinstance(result, FetchResult):
                    raise PullError(f"{type(storage).__name__}.fetch returned {result!r}")
                if result.unchanged and current is not None:
                    shutil.rmtree(staging)
                    self._ensure_link()
                    return PullResult(current.directory, current.version, 0, 0, False, str(storage))
                directory = self._commit(staging, storage, result)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            finally:
                sweeper.join()
            self._ensure_link()
            self._clean_old_versions()
        return PullResult(directory, result.version, result.files, result.bytes, True, str(storage))

    @contextlib.contextmanager
    def use(self, directory: Path | None = None) -> Iterator[Path]:
        """Hold a version (default: the current one) so cleanup never removes it while in use."""
        version_dir = directory or (self.current.directory if self.current else None)
        if version_dir is None:
            raise PullError(f"nothing has been pulled into {self.link or self.root} yet")
        meta = version_dir.with_name(version_dir.name + ".json")
        with meta.open("rb") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_SH)
            yield version_dir

    # -- internals -----------------------------------------------------------------------------

    def _commit(self, staging: Path, storage: CodeStorage, result: FetchResult) -> Path:
        version_id = f"{time.time_ns():x}-{_UNSAFE_CHARS.sub('-', result.version)[:12]}"
        directory = self.versions_dir / version_id
        meta = {
            "version": result.version,
            "source": str(storage),
            "pulled_at": time.time(),
            "files": result.files,
            "bytes": result.bytes,
            "state": dict(result.state),
        }
        directory.with_name(version_id + ".json").write_text(json.dumps(meta))
        staging.rename(directory)
        temporary = self.root / f"current-{uuid.uuid4().hex}"
        temporary.symlink_to(Path("versions") / version_id)
        temporary.replace(self.current_link)  # the commit point
        return directory

    def _check_link(self) -> None:
        """Refuse to replace a destination that holds something not ours (it would be lost)."""
        link = self.link
        if link is None or link.is_symlink() or not link.exists():
            return
        if link.is_dir() and not any(link.iterdir()):
            return
        raise PullError(
            f"destination {link} already exists and is not a codeferry checkout; "
            "give a new or empty folder"
        )

    def _ensure_link(self) -> None:
        link = self.link
        if link is None:
            return
        target = self.current_link
        if link.is_symlink() and link.readlink() == target:
            return
        if link.is_dir() and not link.is_symlink():
            link.rmdir()  # empty, checked before the pull
        link.parent.mkdir(parents=True, exist_ok=True)
        temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex}")
        temporary.symlink_to(target)
        temporary.replace(link)

    def _remove_leftovers(self) -> None:
        """Remove what a killed pull left: staging folders, temporary links, orphan versions."""
        for path in self.root.iterdir():
            if path.name.startswith("staging-"):
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith("current-"):
                path.unlink(missing_ok=True)
        for meta in self.versions_dir.glob("*.json"):
            if not meta.with_suffix("").exists():
                meta.unlink(missing_ok=True)
        if self.link is not None and self.link.parent.is_dir():
            # A pull killed in _ensure_link leaves its temporary link beside --dest.
            for path in self.link.parent.glob(f".{glob.escape(self.link.name)}.*"):
                if path.is_symlink() and path.readlink() == self.current_link:
                    path.unlink(missing_ok=True)

    def _clean_old_versions(self) -> None:
        self._remove_versions(self._old_versions(self.current))

    def _old_versions(self, current: CheckoutVersion | None, room: int = 0) -> list[Path]:
        """The oldest versions beyond :attr:`keep` (less ``room`` for versions to come).

        Never the current one; versions in use are skipped when removed.
        """
        versions = sorted(p for p in self.versions_dir.iterdir() if p.is_dir())
        old = versions[: max(len(versions) - (self.keep - room), 0)]
        return [d for d in old if current is None or d.name != current.id]

    def _remove_versions(self, directories: list[Path]) -> None:
        for directory in directories:
            meta = directory.with_name(directory.name + ".json")
            with contextlib.ExitStack() as stack:
                if fcntl is not None and meta.exists():
                    handle = stack.enter_context(meta.open("rb"))
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a program is running from this version
                shutil.rmtree(directory, ignore_errors=True)
                meta.unlink(missing_ok=True)


@contextlib.contextmanager
def hold_version(path: str | Path) -> Iterator[Path]:
    """Hold the checkout version ``path`` is in (if it is in one) while the block runs.

    For code found through a step's ``directory`` output, which may be a version folder or a
    folder inside one; a path in no checkout is yielded as it is.
    """
    resolved = Path(path).resolve()
    for candidate in (resolved, *resolved.parents):
        if candidate.parent.name != "versions":
            continue
        meta = candidate.with_name(candidate.name + ".json")
        if meta.is_file():
            with Checkout(candidate.parent.parent).use(candidate):
                yield Path(path)
            return
    yield Path(path)


def link_version(directory: str | Path, target: str | Path) -> Path:
    """Copy the checkout version in ``directory`` to ``target`` with hard links; ``target``.

    For tools that keep their own copy of a version (Airflow's per-task bundle folders, Prefect's
    ``get_directory``): a version's files are never changed in place (a pull writes new files
    and links the unchanged ones), so links copy it at once and take no space. Files are copied
    where links cannot be made (another file system). ``target`` may exist: what it holds under
    the same names is replaced. The version is held (see :func:`hold_version`) while it is read.
    """
    destination = Path(target)
    with hold_version(directory) as source:
        shutil.copytree(
            source, destination, symlinks=True, dirs_exist_ok=True, copy_function=_link_or_copy
        )
    return destination


def _link_or_copy(source: str, destination: str) -> None:
    Path(destination).unlink(missing_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
