"""``_validate.py``: the argument checks every public constructor shares, and their messages."""

from __future__ import annotations

import pytest

from dash_file_cache import _validate


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: _validate.check_int("grace", -1, 0), ValueError, "grace must be at least 0"),
        (lambda: _validate.check_int("chunk_size", 513, 1, 512), ValueError, "at most 512"),
        (lambda: _validate.check_int("ttl", True, 1), TypeError, "ttl must be an int"),
        (lambda: _validate.check_positive_number("timeout", 0), ValueError, "timeout"),
        (lambda: _validate.check_positive_number("timeout", float("inf")), ValueError, "finite"),
        (lambda: _validate.check_positive_number("timeout", "1"), TypeError, "timeout"),
        (lambda: _validate.check_bool("copy_paths", 1), TypeError, "copy_paths must be a bool"),
        (lambda: _validate.check_str("prefix", "", non_empty=True), ValueError, "prefix"),
        (lambda: _validate.check_str("prefix", 3), TypeError, "prefix must be a str"),
    ],
)
def test_shared_argument_checks(call, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()
