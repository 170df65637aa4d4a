"""MkDocs hooks: the changelog page shows ``CHANGES.md`` from the repository root.

``CHANGES.md`` links to pages as ``docs/<page>.md`` (right on GitHub); on the site those links
are made relative to the changelog page, which sits in ``docs/`` itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CHANGES = Path(__file__).resolve().parents[2] / "CHANGES.md"
MARKER = (
    "<!-- CHANGES.md: docs/_ext/hooks.py puts the repository's CHANGES.md here at build time. -->"
)
DOCS_LINK = re.compile(r"(\]:?\s*\(?)docs/")


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    changes = DOCS_LINK.sub(r"\1", CHANGES.read_text(encoding="utf-8"))
    return markdown.replace(MARKER, changes)
