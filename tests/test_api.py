"""Public API: names, aliases, argument checking, pickling."""

from __future__ import annotations

import io
import pickle
import queue
import re
from pathlib import Path
from typing import Any, Iterable, List, cast

import dill
import pytest

import dash_file_cache as dfc
import dash_file_cache.caches
import dash_file_cache.services
import dash_file_cache.services.data
from dash_file_cache.services.source import FileSource
from tests.support.caches import SHARED_KINDS, make_cache
from tests.support.http import uid_of

ADDRESS = re.compile(r"/cached-data\?uid=[0-9a-f]{32}(-[0-9a-f]{12})?")


def test_documented_aliases() -> None:
    assert dfc.ServiceData is dfc.services.ServiceData is dfc.services.data.ServiceData
    for name in ("CachePlain", "CacheQueue", "CacheFile"):
        cls = getattr(dfc, name)
        assert cls is getattr(dfc.caches, name)
        assert issubclass(cls, dfc.caches.CacheAbstract)
    assert dfc.CacheAbstract is dfc.caches.CacheAbstract


def test_version_and_typed_marker() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", dfc.__version__)
    assert (Path(dfc.__file__).parent / "py.typed").is_file()


def test_constructor_defaults() -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    assert service.service_name == "/cached-data"
    assert service.chunk_size == 1
    assert isinstance(service.cache, dfc.CachePlain)
    service.chunk_size = 4
    assert service.chunk_size == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"cache": "not a cache"}, TypeError, "cache"),
        ({"cache": None}, TypeError, "cache"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": -3}, ValueError, "chunk_size"),
        ({"chunk_size": 1.5}, TypeError, "chunk_size"),
        ({"chunk_size": True}, TypeError, "chunk_size"),
        ({"service_name": "no-slash"}, ValueError, "service_name"),
        ({"service_name": "/a?b=1"}, ValueError, "service_name"),
        ({"service_name": "/trailing/"}, ValueError, "service_name"),
        ({"service_name": b"/bytes"}, TypeError, "service_name"),
    ],
)
def test_service_arguments_checked(kwargs: dict, error: type, argument: str) -> None:
    args = {"cache": dfc.CachePlain(1), **kwargs}
    with pytest.raises(error, match=argument):
        dfc.ServiceData(**args)


def test_chunk_size_setter_checked() -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    with pytest.raises(ValueError, match="chunk_size"):
        service.chunk_size = 0
    assert service.chunk_size == 1


@pytest.mark.parametrize("size", [0, -1])
def test_cache_size_checked(size: int) -> None:
    with pytest.raises(ValueError, match="cache_size"):
        dfc.CachePlain(size)
    with pytest.raises(ValueError, match="cache_size"):
        dfc.CacheQueue(size)


def test_cache_file_arguments_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        dfc.CacheFile(tmp_path, chunk_size=0)
    with pytest.raises(ValueError, match="size_limit"):
        dfc.CacheFile(tmp_path, size_limit=0)
    with pytest.raises(TypeError, match="qobj"):
        dfc.CacheQueue(1, qobj=cast(Any, 42))  # deliberately not a queue


def test_register_returns_address(tmp_path: Path) -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    assert ADDRESS.fullmatch(service.register(io.BytesIO(b"x")))
    address = service.register(io.BytesIO(b"x"), download=True)
    assert address.endswith("&download=true")
    assert ADDRESS.fullmatch(address[: -len("&download=true")])
    custom = dfc.ServiceData(dfc.CachePlain(1), service_name="/files/tmp")
    assert custom.register(b"x").startswith("/files/tmp?uid=")


def test_register_accepts_every_documented_source(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"path")
    service = dfc.ServiceData(dfc.CachePlain(16))
    sources: List[FileSource] = [
        str(path),
        path,
        io.BytesIO(b"bytesio"),
        io.StringIO("stringio"),
        b"bytes",
        bytearray(b"bytearray"),
        open(path, "rb"),
    ]
    for source in sources:
        uid = service.register(source).split("uid=")[1]
        assert service.cache.is_in(uid)
    assert isinstance(sources[-1], io.BufferedReader)  # the file opened above
    sources[-1].close()


@pytest.mark.parametrize("bad", [123, None, object(), ["a"]])
def test_register_rejects_unknown_source(bad: object) -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    with pytest.raises(TypeError, match="fobj"):
        service.register(bad)  # type: ignore[arg-type]


def test_register_missing_path(tmp_path: Path) -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    with pytest.raises(FileNotFoundError, match="fobj"):
        service.register(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="fobj"):
        service.register(str(tmp_path))  # a directory is not a file


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"content_type": "text/plain\r\nX-Evil: 1"}, "content_type"),
        ({"mime_type": "text/html\n"}, "mime_type"),
        ({"mime_type": "", "content_type": ""}, "mime_type"),
    ],
)
def test_register_rejects_bad_types(kwargs: dict, argument: str) -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    with pytest.raises(ValueError, match=argument):
        service.register(b"x", **kwargs)
    with pytest.raises(TypeError, match="file_name"):
        service.register(b"x", file_name=None)  # type: ignore[arg-type]


def test_stream_argument_errors() -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    with pytest.raises(ValueError, match="uid"):
        service.stream("../etc/passwd")
    with pytest.raises(FileNotFoundError):
        service.stream("0" * 32)


def test_stream_outside_request_gives_whole_body() -> None:
    service = dfc.ServiceData(dfc.CachePlain(1))
    uid = service.register(b"whole body").split("uid=")[1]
    response = service.stream(uid, download=True)
    assert response.status_code == 200
    # werkzeug types a body as str or bytes chunks; the service's are bytes
    assert b"".join(cast(Iterable[bytes], response.response)) == b"whole body"
    response.close()
    assert response.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("dumps", [pickle.dumps, dill.dumps])
def test_service_pickles(cache_kind: str, redis_url: str, dumps, tmp_path: Path) -> None:
    # A CacheQueue's factory (here the class) pickles by reference, unlike a queue.
    cache = make_cache(
        cache_kind, tmp_path / "c", items=2, redis_url=redis_url, queue_obj=queue.Queue
    )
    service = dfc.ServiceData(cache, service_name="/x", chunk_size=3)
    service.register(b"before pickling")
    copy = pickle.loads(dumps(service))
    assert (copy.service_name, copy.chunk_size) == ("/x", 3)
    assert type(copy.cache) is type(service.cache)
    if cache_kind in SHARED_KINDS:  # the copy shares the directory or the Redis
        uid = uid_of(copy.register(b"from the copy"))
        assert service.cache.is_in(uid)


@pytest.mark.slow
def test_wheel_ships_typed_marker_and_components(tmp_path: Path) -> None:
    """`pip install` from a clone needs no Node: the built components are in the wheel."""
    import subprocess
    import sys
    import zipfile

    root = Path(dfc.__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(root)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("dash_file_cache-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = Path(dfc.__file__).parent
    shipped = {
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= names, sorted(shipped - names)
    assert "dash_file_cache/py.typed" in names
    assert "dash_file_cache/components/dash_file_cache.min.js" in names
