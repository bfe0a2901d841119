"""Write ``docs/backends.md`` from the plugins' READMEs: ``python docs/gen_backends.py``.

Each plugin documents itself in ``plugins/<name>/README.md`` (what PyPI shows); this page puts
them together for the site. ``tests/core/test_docs.py`` checks that it is current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = Path(__file__).with_name("backends.md")
# The order a reader meets them in: the model plugin, git and its hosts, blobs, images.
ORDER = ("local", "git", "github", "gitlab", "bitbucket", "s3", "azure", "gcs", "docker")


def render() -> str:
    """The backends page, in Markdown."""
    parts = [
        "# Storage backends",
        "",
        "Each backend is a plugin distribution of its own: install the ones a worker needs "
        "(`pip install codeferry-s3`), and `codeferry plugins ls` shows what each provides. "
        "Generated from the plugins' READMEs by `python docs/gen_backends.py`.",
    ]
    for name in ORDER:
        text = (ROOT / "plugins" / name / "README.md").read_text()
        text = text.replace("(https://pypi.org/project/codeferry/)", "(index.md)")
        # One level down: the page has the only top-level heading.
        text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.MULTILINE)
        parts += ["", text.strip()]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if PAGE.read_text() == render() else 1)
    PAGE.write_text(render())
