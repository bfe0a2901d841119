"""Where pulled code lands: versioned folders beside each other, switched atomically.

A checkout is a folder in the codeferry home::

    <root>/.lock                 serialises pulls (several workers on one host)
    <root>/.lock.holder          who holds it (see :mod:`codeferry.pull_lock`)
    <root>/current -> versions/<id>  the version in use; replaced atomically (the commit point)
    <root>/versions/<id>/        one complete tree per version
    <root>/versions/<id>.json    its version, source, and the plugin's state for the next pull
    <root>/cache/                kept between pulls for the plugin (a git object store, say)
    <root>/staging-*             a pull in progress; removed by the next pull if it was killed

An explicit destination folder becomes a symbolic link to ``<root>/current``; it serves one source
(the storage's :meth:`~codeferry.CodeStorage.checkout_key`, recorded with each version): pulling
another source into it is refused unless the pull says to replace it. A symbolic link codeferry did
not make is never replaced. A program runs from its version's own folder, so a later pull never
changes files under it; versions in use (see :meth:`Checkout.use`) are never cleaned up.

A version's files are read-only, and each one's size and modification time are recorded when the
version is committed: a later pull reuses only files that still match (see :mod:`codeferry.reuse`).
An operating-system failure during a pull (disk full, read-only file system, permissions) is a
:class:`~codeferry.errors.PullError` naming the cause and the file; the current version stays.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry import settings
from codeferry.digests import sha256
from codeferry.errors import PullError, describe_os_error
from codeferry.home import mark
from codeferry.pull_lock import pull_lock
from codeferry.reuse import intact, seal
from codeferry.storage import FetchResult, PullContext, PullResult

if TYPE_CHECKING:
    from collections.abc import Iterator

    from codeferry.storage import CodeStorage

__all__ = [
    "Checkout",
    "CheckoutVersion",
    "destination_path",
    "hold_version",
    "link_target",
    "link_version",
]

log = logging.getLogger(__name__)

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-use detection falls back to keep-N only
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class CheckoutVersion:
    """One pulled version in a checkout.

    ``source`` names the storage it was pulled from and ``key`` is that storage's
    :meth:`~codeferry.CodeStorage.checkout_key` (``None`` for versions pulled before it was
    recorded); ``stamps`` are its files' sizes and modification times when it was committed
    (``None`` for versions committed before they were recorded).
    """

    id: str
    directory: Path
    version: str
    state: dict[str, Any]
    source: str = ""
    key: str | None = None
    stamps: dict[str, list[int]] | None = field(default=None, repr=False)

    def same_source(self, storage: CodeStorage) -> bool:
        """Whether this version was pulled from ``storage`` (the same place, not the same code)."""
        if self.key is not None:
            return self.key == storage.checkout_key()
        return self.source == str(storage)


def destination_path(destination: str | Path) -> Path:
    """``destination`` as an absolute path, its folders resolved (``../x`` is ``/abs/x``).

    The last component is kept as it is: it may be a link codeferry made.
    """
    path = Path(destination).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if path.name in {"", ".", ".."}:
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def link_target(link: Path) -> Path | None:
    """Where the symbolic link ``link``, which codeferry made, leads; ``None`` for no link.

    :raises PullError: ``link`` is a symbolic link codeferry did not make: it leads neither into
        the codeferry home nor to a checkout's current version (a checkout may live elsewhere, as
        an Airflow bundle's does). It is never replaced, since it may be the user's.
    """
    try:
        raw = link.readlink()
    except OSError as error:
        if error.errno in {errno.ENOENT, errno.EINVAL}:
            return None  # missing, or not a link
        raise
    target = Path(os.path.normpath(link.parent / raw))
    home = Path(os.path.realpath(settings.home()))
    resolved = Path(os.path.realpath(target.parent)).joinpath(target.name)
    if not resolved.is_relative_to(home) and _checkout_of(resolved) is None:
        raise PullError(
            f"destination {link} is a symbolic link that codeferry did not make (to {raw}); "
            "remove it or give another folder"
        )
    return target


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
            digest = sha256(key.encode()).hexdigest()[:16]
            return cls(settings.checkouts_dir() / f"{label or 'source'}-{digest}", keep=keep)
        link = destination_path(destination)
        digest = sha256(str(link).encode()).hexdigest()[:16]
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
        return _version(directory, meta)

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
            found.append(_version(directory, data))
        return found

    def pull(self, storage: CodeStorage, *, replace: bool = False) -> PullResult:
        """Pull ``storage`` into a new version and switch to it, or keep the current one.

        :param replace: the checkout may hold another source; it is replaced by this one.
            Without it, a checkout of another source is refused.
        :raises PullError: the pull failed (the current version stays), a destination is not
            codeferry's, or it holds another source.
        """
        try:
            return self._pull(storage, replace)
        except OSError as error:
            where = self.link or self.root
            raise PullError(
                f"cannot pull {storage} into {where}: {describe_os_error(error)}"
            ) from None

    def _pull(self, storage: CodeStorage, replace: bool) -> PullResult:
        self._check_link(storage, replace)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(exist_ok=True)
        mark(self.root)
        with pull_lock(self.root / ".lock", str(self.link or self.root)):
            self._remove_leftovers()
            current = self.current
            previous = self._previous(current, storage, replace)
            staging = self.root / f"staging-{_unique()}"
            staging.mkdir()
            # Versions the new one will push out are removed while the fetch waits on the network.
            sweeper = threading.Thread(
                target=self._remove_versions, args=(self._old_versions(current, room=1),)
            )
            sweeper.start()  # joined below; with nothing to remove it ends at once
            try:
                log.info("pulling %s into %s", storage, self.link or self.root)
                context = self._context(staging, previous)
                result = _fetch(storage, context)
                if result.unchanged and previous is not None:
                    stamps = previous.stamps
                    if stamps is not None and intact(previous.directory, stamps):
                        log.info("%s is unchanged: keeping version %s", storage, previous.version)
                        shutil.rmtree(staging)
                        self._ensure_link()
                        return PullResult(
                            previous.directory, previous.version, 0, 0, False, str(storage)
                        )
                    # Its files were edited (or it predates their record): fetch it all again.
                    log.info("files of %s were changed in place: pulling it whole", storage)
                    shutil.rmtree(staging)
                    staging.mkdir()
                    context = self._context(staging, None)
                    result = _fetch(storage, context)
                directory = self._commit(staging, storage, result, context)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            finally:
                sweeper.join()
            self._ensure_link()
            self._clean_old_versions()
        log.info(
            "%s: version %s in %s (%d files, %d bytes transferred)",
            storage,
            result.version,
            directory,
            result.files,
            result.bytes,
        )
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

    def _previous(
        self, current: CheckoutVersion | None, storage: CodeStorage, replace: bool
    ) -> CheckoutVersion | None:
        """The version a pull of ``storage`` builds on: the current one, if of the same source."""
        if current is None or current.same_source(storage):
            return current
        if not replace:
            raise PullError(_another_source(self.link or self.root, current.source, storage))
        # Nothing of another source is reused, not even its cache.
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        self.cache_dir.mkdir()
        return None

    def _context(self, staging: Path, previous: CheckoutVersion | None) -> PullContext:
        return PullContext(
            target=staging,
            previous=previous.directory if previous else None,
            previous_version=previous.version if previous else None,
            previous_state=previous.state if previous else {},
            cache_dir=self.cache_dir,
            previous_files=(previous.stamps or {}) if previous else {},
        )

    def _commit(
        self, staging: Path, storage: CodeStorage, result: FetchResult, context: PullContext
    ) -> Path:
        reused = context.reused_files()
        version_id = f"{time.time_ns():x}-{_UNSAFE_CHARS.sub('-', result.version)[:12]}"
        directory = self.versions_dir / version_id
        meta = {
            "version": result.version,
            "source": str(storage),
            "key": storage.checkout_key(),
            "pulled_at": time.time(),
            "files": result.files,
            "bytes": result.bytes,
            "state": dict(result.state),
            "stamps": seal(staging, reused),
        }
        directory.with_name(version_id + ".json").write_text(json.dumps(meta))
        staging.rename(directory)
        temporary = self.root / f"current-{_unique()}"
        temporary.symlink_to(Path("versions") / version_id)
        temporary.replace(self.current_link)  # the commit point
        return directory

    def _check_link(self, storage: CodeStorage, replace: bool) -> None:
        """Refuse a destination that is not ours (it would be lost), or is our link to another
        source's checkout (unless ``replace``).
        """
        link = self.link
        if link is None:
            return
        target = link_target(link)
        if target is not None:
            served = _checkout_of(target)
            if served is None or served.root == self.root or replace:
                return
            current = served.current
            if current is not None and not current.same_source(storage):
                raise PullError(_another_source(link, current.source, storage))
            return
        if not link.exists() or (link.is_dir() and not any(link.iterdir())):
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
        temporary = link.with_name(f".{link.name}.{_unique()}")
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
                        log.debug("keeping old version %s: a program runs from it", directory)
                        continue  # a program is running from this version
                log.debug("removing old version %s", directory)
                shutil.rmtree(directory, ignore_errors=True)
                meta.unlink(missing_ok=True)


def _unique() -> str:
    """A name part no other pull picks (what uuid4 gives, without importing uuid and platform)."""
    return os.urandom(16).hex()


def _another_source(where: Path, held: str, storage: CodeStorage) -> str:
    wanted = str(storage)
    if wanted == held:
        wanted += " (with other settings)"
    return (
        f"destination {where} holds {held or 'another source'}, not {wanted}; pull with replace "
        "(--replace, or replace: true in a step) to replace it"
    )


def _checkout_of(path: Path) -> Checkout | None:
    """The checkout whose ``current`` link or version folder ``path`` is, if any."""
    if path.name == "current" and (path.parent / "versions").is_dir():
        return Checkout(path.parent)
    if path.parent.name == "versions" and path.with_name(path.name + ".json").is_file():
        return Checkout(path.parent.parent)
    return None


def _fetch(storage: CodeStorage, context: PullContext) -> FetchResult:
    result = storage.fetch(context)
    if not isinstance(result, FetchResult):
        raise PullError(f"{type(storage).__name__}.fetch returned {result!r}")
    return result


def _version(directory: Path, meta: dict[str, Any]) -> CheckoutVersion:
    """The version in ``directory``, from what its ``.json`` records."""
    return CheckoutVersion(
        directory.name,
        directory,
        meta["version"],
        meta.get("state", {}),
        meta.get("source", ""),
        meta.get("key"),
        meta.get("stamps"),
    )


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
