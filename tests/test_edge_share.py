"""``--share I/N`` (``tests/edge_share.py``): each test on exactly one share, in turn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.edge_share import parse_share, shared
from tests.support.processes import ROOT


def test_parse_share() -> None:
    assert parse_share("0/2") == (0, 2)
    assert parse_share("2/3") == (2, 3)
    for bad in ("2/2", "-1/2", "1", "a/b", "1/2/3", "0/0"):
        with pytest.raises(ValueError, match="--share"):
            parse_share(bad)


def test_each_test_on_exactly_one_share() -> None:
    ids = [f"t.py::f[{n}]" for n in range(7)] + ["t.py::g", "t.py::h[1]"]
    for count in (1, 2, 3):
        shares = [shared(ids, index, count) for index in range(count)]
        assert [sum(keep[i] for keep in shares) for i in range(len(ids))] == [1] * len(ids)
        sizes = [sum(keep) for keep in shares]
        assert max(sizes) - min(sizes) <= 1  # as even as can be


def test_shares_are_interleaved_in_collection_order() -> None:
    ids = [f"t.py::f[{n}]" for n in range(5)]
    assert shared(ids, 0, 2) == [True, False, True, False, True]
    assert shared(ids, 1, 2) == [False, True, False, True, False]


def _collected(folder: Path, *args: str):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "tests.edge_share", *args, str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 4), result.stdout + result.stderr
    return [line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line], result


def test_plugin_deselects_the_other_shares_tests(tmp_path: Path) -> None:
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
    assert second == ["test_f[1]", "test_f[3]"]
    _, bad = _collected(folder, "--share", "2/2")
    assert bad.returncode == 4 and "--share I/N needs 0 <= I < N" in bad.stderr
