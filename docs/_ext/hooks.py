"""MkDocs hooks: the changelog page shows ``CHANGES.md`` from the repository root.

On GitHub ``docs/changelog.md`` only points at ``CHANGES.md``; on the site its text is replaced
by that file. ``CHANGES.md`` links to pages as ``docs/<page>.md`` (right from the root); here
those links are made relative to the changelog page, which sits in ``docs/`` itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CHANGES = Path(__file__).resolve().parents[2] / "CHANGES.md"
PAGE = "changelog.md"
DOCS_LINK = re.compile(r"(\]:?\s*\(?)docs/")


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return DOCS_LINK.sub(r"\1", CHANGES.read_text(encoding="utf-8"))
