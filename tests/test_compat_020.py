"""An app written for dash-file-cache 0.2.0 keeps working.

Every name of 0.2.0's ``__all__``s (listed below, from the published 0.2.0
wheel) is imported and exercised with 0.2.0's signatures. Names that the new
API supersedes warn (``DeprecationWarning`` naming the replacement); names
that are still the API do not.
"""

from __future__ import annotations

import importlib
import inspect
import io
import multiprocessing
import os
import pkgutil
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Literal, Tuple, Type

import dash
import flask
import pytest

import dash_file_cache as dfc
from dash_file_cache import _compat
from dash_file_cache._legacy import caches as legacy_caches
from tests.apps.upstream import BODY, Upstream

#: 0.2.0's ``__all__`` of each module, as published.
ALL_020: Dict[str, List[str]] = {
    "dash_file_cache": [
        "__version__", "version", "utilities", "caches", "components", "services",
        "CachePlain", "CacheQueue", "CacheFile", "ServiceData", "ServiceDownloader",
        "PlainDownloader", "Downloader", "DownloaderURL", "DownloaderStatus",
    ],
    "dash_file_cache.utilities": [
        "is_in_main_process", "remove_temp_dir", "TempDir", "StreamFinalizer",
    ],
    "dash_file_cache.caches": [
        "abstract", "lrudict", "memory", "tempfile", "CachePlain", "CacheQueue", "CacheFile",
    ],
    "dash_file_cache.caches.abstract": ["CacheAbstract"],
    "dash_file_cache.caches.lrudict": ["MutableMapping", "LRUDict"],
    "dash_file_cache.caches.memory": ["CachePlain", "CacheQueue"],
    "dash_file_cache.caches.tempfile": ["CacheFile"],
    "dash_file_cache.caches.typehints": [
        "Deferred", "CachedFileInfo", "CachedPath", "CachedStringIO", "CachedBytesIO", "CachedData",
    ],
    "dash_file_cache.services": [
        "utilities", "reqstream", "downloader", "data", "ServiceData", "ServiceDownloader",
    ],
    "dash_file_cache.services.data": ["ServiceData"],
    "dash_file_cache.services.downloader": ["ServiceDownloader"],
    "dash_file_cache.services.reqstream": ["ProtocolResponse", "DeferredRequestStream"],
    "dash_file_cache.services.utilities": ["no_cache", "get_server"],
    "dash_file_cache.components": [
        "typehints", "PlainDownloader", "Downloader", "DownloaderURL", "DownloaderStatus",
    ],
    "dash_file_cache.components.typehints": ["DownloaderURL", "DownloaderStatus"],
    "dash_file_cache.components._imports_": ["Downloader", "PlainDownloader"],
    "dash_file_cache.version": ["__version__"],
}  # fmt: skip

CACHES = ["CachePlain", "CacheQueue", "CacheFile"]
#: Names still part of the API: no warning when imported.
CURRENT = {
    ("dash_file_cache", name)
    for name in ["__version__", "version", "caches", "components", "services", "utilities",
                 "CachePlain", "CacheQueue", "CacheFile", "ServiceData", "ServiceDownloader",
                 "PlainDownloader", "Downloader"]
} | {
    ("dash_file_cache.caches", name)
    for name in ["abstract", "lrudict", "memory", "tempfile", *CACHES]
} | {
    ("dash_file_cache.services", name)
    for name in ["utilities", "reqstream", "downloader", "data", "ServiceData", "ServiceDownloader"]
} | {
    ("dash_file_cache.components", name) for name in ["typehints", "PlainDownloader", "Downloader"]
} | {
    ("dash_file_cache.caches.abstract", "CacheAbstract"),
    ("dash_file_cache.services.data", "ServiceData"),
    ("dash_file_cache.services.downloader", "ServiceDownloader"),
    ("dash_file_cache.components._imports_", "Downloader"),
    ("dash_file_cache.components._imports_", "PlainDownloader"),
    ("dash_file_cache.version", "__version__"),
}  # fmt: skip

