"""Griffe extension: the package's reST inline markup, read as mkdocstrings Markdown.

The docstrings are Google style with Sphinx roles (``:class:`~dash_file_cache.CachePlain```,
``:meth:`open```) and reST literals (````x````). At build time, never in the sources:

- a role becomes an autorefs cross-reference (``[`open()`][dash_file_cache.ServiceData.open]``)
  when its target is rendered on a reference page, else inline code (no broken link);
- a target is looked up as Sphinx would: from the documented object outward (its class, its
  module, the enclosing packages), then as a full path; a leading ``.`` starts at the module;
  ``~`` shows the last name only, ``title <target>`` shows the title; methods and functions
  get ``()``;
- a literal becomes a Markdown code span;
- a Dash component's generated "Keyword arguments:" list stays a Markdown list (it is not a
  Google section: its items are ``- name (type; optional):``), each prop name as code.

The rendered objects are the ``::: identifier`` lines of the pages named in ``pages``
(relative to ``docs/``; by default ``reference.md``), with their public members that have a
docstring unless the directive's options say ``members: false``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import griffe

ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|data|mod|exc|obj|const):`([^`]+)`")
LITERAL = re.compile(r"``([^`]+?)``")
DIRECTIVE = re.compile(r"^:::[ \t]+(\S+)[ \t]*\n?((?:[ \t]+\S.*\n?)*)", re.M)
NO_MEMBERS = re.compile(r"^\s*members:\s*(false|\[\])\s*$", re.M)
TITLED = re.compile(r"^(.*?)\s*<([^>]+)>$")
COMPONENT_ARGS = re.compile(r"^Keyword arguments:$", re.M)
COMPONENT_PROP = re.compile(r"^(\s*)- (\w+) \(", re.M)


class RestRoles(griffe.Extension):
    """Rewrite the docstrings of a loaded package for mkdocstrings (see the module)."""

    def __init__(self, pages: Optional[List[str]] = None) -> None:
        super().__init__()
        docs = Path(__file__).resolve().parents[1]
        self.pages = [docs / page for page in pages] if pages else [docs / "reference.md"]

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        rendered = self._rendered(pkg)
        for obj in _walk(pkg):
            docstring = obj.docstring
            if docstring is None:
                continue
            text = docstring.value
            if COMPONENT_ARGS.search(text):
                text = COMPONENT_ARGS.sub("**Keyword arguments:**", text)
                text = COMPONENT_PROP.sub(r"\1- `\2` (", text)
            text = ROLE.sub(functools.partial(_role, owner=obj, rendered=rendered), text)
            docstring.value = LITERAL.sub(r"`\1`", text)

    def _rendered(self, pkg: griffe.Module) -> Dict[str, str]:
        """Canonical path -> the path it is rendered under, for what the pages show."""
        rendered: Dict[str, str] = {}
        for page in self.pages:
            for identifier, options in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
                if identifier.split(".")[0] != pkg.name:
                    continue
                obj = _lookup(pkg, identifier)
                if obj is None:
                    continue
                rendered[obj.path] = identifier
                if NO_MEMBERS.search(options):
                    continue
                for name, member in obj.members.items():
                    member = _target(member)
                    if member is not None and not name.startswith("_") and member.docstring:
                        rendered[member.path] = f"{identifier}.{name}"
        return rendered


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _target(obj: Any) -> Optional[griffe.Object]:
    """The object an alias points to (``None`` if it points outside what was loaded)."""
    try:
        return obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _lookup(pkg: griffe.Module, path: str) -> Optional[griffe.Object]:
    try:
        return _target(pkg.modules_collection[path])
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _resolve(name: str, owner: griffe.Object) -> Optional[griffe.Object]:
    """The object a role names, searched as Sphinx does from ``owner``'s scope."""
    root = owner.package
    if name.startswith("."):
        suffix = name[1:]
        scope: Optional[griffe.Object] = owner.module
        while scope is not None:
            found = _lookup(root, f"{scope.path}.{suffix}")
            if found is not None:
                return found
            scope = scope.parent
        return None
    scope = owner
    while scope is not None:
        found = _lookup(root, f"{scope.path}.{name}")
        if found is not None:
            return found
        scope = scope.parent
    return _lookup(root, name) if name.split(".")[0] == root.name else None


def _role(match: re.Match, owner: griffe.Object, rendered: Dict[str, str]) -> str:
    role, body = match.groups()
    titled = TITLED.match(body)
    if titled:
        title, name = titled.group(1), titled.group(2).lstrip("~")
    else:
        name = body.lstrip("~")
        title = name.split(".")[-1] if body.startswith("~") else name.lstrip(".")
    if role in ("meth", "func") and not titled and not title.endswith(")"):
        title += "()"
    obj = _resolve(name, owner)
    if obj is not None and obj.path in rendered:
        return f"[`{title}`][{rendered[obj.path]}]"
    return f"`{title}`"
