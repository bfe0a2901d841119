"""The ``pull_with_block`` step: pull the code a saved storage block points at (Prefect's step)."""

from __future__ import annotations

from typing import Any

from codeferry.errors import PullError

__all__ = ["pull_with_block"]


def pull_with_block(block_document_name: str, block_type_slug: str) -> dict[str, Any]:
    """Pull the code of the storage block saved as ``block_type_slug``/``block_document_name``.

    The block is any saved block that is a storage (``s3-bucket``, ``gcs-bucket``,
    ``git-repository``, ``local-directory``...); its code lands in its checkout, incrementally
    and atomically, as ``codeferry pull block:SLUG/NAME`` does.

    Outputs: ``directory`` (where the code is, as in Prefect), and ``version``, ``files``,
    ``bytes``, ``changed``, ``source``.

    :raises BlockNotFoundError: no such block is saved.
    :raises PullError: the block is not a storage.
    """
    from codeferry.blocks import load_block
    from codeferry.storage import CodeStorage

    reference = f"{block_type_slug}/{block_document_name}"
    block = load_block(reference)
    if not isinstance(block, CodeStorage):
        raise PullError(
            f"block {reference} is a {type(block).block_type_name}, which holds no code to pull; "
            "pull_with_block takes a storage block (s3-bucket, git-repository...)"
        )
    return block.pull_code().as_dict()
