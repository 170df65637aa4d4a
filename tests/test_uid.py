"""``services/uid.py``: fresh uids are unguessable; only the exact uid form is valid."""

from __future__ import annotations

import re

import pytest

from dash_file_cache.services.uid import is_valid_uid, new_uid


def test_new_uid_is_32_lowercase_hex_digits_and_fresh() -> None:
    uids = {new_uid() for _ in range(1000)}
    assert len(uids) == 1000
    assert all(re.fullmatch("[0-9a-f]{32}", uid) for uid in uids)


def test_uid_with_or_without_a_process_tag_is_valid() -> None:
    assert is_valid_uid(new_uid())
    assert is_valid_uid(new_uid() + "-" + "0123456789ab")


@pytest.mark.parametrize(
    "value",
    [
        "a" * 32 + "-" + "b" * 11,
        "a" * 32 + "-" + "B" * 12,
        "a" * 32 + "-" + "b" * 12 + "-" + "c" * 12,
        "a" * 32 + "_" + "b" * 12,
        "a" * 32 + "-",
        "a" * 31 + "-" + "b" * 12,
        "A" * 32,
        "a" * 31,
        "a" * 33,
        "a" * 32 + "\n",
        "../" + "a" * 29,
        "*",
        "",
    ],
)
def test_uid_form_stays_strict(value: str) -> None:
    assert not is_valid_uid(value)


@pytest.mark.parametrize("value", [None, 1, b"a" * 32, ["a" * 32]])
def test_non_strings_are_no_uid(value: object) -> None:
    assert not is_valid_uid(value)
