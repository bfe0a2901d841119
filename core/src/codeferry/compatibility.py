"""Which codeferry a plugin was made for: the range its distribution declares, checked at load.

A plugin is made against one minor line of codeferry and says so in its requirements
(``codeferry>=0.1,<0.2``, which :func:`core_requirement` writes and ``codeferry plugins new``
puts in a new plugin). pip keeps the two in step, but an install with ``--no-deps``, a
``--target`` folder or an upgrade that ignored a conflict can still put a plugin beside a
codeferry outside its range. Such a plugin is not imported: ``codeferry plugins ls`` and every
error about what it would have provided say which range it declares and which codeferry runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from codeferry import __version__

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["core_requirement", "incompatibility"]

# A requirement on codeferry itself (not codeferry-git): the name, optional extras, then the
# version specifier (PEP 508, old parenthesised form included) and an optional marker.
_CORE_REQUIREMENT = re.compile(
    r"^\s*codeferry(?![-_.\w])\s*(?:\[[^\]]*\])?"  # the name, not codeferry-git; extras
    r"\s*\(?(?P<specifier>[^;()]*)\)?"  # the specifier, parenthesised or not
    r"\s*(?:;(?P<marker>.*))?$",
    re.IGNORECASE,
)


def core_requirement(version: str = __version__) -> str:
    """The requirement a plugin made against codeferry ``version`` declares: its minor line.

    ``core_requirement("0.1.3") == "codeferry>=0.1,<0.2"``.
    """
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    return f"codeferry>={major}.{minor},<{major}.{minor + 1}"


def incompatibility(
    name: str,
    made: str | None,
    requires: Iterable[str],
    version: str = __version__,
) -> str | None:
    """Why the distribution ``name`` ``made`` cannot run on codeferry ``version``, or ``None``.

    :param requires: its requirements (``Requires-Dist``). Only a requirement on codeferry that
        applies to a plain install (no extra's marker) counts; a distribution that declares none
        is not refused.
    """
    for requirement in requires:
        declared = _core_specifier(requirement)
        if declared is None:
            continue
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            specifiers = SpecifierSet(declared)
            # A pre-release or development build of codeferry (0.2.0rc1) has the API of its
            # release: it runs what is made for 0.2, as core_requirement writes it there.
            release = Version(version).base_version
        except (InvalidSpecifier, InvalidVersion):
            continue  # pip would not have installed it; not ours to judge
        if not specifiers.contains(release, prereleases=True):
            return (
                f"{name} {made} is made for codeferry{declared}, and this is "
                f"codeferry {version}: install the release of {name} made for it "
                f"(pip install -U {name}) or a codeferry in that range"
            )
    return None


def _core_specifier(requirement: str) -> str | None:
    """The specifier of a requirement on codeferry that applies to a plain install."""
    match = _CORE_REQUIREMENT.match(requirement)
    if match is None:
        return None
    marker = match["marker"]
    if marker and marker.strip():
        from packaging.markers import InvalidMarker, Marker

        try:
            if not Marker(marker).evaluate({"extra": ""}):
                return None
        except InvalidMarker:
            return None
    return "".join(match["specifier"].split())
