"""Layers point one way: the caches import no web framework, the services' modules
only in their own adapter, and the HTTP decisions no cache module (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dash_file_cache"
FRAMEWORKS = ("flask", "quart", "starlette", "fastapi")


def module_imports(path: Path) -> Iterator[Tuple[str, int]]:
    """``(module, level)`` of every import at the top level of a module (not in functions)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            yield from ((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


@pytest.mark.parametrize("path", sorted((PACKAGE / "caches").glob("*.py")), ids=lambda p: p.name)
def test_caches_import_no_framework(path: Path) -> None:
    names = [name for name, level in module_imports(path) if level == 0]
    assert not [n for n in names if n.split(".")[0] in FRAMEWORKS], path


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_import_flask_only_in_its_adapter(path: Path) -> None:
    if path.name == "_flask.py":
        pytest.skip("the Flask adapter")
    names = [name for name, level in module_imports(path) if level == 0]
    assert not [n for n in names if n.split(".")[0] == "flask"], path


@pytest.mark.parametrize("name", ["http.py", "conditional.py", "security.py", "cors.py"])
def test_http_decisions_import_no_cache(name: str) -> None:
    modules = [m for m, level in module_imports(PACKAGE / "services" / name) if level]
    assert not [m for m in modules if m.split(".")[0] == "caches"], modules
