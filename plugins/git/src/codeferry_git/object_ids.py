"""dulwich's typed object ids and ref names, made from the plain strings codeferry-git keeps.

dulwich types both as ``NewType`` over ``bytes``. These casts are the one place a hexadecimal
string or a ref name becomes one: nothing is checked here, and dulwich is not imported at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from dulwich.objects import ObjectID
    from dulwich.refs import Ref

__all__ = ["object_id", "ref_name"]


def object_id(sha: str) -> ObjectID:
    """The hexadecimal object id ``sha`` as dulwich's ``ObjectID``."""
    return cast("ObjectID", sha.encode("ascii"))


def ref_name(name: str) -> Ref:
    """The ref ``name`` (such as ``refs/heads/main``) as dulwich's ``Ref``."""
    return cast("Ref", name.encode())
