"""``--share I/N`` (``tests/edge_share.py``): every function on every share, its variants split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.edge_share import function_of, parse_share, shared
from tests.support.processes import ROOT


def test_parse_share() -> None:
    assert parse_share("0/2") == (0, 2)
    assert parse_share("2/3") == (2, 3)
    for bad in ("2/2", "-1/2", "1", "a/b", "1/2/3", "0/0"):
        with pytest.raises(ValueError, match="--share"):
            parse_share(bad)


def test_function_of() -> None:
    assert function_of("tests/a.py::test_x[plain-flask]") == "tests/a.py::test_x"
    assert function_of("tests/a.py::C::test_y") == "tests/a.py::C::test_y"
    assert function_of("tests/a.py::test_z[a[b]]") == "tests/a.py::test_z"


def test_each_variant_on_exactly_one_share_each_function_on_all() -> None:
    ids = [f"t.py::f[{n}]" for n in range(7)] + ["t.py::g", "t.py::h[1]"]
    ids += [f"t.py::k[{n}]" for n in range(2)]
    for count in (2, 3):
        shares = [shared(ids, index, count) for index in range(count)]
        for position, nodeid in enumerate(ids):
            runs = sum(keep[position] for keep in shares)
            variants = sum(function_of(other) == function_of(nodeid) for other in ids)
            assert runs == (1 if variants >= count else count), (nodeid, count)
        for keep in shares:  # every function, on every share
            assert {function_of(i) for i, kept in zip(ids, keep) if kept} == {
                function_of(i) for i in ids
            }


def test_shares_are_interleaved_in_collection_order() -> None:
    ids = [f"t.py::f[{n}]" for n in range(5)]
    assert shared(ids, 0, 2) == [True, False, True, False, True]
    assert shared(ids, 1, 2) == [False, True, False, True, False]


def _collected(folder: Path, *args: str) -> list:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "tests.edge_share", *args, str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 4), result.stdout + result.stderr
    return [line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line], result


def test_plugin_deselects_the_other_shares_variants(tmp_path: Path) -> None:
    folder = tmp_path / "inner"
    folder.mkdir()
    (folder / "test_inner.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('n', range(4))\n"
        "def test_f(n): pass\n"
        "def test_g(): pass\n"
    )
    whole, _ = _collected(folder)
    first, _ = _collected(folder, "--share", "0/2")
    second, _ = _collected(folder, "--share", "1/2")
    assert whole == ["test_f[0]", "test_f[1]", "test_f[2]", "test_f[3]", "test_g"]
    assert first == ["test_f[0]", "test_f[2]", "test_g"]
    assert second == ["test_f[1]", "test_f[3]", "test_g"]
    _, bad = _collected(folder, "--share", "2/2")
    assert bad.returncode == 4 and "--share I/N needs 0 <= I < N" in bad.stderr
