"""What a git pull reports while it runs: the pack arriving, then the files written.

The seam between the transfer and the display is :class:`PackProgress`: whatever receives the
pack data calls :meth:`PackProgress.received` with each piece of it, in order, and nothing else
needs to know about the display. :func:`report_pack_data` makes a dulwich client do so. The files
written from the tree are reported by :class:`~codeferry_git.trees.TreeWriter` to the
:class:`~codeferry.progress.TransferProgress` it is given.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dulwich.client import GitClient

    from codeferry.progress import TransferProgress

__all__ = ["PackProgress", "report_pack_data"]

_HEADER = struct.Struct(">4sLL")  # "PACK", version, number of objects


class PackProgress:
    """Counts the bytes of a pack as it arrives, and reads its object count from its header.

    :param progress: where the counts go; its description gains the object count once known.
    """

    def __init__(self, progress: TransferProgress) -> None:
        self._progress = progress
        self._described = progress.description
        self._head = b""
        self.objects: int | None = None

    def received(self, data: bytes) -> None:
        """The next piece of pack data arrived."""
        if self.objects is None and len(self._head) < _HEADER.size:
            self._head += data[: _HEADER.size - len(self._head)]
            if len(self._head) == _HEADER.size:
                magic, _, count = _HEADER.unpack(self._head)
                if magic == b"PACK":
                    self.objects = count
                    self._progress.describe(f"{self._described}: receiving {count} objects")
        self._progress.advance(len(data))


def report_pack_data(client: GitClient, pack: PackProgress) -> None:
    """Make ``client``'s fetches hand each piece of pack data to ``pack`` as well.

    dulwich's ``fetch`` passes a writer to ``fetch_pack``, its public method for one pack; this
    wraps that writer for this client object only.
    """
    fetch_pack = client.fetch_pack

    def counting_fetch_pack(
        path: Any, determine_wants: Any, graph_walker: Any, pack_data: Any, *args: Any, **kw: Any
    ) -> Any:
        def write(data: bytes) -> Any:
            pack.received(data)
            return pack_data(data)

        return fetch_pack(path, determine_wants, graph_walker, write, *args, **kw)

    client.fetch_pack = counting_fetch_pack  # type: ignore[method-assign]
