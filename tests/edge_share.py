"""Share a parametrized matrix between interpreters: ``--share I/N`` (a pytest plugin).

The main Python runs every test. The oldest and the newest Python (the edge runs of
``scripts/check.sh``) each run every test *function*, but of a function's
parametrized variants (cache kind x backend x case...) only those whose index, in
collection order, is ``I`` modulo ``N``: with ``--share 0/2`` on one edge Python and
``--share 1/2`` on the other, each variant runs on the main Python and on one edge
Python, and each function on all three. What differs between Python versions is the
language and the standard library under our code, which every function still meets on
each of them; what differs between variants is the cache and the framework, which the
main run covers whole. A function with fewer than ``N`` variants runs whole on every share.

Loaded with ``-p tests.edge_share`` (``pyproject.toml``'s ``addopts``); without
``--share`` it changes nothing. The choice is deterministic, so every xdist worker
collects the same tests.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

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


def function_of(nodeid: str) -> str:
    """The test function a node id names: the id without its ``[parameters]``."""
    return nodeid.split("[", 1)[0]


def shared(nodeids: List[str], index: int, count: int) -> List[bool]:
    """For each node id, in order: whether share ``index`` of ``count`` runs it."""
    variants: Dict[str, List[int]] = {}
    for position, nodeid in enumerate(nodeids):
        variants.setdefault(function_of(nodeid), []).append(position)
    keep = [True] * len(nodeids)
    for positions in variants.values():
        if len(positions) < count:
            continue
        for rank, position in enumerate(positions):
            keep[position] = rank % count == index
    return keep


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
