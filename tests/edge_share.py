"""Share the suite between interpreters: ``--share I/N`` (a pytest plugin).

The main Python runs every test. The oldest and the newest Python (the edge runs of
``scripts/check.sh``) split the rest between them: with ``--share I/N``, a run keeps the
tests whose index, in collection order, is ``I`` modulo ``N``. With ``--share 0/2`` on one
edge Python and ``--share 1/2`` on the other, every test runs on the main Python and on
exactly one edge Python; every module with more than one test, and every parametrized
matrix (cache kind x backend x case), meets both. Python versions differ in the language
and the standard library under our code, which each edge run still exercises through every
module; the variants differ in the cache and the framework, which the main run covers whole.

Loaded with ``-p tests.edge_share`` (``pyproject.toml``'s ``addopts``); without
``--share`` it changes nothing. The choice is deterministic, so every xdist worker
collects the same tests.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest


def parse_share(text: str) -> Tuple[int, int]:
    """``"I/N"`` as ``(I, N)``.

    Raises:
        ValueError: not two integers with ``0 <= I < N``.
    """
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--share must be I/N (two integers), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--share I/N needs 0 <= I < N, got {text!r}")
    return index, count


def shared(nodeids: List[str], index: int, count: int) -> List[bool]:
    """For each node id, in collection order: whether share ``index`` of ``count`` runs it."""
    return [position % count == index for position in range(len(nodeids))]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--share",
        default=None,
        metavar="I/N",
        help="run every test function, but only the parametrized variants whose index is I mod N",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    text: Optional[str] = config.getoption("--share")
    if not text:
        return
    try:
        index, count = parse_share(text)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    keep = shared([item.nodeid for item in items], index, count)
    deselected = [item for item, kept in zip(items, keep) if not kept]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item, kept in zip(items, keep) if kept]
