"""Where the remote engine's :class:`~codeferry.progress.TransferProgress` used to live.

The progress API is :mod:`codeferry.progress`, shared by every storage; import it from there.
"""

from __future__ import annotations

from codeferry.progress import TransferProgress

__all__ = ["TransferProgress"]
