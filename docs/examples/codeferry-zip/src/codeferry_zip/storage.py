"""A zip archive as code storage: members whose CRC did not change are reused, not unpacked."""

from __future__ import annotations

import shutil
import zipfile
from typing import Any, ClassVar

from codeferry import Block, CodeStorage, FetchResult, PullContext
from codeferry.errors import PullError
from codeferry.paths import is_git_path
from codeferry.progress import TransferProgress


class ZipArchive(CodeStorage, Block):
    """A zip archive on this machine that holds code."""

    block_type_slug: ClassVar[str] = "zip-archive"
    block_type_name: ClassVar[str] = "Zip Archive"
    path: str

    def __str__(self) -> str:
        return f"zip://{self.path}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"codeferry_zip.storage.pull_from_zip": {"path": self.path}}

    def fetch(self, context: PullContext) -> FetchResult:
        try:
            archive = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as error:
            raise PullError(f"cannot open {self}: {error}") from None
        with archive:
            # Git's folder is never pulled; path_for refuses ../ and absolute names.
            members = [m for m in archive.infolist() if not (m.is_dir() or is_git_path(m.filename))]
            crcs = {m.filename: m.CRC for m in members}
            version = f"{sum(crcs.values()):x}-{len(crcs)}"
            if crcs == context.previous_state.get("crcs"):
                return context.unchanged()
            files = size = 0
            total = sum(m.file_size for m in members)
            progress = TransferProgress(f"pull {self}", files=len(members), total_bytes=total)
            with progress:
                for member in members:
                    target = context.path_for(member.filename)  # refuses ../ and absolute names
                    known_crc = context.previous_state.get("crcs", {}).get(member.filename)
                    if known_crc != member.CRC or not context.reuse(member.filename):
                        with archive.open(member) as reader, target.open("wb") as writer:
                            shutil.copyfileobj(reader, writer)
                        files, size = files + 1, size + member.file_size
                    progress.advance(member.file_size, files=1)  # a bar only if it is long
        return FetchResult(version, files, size, state={"crcs": crcs})


def pull_from_zip(path: str) -> dict[str, Any]:
    """Pull the code in the zip archive at ``path``. Outputs: ``directory``, ``version``."""
    return ZipArchive(path=path).pull_code().as_dict()