CASES = [(module, name) for module, names in ALL_020.items() for name in names]


def _get(module: str, name: str) -> Any:
    """``from module import name`` (what 0.2.0 code writes)."""
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("module", "name"), CASES)
def test_every_020_name_imports(module: str, name: str) -> None:
    if (module, name) in CURRENT:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            assert _get(module, name) is not None
    else:
        with pytest.warns(DeprecationWarning, match=r"deprecated.*; use \S"):
            assert _get(module, name) is not None


# -- every deprecation says when it goes -----------------------------------------------

#: What a deprecation warning must say (the decision: deprecated in 0.3, removed in 0.5.0).
REMOVAL = r"deprecated since dash-file-cache 0\.3 and will be removed in 0\.5\.0; use \S"


def test_the_removal_version_is_decided() -> None:
    assert (_compat.DEPRECATED_SINCE, _compat.REMOVED_IN) == ("0.3", "0.5.0")


def _deprecated_tables() -> List[Tuple[str, str]]:
    """``(module, name)`` for every name of every ``deprecated_names`` table in the package:
    a module's ``__getattr__``, or the one its ``__getattr__`` dispatches to."""
    found: List[Tuple[str, str]] = []
    modules = [info.name for info in pkgutil.walk_packages(dfc.__path__, "dash_file_cache.")]
    for module in ["dash_file_cache", *modules]:
        try:
            namespace = vars(importlib.import_module(module))
        except ImportError:  # an adapter whose optional framework is not installed
            continue
        for value in namespace.values():
            if isinstance(value, _compat.DeprecatedNames):
                assert value.module == module
                found.extend((module, name) for name in value.names)
    return sorted(found)


TABLE_NAMES = _deprecated_tables()


def test_the_tables_hold_every_deprecated_020_name() -> None:
    """The 0.2.0 names that warn on import are all in tables (the classes that warn
    when constructed are tested below)."""
    assert {case for case in CASES if case not in CURRENT} <= set(TABLE_NAMES)


@pytest.mark.parametrize(("module", "name"), TABLE_NAMES)
def test_every_deprecated_name_says_when_it_goes(module: str, name: str) -> None:
    with pytest.warns(DeprecationWarning, match=REMOVAL) as record:
        _get(module, name)
    assert str(record[0].message).startswith(f"{module}.{name} is deprecated")
    assert record[0].filename == __file__  # the warning names the code that read the name


@pytest.mark.parametrize(
    "construct",
    [
        lambda: dfc.Downloader(id="d"),
        lambda: dfc.PlainDownloader(id="p"),
        lambda: dfc.ServiceDownloader(),
    ],
    ids=["Downloader", "PlainDownloader", "ServiceDownloader"],
)
def test_every_deprecated_class_says_when_it_goes(construct: Any) -> None:
    with pytest.warns(DeprecationWarning, match=REMOVAL) as record:
        construct()
    assert record[0].filename == __file__


def _legacy_members() -> List[Tuple[type, str]]:
    """``(mixin, member)`` for every member of the 0.2.0 mixins of the live caches."""
    mixins = [getattr(legacy_caches, name) for name in legacy_caches.__all__]
    return [
        (mixin, member)
        for mixin in mixins
        for member in vars(mixin)
        if not (member.startswith("__") and member.endswith("__"))
    ]


