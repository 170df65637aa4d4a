"""Every Python code block of README.md, CHANGES.md and the docs pages runs as written.

The pages are found by a glob (``docs/**/*.md``), so a new page is covered without listing it.

Each block is saved as a module and imported in a fresh interpreter (so a block's
``if __name__ == "__main__":`` server does not start). Then its app is exercised:

- a Dash app with a layout: the page and its layout load, and every callback is fired once
  through ``/_dash-update-component`` with the values of the layout (``n_clicks`` as 1);
  each must answer 200 or 204 (a callback calling an undefined helper answers 500), and
  every address a callback returns must serve its bytes;
- a Flask app: each ``POST`` route is called, and the address it returns must serve;
- any other block: importing it must succeed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import List, Tuple

import pytest

from .conftest import ROOT

DOCS = [ROOT / "README.md", ROOT / "CHANGES.md", *sorted((ROOT / "docs").glob("**/*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

DRIVER = r"""
import importlib, json, sys
import dash, flask

sys.path.insert(0, sys.argv[1])
module = importlib.import_module(sys.argv[2])
app = getattr(module, "app", None)
report = {"kind": type(app).__name__, "callbacks": 0, "addresses": 0}


def served(client, address):
    answer = client.get(address)
    assert answer.status_code == 200 and answer.data, (address, answer.status_code)
    report["addresses"] += 1


def value_of(components, ident, prop):
    value = getattr(components.get(ident), prop, None)
    return 1 if value is None and prop == "n_clicks" else value


def parse_outputs(spec):
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    return [dict(zip(("id", "property"), p.rsplit(".", 1))) for p in parts]


if isinstance(app, dash.Dash) and app.layout is not None:
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    layout = app.layout
    components = {getattr(c, "id", None): c for c in [layout, *layout._traverse()]}
    for dep in client.get("/_dash-dependencies").get_json():
        outputs = parse_outputs(dep["output"])
        args = lambda items: [
            {**i, "value": value_of(components, i["id"], i["property"])} for i in items
        ]
        body = {
            "output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": args(dep["inputs"]),
            "state": args(dep["state"]),
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]],
        }
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code in (200, 204), (dep["output"], answer.status_code)
        report["callbacks"] += 1
        if answer.status_code == 200:
            for props in answer.get_json()["response"].values():
                for value in props.values():
                    if isinstance(value, str) and "?uid=" in value:
                        served(client, value)
elif isinstance(app, flask.Flask):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if "POST" in (rule.methods or ()) and getattr(view, "__module__", "") == module.__name__:
            answer = client.post(rule.rule)
            assert answer.status_code == 200, (rule.rule, answer.status_code)
            served(client, answer.get_data(as_text=True))
print(json.dumps(report))
"""


def python_blocks() -> List[Tuple[str, str]]:
    blocks = []
    for doc in DOCS:
        text = doc.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return blocks


BLOCKS = python_blocks()


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 6


def test_every_docs_page_is_searched():
    """The glob finds the pages that hold the examples, not only the README."""
    searched = {doc.relative_to(ROOT).as_posix() for doc in DOCS}
    assert {"README.md", "docs/index.md", "docs/components.md", "docs/deploying.md"} <= searched
    pages = {where.split(":")[0] for where, _ in BLOCKS}
    assert {"README.md", "docs/index.md", "docs/components.md", "docs/backends.md"} <= pages


@pytest.mark.parametrize("where, code", BLOCKS, ids=[where for where, _ in BLOCKS])
def test_python_block_runs_as_written(where, code, tmp_path):
    name = "snippet_" + re.sub(r"\W", "_", where)
    (tmp_path / f"{name}.py").write_text(code)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path), name],
        cwd=tmp_path,
        env={"MY_APP_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{where}:\n{code}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if "@app.callback" in code:  # the block's callbacks ran and its addresses served
        assert report["kind"] == "Dash" and report["callbacks"] >= 1, report
        if "register(" in code:
            assert report["addresses"] >= 1, report
    if "@app.route" in code:
        assert report["kind"] == "Flask" and report["addresses"] >= 1, report


PACKAGE = '''
"""A package whose docstrings use Sphinx roles."""


class Thing:
    """A thing. See :meth:`open`, :class:`~pkg.Other`, :class:`Hidden` and ``x == 1``."""

    def open(self):
        """Open it; then :meth:`close` or :func:`pkg.helper`."""

    def close(self):
        """Close it."""


class Other:
    """Another thing: :meth:`Thing.open <pkg.Thing.open>`, :meth:`~Thing.undocumented`."""


class Hidden:
    """Not on the reference page."""


def helper():
    """Help: :mod:`.sub`, :meth:`Quiet.hidden`, :class:`Quiet`."""


class Quiet:
    """Rendered without its members."""

    def hidden(self):
        """Not shown."""
'''


def test_rest_roles_extension_links_what_is_rendered_and_codes_the_rest(tmp_path):
    """docs/_ext/rest_roles.py: a role links only to what a reference page renders."""
    griffe = pytest.importorskip("griffe")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(PACKAGE)
    page = tmp_path / "reference.md"
    page.write_text(
        "::: pkg.Thing\n\n::: pkg.Other\n\n::: pkg.helper\n\n"
        "::: pkg.Quiet\n    options:\n      members: false\n"
    )
    extension = f"{ROOT / 'docs' / '_ext' / 'rest_roles.py'}:RestRoles"
    pkg = griffe.load(
        "pkg",
        search_paths=[str(tmp_path)],
        extensions=griffe.load_extensions({extension: {"pages": [str(page)]}}),
    )
    assert pkg["Thing"].docstring.value == (
        "A thing. See [`open()`][pkg.Thing.open], [`Other`][pkg.Other], `Hidden` and `x == 1`."
    )
    assert pkg["Thing.open"].docstring.value == (
        "Open it; then [`close()`][pkg.Thing.close] or [`pkg.helper()`][pkg.helper]."
    )
    assert pkg["Other"].docstring.value == (
        "Another thing: [`Thing.open`][pkg.Thing.open], `undocumented()`."
    )
    assert pkg["helper"].docstring.value == "Help: `sub`, `Quiet.hidden()`, [`Quiet`][pkg.Quiet]."
