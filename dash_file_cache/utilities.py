# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated (removed in 0.5.0): 0.2.0's ``dash_file_cache.utilities`` (each name warns and
names its replacement)."""

from ._compat import deprecated_names

__all__ = ["StreamFinalizer", "TempDir", "is_in_main_process", "remove_temp_dir"]

_HERE = "dash_file_cache._legacy.utilities:"
__getattr__ = deprecated_names(
    __name__,
    {
        "is_in_main_process": (
            _HERE + "is_in_main_process",
            "multiprocessing.parent_process() is None",
        ),
        "remove_temp_dir": (_HERE + "remove_temp_dir", "shutil.rmtree(path, ignore_errors=True)"),
        "TempDir": (
            _HERE + "TempDir",
            "CacheFile() (it makes and removes its own directory) or tempfile.TemporaryDirectory",
        ),
        "StreamFinalizer": (
            _HERE + "StreamFinalizer",
            "contextlib.closing; ServiceData closes what it serves",
        ),
    },
)