@pytest.mark.parametrize(
    ("mixin", "member"), _legacy_members(), ids=lambda v: getattr(v, "__name__", v)
)
def test_every_deprecated_member_says_when_it_goes(mixin: type, member: str) -> None:
    """A deprecated member warns with the removal version and works; a removed one
    raises AttributeError naming the release that removed it and its replacement."""
    # Type[Any]: the three constructors differ (CacheFile takes a folder, the others a size)
    live: Type[Any] = next(
        c for c in [dfc.CachePlain, dfc.CacheQueue, dfc.CacheFile] if issubclass(c, mixin)
    )
    cache = live(2) if live is not dfc.CacheFile else live(None)
    key = dfc.ServiceData(cache).register(io.BytesIO(b"abc")).split("uid=")[1]
    attribute = vars(mixin)[member]
    if isinstance(attribute, property):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                getattr(cache, member)
        except AttributeError as exc:
            assert re.search(
                r"\(dash-file-cache 0\.2\.0\) was removed in 0\.3: .*; use \S", str(exc)
            )
            return
        with pytest.warns(DeprecationWarning, match=REMOVAL) as record:
            getattr(cache, member)
    else:
        with pytest.warns(DeprecationWarning, match=REMOVAL) as record:
            result = getattr(cache, member)(key)
        if hasattr(result, "close"):
            result.close()
    assert record[0].filename == __file__


def test_only_compat_warns_deprecation() -> None:
    """Every deprecation goes through ``_compat.warn_deprecated``, which names the version."""
    root = Path(dfc.__file__).parent
    direct = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "_compat.py" and "DeprecationWarning" in path.read_text(encoding="utf-8")
    ]
    assert direct == []


_EMPTY = inspect.Parameter.empty

#: 0.2.0's public signatures: the leading positional-or-keyword parameters and defaults.
SIGNATURES_020: List[Tuple[str, List[Tuple[str, Any]]]] = [
    ("ServiceData", [("cache", _EMPTY), ("service_name", "/cached-data"), ("chunk_size", 1),
                     ("allowed_cross_origin", None)]),
    ("ServiceData.register", [("fobj", _EMPTY), ("file_name", ""), ("content_type", ""),
                              ("mime_type", "image/jpeg"), ("one_time_service", False),
                              ("download", False)]),
    ("ServiceData.register_request", [("url", _EMPTY), ("headers", None),
                                      ("file_name_fallback", ""), ("download", True)]),
    ("ServiceData.stream", [("uid", _EMPTY), ("download", False)]),
    ("ServiceData.serve", [("app", _EMPTY), ("endpoint", None)]),
    ("ServiceDownloader", [("service_name", "/dfc-downloader"), ("allowed_cross_origin", None)]),
    ("ServiceDownloader.serve", [("app", _EMPTY), ("endpoint", None)]),
    ("CachePlain", [("cache_size", _EMPTY)]),
    ("CacheQueue", [("cache_size", _EMPTY), ("qobj", None)]),
    ("CacheFile", [("cache_dir", _EMPTY), ("chunk_size", 1)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params"), SIGNATURES_020, ids=[n for n, _ in SIGNATURES_020])
def test_020_signatures(name: str, params: List[Tuple[str, Any]]) -> None:
    """Positional and keyword calls written for 0.2.0 bind to the same parameters; a
    parameter 0.2.0 required may now have a default (``CacheFile(cache_dir=None)``)."""
    owner, _, method = name.partition(".")
    target = getattr(getattr(dfc, owner), method or "__init__")
    found = list(inspect.signature(target).parameters.values())
    found = [p for p in found if p.name != "self"][: len(params)]
    assert [p.name for p in found] == [n for n, _ in params]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in found)
    for p, (_, default) in zip(found, params):
        assert default is _EMPTY or p.default == default, (p.name, p.default, default)


def test_version_names() -> None:
    from dash_file_cache.version import __version__

    assert __version__ == dfc.__version__ == dfc.version.__version__
    assert tuple(int(p) for p in __version__.split(".")[:2]) > (0, 2)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("dash_file_cache.caches.memory:CachePlain", dfc.CachePlain),
        ("dash_file_cache.caches.memory:CacheQueue", dfc.CacheQueue),
        ("dash_file_cache.caches.tempfile:CacheFile", dfc.CacheFile),
        ("dash_file_cache.caches.typehints:CachedFileInfo", dfc.CachedFileInfo),
    ],
)
def test_moved_names_are_the_new_objects(old: str, new: Any) -> None:
    module, name = old.split(":")
    with pytest.warns(DeprecationWarning, match="dash_file_cache"):
        assert _get(module, name) is new


