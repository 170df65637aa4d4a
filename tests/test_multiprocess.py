"""Registering in real child processes (as Dash background callbacks do), serving in the parent."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import multiprocess
import pytest

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.support.http import uid_of


def _register_in_child(service: dfc.ServiceData, payload: bytes) -> str:
    return service.register(io.BytesIO(payload), file_name="child.bin")


def run_child(context, service: dfc.ServiceData, payload: bytes) -> str:
    """Register ``payload`` in a fresh child process; return the address it returned."""
    with context.Pool(1) as pool:
        return pool.apply(_register_in_child, (service, payload))


def run_in_process(context, target: Callable, *args) -> None:
    proc = context.Process(target=target, args=args)
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0


@pytest.fixture(scope="module")
def manager():
    with multiprocess.Manager() as mgr:
        yield mgr


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_cache_queue_child_address_servable_at_once(manager, start_method: str) -> None:
    """Every address returned by a child is servable the moment the child returns."""
    service = dfc.ServiceData(dfc.CacheQueue(64, manager.Queue()))
    client = make_client(build_app(service))
    context = multiprocess.get_context(start_method)
    rounds = 25 if start_method == "fork" else 4
    with context.Pool(2) as pool:
        for i in range(rounds):
            payload = f"round {i}".encode() * 100
            address = pool.apply(_register_in_child, (service, payload))
            response = client.get(address)  # immediately: no sleep, no retry
            assert response.status_code == 200, f"round {i}: {response.status_code}"
            assert response.data == payload


def test_cache_queue_many_children_concurrently(manager) -> None:
    service = dfc.ServiceData(dfc.CacheQueue(256, manager.Queue()))
    client = make_client(build_app(service))
    payloads = [bytes([i]) * (1000 + i) for i in range(40)]
    with multiprocess.get_context("fork").Pool(4) as pool:
        addresses = pool.map(
            lambda p: service.register(io.BytesIO(p)),  # dill pickles the lambda
            payloads,
        )
    for address, payload in zip(addresses, payloads):
        assert client.get(address).data == payload


def test_cache_queue_queue_factory_reaches_children() -> None:
    """A factory resolved by serve() in the parent is inherited by forked children."""
    cache = dfc.CacheQueue(8, lambda: multiprocess.Manager().Queue())
    service = dfc.ServiceData(cache)
    client = make_client(build_app(service))
    address = run_child(multiprocess.get_context("fork"), service, b"via factory")
    assert client.get(address).data == b"via factory"


def test_cache_queue_registers_in_parent_directly(manager) -> None:
    service = dfc.ServiceData(dfc.CacheQueue(8, manager.Queue()))
    address = service.register(b"parent")
    uid = uid_of(address)
    assert isinstance(service.cache, dfc.CacheQueue)
    assert service.cache._local.is_in(uid)  # no round trip through the queue


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_cache_file_child_registers(tmp_path: Path, start_method: str) -> None:
    service = dfc.ServiceData(dfc.CacheFile(tmp_path / "shared"))
    client = make_client(build_app(service))
    context = multiprocess.get_context(start_method)
    with context.Pool(2) as pool:
        for i in range(5):
            payload = f"disk round {i}".encode() * 5000
            address = pool.apply(_register_in_child, (service, payload))
            assert client.get(address).data == payload


def test_cache_file_child_serves_parent_items(tmp_path: Path) -> None:
    """The other direction: a second process serves what the first registered."""
    service = dfc.ServiceData(dfc.CacheFile(tmp_path / "shared"))
    address = service.register(io.BytesIO(b"parent made this"))
    result = multiprocess.get_context("spawn").Queue()

    run_in_process(multiprocess.get_context("spawn"), _serve_in_child, service, address, result)
    assert result.get(timeout=10) == (200, b"parent made this")


def _serve_in_child(service: dfc.ServiceData, address: str, result) -> None:
    client = make_client(build_app(service))
    response = client.get(address)
    result.put((response.status_code, response.data))