# -- exercising each name with 0.2.0's signatures -------------------------------------


def test_caches_with_020_signatures(tmp_path: Path) -> None:
    # The Manager is shut down at the end: left running it holds its connections
    # (and the process) until the test process exits.
    with multiprocessing.get_context("spawn").Manager() as manager:
        with pytest.warns(DeprecationWarning):
            temp = dfc.utilities.TempDir(tmp_path / "t")
        caches = [
            dfc.CachePlain(4),
            dfc.CacheQueue(4, manager.Queue()),
            dfc.CacheFile(temp, 1),
            dfc.CacheFile(None),
        ]
        for cache in caches:
            service = dfc.ServiceData(cache, "/cached-data", 1)
            address = service.register(io.BytesIO(b"abc"), file_name="a.bin")
            uid = address.split("uid=")[1]
            assert uid in cache and cache.is_in(uid)
            with pytest.warns(DeprecationWarning, match=r"load\(key\)\[0\]"):
                assert cache.load_info(uid)["file_name"] == "a.bin"
            with pytest.warns(DeprecationWarning, match=r"load\(key\)\[1\]\(\)"):
                data = cache.load_data(uid)
            with data if not isinstance(data, str) else open(data, "rb") as stream:
                assert stream.read() == b"abc"
        assert isinstance(caches[1], dfc.CacheQueue) and isinstance(caches[2], dfc.CacheFile)
        with pytest.warns(DeprecationWarning, match="CacheQueue itself"):
            assert caches[1].mirror is caches[1]
        with pytest.warns(DeprecationWarning, match="cache_dir"):
            assert caches[2].dir == caches[2].cache_dir == os.fspath(temp)
        temp.remove()
        assert temp.is_removed and not os.path.exists(temp.path)


@pytest.mark.parametrize(
    ("make", "member"),
    [
        (lambda: dfc.CachePlain(2), "cache"),
        (lambda: dfc.CacheQueue(2), "cache"),
        (lambda: dfc.CacheFile(None), "key_to_path"),
    ],
)
def test_removed_storage_members_name_their_replacement(make: Any, member: str) -> None:
    """0.2.0's ``cache.cache`` (its LRUDict) and ``CacheFile.key_to_path`` exposed storage
    that no longer exists: reading them says so and names the replacement, which works."""
    cache = make()
    with pytest.raises(AttributeError, match=rf"\.{member} \(dash-file-cache 0\.2\.0\).*use "):
        getattr(cache, member)
    service = dfc.ServiceData(cache)
    uid = service.register(io.BytesIO(b"abc"), file_name="a.bin").split("uid=")[1]
    assert uid in cache
    info, loader = cache.load(uid)
    data = loader()
    with data if not isinstance(data, str) else open(data, "rb") as stream:
        assert (info["file_name"], stream.read()) == ("a.bin", b"abc")
    assert cache.remove(uid) and uid not in cache


def test_utilities() -> None:
    with pytest.warns(DeprecationWarning):
        from dash_file_cache.utilities import StreamFinalizer, is_in_main_process, remove_temp_dir
    assert is_in_main_process() is True
    seen = []
    stream = io.BytesIO(b"xyz")
    stream.seek(2)
    with StreamFinalizer(
        stream, truncate=True, close=True, callback_on_exit=lambda f: seen.append(f.read())
    ) as fobj:
        assert fobj.read() == b"xyz"
    assert seen == [b"xyz"] and stream.closed
    remove_temp_dir("/nonexistent/dfc-compat")  # a missing directory is no error


def test_lrudict() -> None:
    """0.2.0's documented LRUDict: keys in priority order, most recent first."""
    with pytest.warns(DeprecationWarning):
        from dash_file_cache.caches.lrudict import LRUDict, MutableMapping
    lru = LRUDict({"a": 1, "b": 2}, maxsize=2)
    assert isinstance(lru, MutableMapping) and lru.is_full
    assert list(lru) == ["b", "a"]  # the last key given is the most recent
    assert lru["a"] == 1  # reading makes "a" the most recent
    lru["c"] = 3  # full: the eldest ("b") goes
    assert list(lru) == ["c", "a"] and lru.maxsize == 2
    assert (lru.recent, lru.eldest, lru.recent_val, lru.eldest_val) == ("c", "a", 3, 1)
    assert (lru.recent_item, lru.eldest_item) == (("c", 3), ("a", 1))
    assert (lru.index("a"), lru.back_index(0), lru.back_index(-1)) == (1, "c", "a")
    assert list(lru.items()) == [("c", 3), ("a", 1)] and list(lru) == ["c", "a"]  # no reorder
    assert list(lru.reversed()) == ["a", "c"]
    lru.reverse()
    assert list(lru) == ["a", "c"]
    lru.rotate(1)
    assert list(lru) == ["c", "a"]
    copy = lru.copy()
    assert list(copy.items()) == [("c", 3), ("a", 1)] and copy.maxsize == 2
    assert lru.eldest_popitem() == ("a", 1) and lru.popitem() == ("c", 3) and not lru
    assert list(lru | {"x": 0}) == ["x"]
    keys = LRUDict.fromkeys("xyz", 0, maxsize=2)
    assert list(keys.items()) == [("z", 0), ("y", 0)] and lru.recent_popitem.__doc__
    with pytest.raises(IndexError):
        lru.recent  # noqa: B018
    with pytest.raises(ValueError, match="maxsize"):
        LRUDict(maxsize=0)


def test_typehints_are_types() -> None:
    with pytest.warns(DeprecationWarning):
        from dash_file_cache.caches import typehints

        for name in ["CachedPath", "CachedStringIO", "CachedBytesIO"]:
            assert "type" in getattr(typehints, name).__annotations__
        assert callable(typehints.Deferred[int].__origin__)  # typing.Callable
    with pytest.warns(DeprecationWarning):
        from dash_file_cache.components.typehints import DownloaderStatus, DownloaderURL
    assert set(DownloaderURL.__annotations__) == {"url", "file_name_fallback"}
    assert set(DownloaderStatus.__annotations__) == {"type", "http_code"}


def test_service_helpers() -> None:
    with pytest.warns(DeprecationWarning, match="app.server"):
        from dash_file_cache.services.utilities import get_server
    with pytest.warns(DeprecationWarning, match="no_cache"):
        from dash_file_cache.services.utilities import no_cache
    app = dash.Dash(__name__)
    assert get_server(app) is app.server
    with pytest.raises(TypeError, match="app"):
        get_server(object())
    server = flask.Flask(__name__)
    server.add_url_rule("/v", "v", no_cache(lambda: "x"))
    assert "no-cache" in server.test_client().get("/v").headers["Cache-Control"]


def test_deferred_request_stream() -> None:
    with pytest.warns(DeprecationWarning, match="register_request"):
        from dash_file_cache.services.reqstream import DeferredRequestStream
    with Upstream() as upstream:
        info: Dict[str, Any] = {}
        stream = DeferredRequestStream(
            info, {"url": upstream.url + "/files/data.bin", "headers": {}, "file_name_fallback": ""}
        )
        assert b"".join(stream.provide(1 << 16)) == BODY
        assert info["file_name"] == "data.bin" and info["data_size"] == len(BODY)
        with DeferredRequestStream(
            {}, {"url": upstream.url + "/echo", "headers": {"X-A": "1"}}
        ) as response:
            assert b'"X-A": "1"' in response.read()


def test_service_downloader() -> None:
    with pytest.warns(DeprecationWarning, match="needs no helper"):
        service = dfc.ServiceDownloader("/dfc-downloader", allowed_cross_origin="*")
    assert service.allowed_cross_origin == "*"
    assert service.service_name == "/dfc-downloader"
    service.serve(dash.Dash(__name__))
    with pytest.raises(TypeError, match="app"):
        service.serve(object())


def test_020_style_app(tmp_path: Path) -> None:
    """0.2.0's documented usage, unchanged: a Dash app, a service with CORS, paths,
    in-memory files and remote requests, read through the app's server."""
    path = tmp_path / "report.csv"
    path.write_text("a,b\n1,2\n")
    app = dash.Dash(__name__)
    app.layout = dash.html.Div()
    service = dfc.ServiceData(dfc.CachePlain(1024), allowed_cross_origin="http://127.0.0.1:8051")
    service.serve(app)
    assert service.allowed_cross_origin == "http://127.0.0.1:8051"
    client = app.server.test_client()
    inline = service.register(str(path), content_type="text/csv")
    download = service.register(
        io.StringIO("hello"), file_name="h.txt", mime_type="text/plain", download=True
    )
    with Upstream() as upstream:
        remote = service.register_request(upstream.url + "/files/data.bin")
        response = client.get(remote, headers={"Origin": "http://127.0.0.1:8051"})
        assert response.data == BODY
        assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8051"
        assert response.headers["Content-Disposition"] == "attachment; filename=data.bin"
    assert client.get(inline).data == b"a,b\n1,2\n"
    got = client.get(download)
    assert got.data == b"hello"
    assert got.headers["Content-Disposition"] == "attachment; filename=h.txt"
    assert got.headers["Content-Type"].startswith("text/plain")  # 0.2.0 sent octet-stream


def test_old_components_take_their_020_props() -> None:
    """0.2.0's documented props of ``Downloader`` and ``PlainDownloader`` (metadata.json)."""
    with pytest.warns(DeprecationWarning, match='CachedDownload\\(mode="stream"\\)'):
        downloader = dfc.Downloader(
            id="dl",
            url={"url": "/cached-data?uid=x", "file_name_fallback": "x.bin"},
            headers={"Authorization": "Bearer t"},
            allow_cross_origin=True,
            mitm="/dfc-downloader/mitm",
            status={"code": "success", "http_code": 200},
            loading_state={"is_loading": False, "prop_name": "url", "component_name": "dl"},
        )
    props = downloader.to_plotly_json()
    assert (props["namespace"], props["type"]) == ("dash_file_cache", "Downloader")
    assert props["props"]["url"]["file_name_fallback"] == "x.bin"
    assert props["props"]["loading_state"]["prop_name"] == "url"
    codes: List[Literal["success", "error-connect", "error-config", "error-io", "error-unknown"]]
    codes = ["success", "error-connect", "error-config", "error-io", "error-unknown"]
    for code in codes:
        dfc.Downloader(status={"code": code, "http_code": 0})
    # dash sets a component's props as attributes; the generated class does not declare them
    assert dfc.Downloader(url="/a").url == "/a"  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="use CachedDownload"):
        plain = dfc.PlainDownloader(
            id="p", url="/cached-data?uid=y", loading_state={"is_loading": True}
        )
    assert plain.to_plotly_json()["type"] == "PlainDownloader"
    with pytest.raises(TypeError):
        dfc.PlainDownloader(headers={})  # 0.2.0's PlainDownloader had no headers either
    assert dfc.components.Downloader is dfc.Downloader
    from dash_file_cache.components import _imports_  # 0.2.0's generated module

    for cls in [dfc.Downloader, dfc.PlainDownloader]:
        generated = getattr(_imports_, cls.__name__)
        assert issubclass(cls, generated)
        assert generated(id="g", url="/a").to_plotly_json()["type"] == cls.__name__
