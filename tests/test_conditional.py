"""Unit tests of ``services/conditional.py``: the strict parsers and the 13.2.2 order.

Expectations are written out by hand from RFC 9110 (sections cited), not computed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dash_file_cache.services.conditional import (
    Plan,
    evaluate,
    parse_byte_ranges,
    parse_entity_tags,
    parse_http_date,
)

ETAG = "abc123"
MTIME = 784111777.25  # Sun, 06 Nov 1994 08:49:37 GMT and a quarter
LM = "Sun, 06 Nov 1994 08:49:37 GMT"
BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT"
AFTER = "Sun, 06 Nov 1994 08:49:38 GMT"
SIZE = 1000


def plan(headers: dict, method: str = "GET", size: int = SIZE) -> Plan:
    return evaluate(method, headers, size, ETAG, MTIME)


# -- HTTP-date (5.6.7) ------------------------------------------------------------

WHEN = datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value",
    [LM, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", f" {LM}\t"],
)
def test_http_date_three_forms(value: str) -> None:
    assert parse_http_date(value) == WHEN


@pytest.mark.parametrize(
    "value",
    [
        LM.lower(),  # names are case-sensitive
        LM.upper(),
        f"{LM}, {LM}",  # a list is not a date
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "1994-11-06T08:49:37Z",
        "",
        "garbage",
    ],
)
def test_http_date_invalid(value: str) -> None:
    assert parse_http_date(value) is None


def test_rfc850_two_digit_year_within_50_years() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    seventy = parse_http_date("Monday, 06-Nov-70 08:49:37 GMT", now)
    assert seventy is not None and seventy.year == 2070
    seventy_seven = parse_http_date("Sunday, 06-Nov-77 08:49:37 GMT", now)
    assert seventy_seven is not None and seventy_seven.year == 1977


def test_leap_second_is_a_date() -> None:
    assert parse_http_date("Sun, 06 Nov 1994 23:59:60 GMT") == datetime(
        1994, 11, 6, 23, 59, 59, tzinfo=timezone.utc
    )


# -- entity-tags (8.8.3) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "strong", "weak"),
    [
        ('"a"', {"a"}, set()),
        ('W/"a"', set(), {"a"}),
        ('"a", W/"b"', {"a"}, {"b"}),
        (' , "a",,\t"b" ,', {"a", "b"}, set()),  # empty elements and OWS (5.6.1)
        ('"a,b"', {"a,b"}, set()),
        ('""', set(), set()),  # valid, matches no real tag
    ],
)
def test_entity_tags(value: str, strong: set, weak: set) -> None:
    tags = parse_entity_tags(value)
    assert tags is not None and not tags.star_tag
    assert {t for t in strong if tags.is_strong(t)} == strong
    assert {t for t in weak if tags.is_weak(t)} == weak


@pytest.mark.parametrize("value", ["a", 'w/"a"', '"a", *', '"a" "b"', '"a', "W/a", '"a"b'])
def test_entity_tags_invalid(value: str) -> None:
    assert parse_entity_tags(value) is None


def test_entity_tags_star() -> None:
    tags = parse_entity_tags(" * ")
    assert tags is not None and tags.star_tag


def test_entity_tags_no_backtracking_blowup() -> None:
    assert parse_entity_tags(", \t" * 20000 + "x") is None


# -- Range (14.1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "specs"),
    [
        ("bytes=0-0", [(0, 0)]),
        ("bytes=5-", [(5, None)]),
        ("bytes=-0", [(None, 0)]),
        ("Bytes=1-2", [(1, 2)]),
        ("bytes=0-1,", [(0, 1)]),
        ("bytes=,\t0-1 , 4-5", [(0, 1), (4, 5)]),
        ("bytes=007-0009", [(7, 9)]),
        ("bytes=0-" + "9" * 5000, [(0, 10**18)]),
        ("bytes=-" + "9" * 30, [(None, 10**18)]),
    ],
)
def test_byte_ranges(value: str, specs: list) -> None:
    assert parse_byte_ranges(value) == specs


@pytest.mark.parametrize(
    "value",
    [
        "bytes=5-1",
        "bytes=" + "9" * 31 + "-" + "9" * 30,  # last < first, compared exactly
        "bytes= 0-1",
        "bytes=0 -1",
        "bytes =0-1",
        "bytes=",
        "bytes=,",
        "bytes=abc",
        "bytes=-",
        "bytes=+1-2",
        "bytes=0-1-2",
        "items=0-1",
        "bytes",
        "",
    ],
)
def test_byte_ranges_ignored(value: str) -> None:
    assert parse_byte_ranges(value) is None


# -- evaluate: the 13.2.2 decision list -------------------------------------------


def test_no_conditions() -> None:
    assert plan({}) == Plan(200, 0, SIZE)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-Match": "*"}, 200),
        ({"If-Match": f'"{ETAG}"'}, 200),
        ({"If-Match": f'"x", "{ETAG}"'}, 200),
        ({"If-Match": '"x"'}, 412),
        ({"If-Match": f'W/"{ETAG}"'}, 412),  # strong comparison (13.1.1)
        ({"If-Match": ETAG}, 412),  # not an entity-tag: nothing matches
        ({"If-Match": f'"{ETAG}"', "If-Unmodified-Since": BEFORE}, 200),  # IUS ignored
        ({"If-Unmodified-Since": BEFORE}, 412),
        ({"If-Unmodified-Since": LM}, 200),
        ({"If-Unmodified-Since": AFTER}, 200),
        ({"If-Unmodified-Since": BEFORE.lower()}, 200),  # invalid: ignored
        ({"If-None-Match": f'"{ETAG}"'}, 304),
        ({"If-None-Match": f'W/"{ETAG}"'}, 304),  # weak comparison (13.1.2)
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"x"'}, 200),
        ({"If-None-Match": ETAG}, 200),
        ({"If-None-Match": '"x"', "If-Modified-Since": LM}, 200),  # IMS ignored
        ({"If-Modified-Since": LM}, 304),
        ({"If-Modified-Since": AFTER}, 304),
        ({"If-Modified-Since": BEFORE}, 200),
        ({"If-Modified-Since": LM.lower()}, 200),
        ({"If-Modified-Since": f"{LM}, {LM}"}, 200),
        ({"If-Match": '"x"', "If-None-Match": f'"{ETAG}"'}, 412),  # step 1 before step 3
        ({"If-Unmodified-Since": BEFORE, "If-Modified-Since": LM}, 412),
        ({"if-none-match": f'"{ETAG}"'}, 304),  # field names are case-insensitive
    ],
)
def test_preconditions(headers: dict, status: int) -> None:
    assert plan(headers).status == status
    assert plan(headers, "HEAD").status == status


def test_if_none_match_other_methods_412() -> None:
    assert plan({"If-None-Match": "*"}, "PUT").status == 412
    assert plan({"If-Modified-Since": LM}, "PUT").status == 200  # GET/HEAD only


def test_range_get_only() -> None:
    assert plan({"Range": "bytes=0-9"}) == Plan(206, 0, 10)
    assert plan({"Range": "bytes=0-9"}, "HEAD") == Plan(200, 0, SIZE)
    assert plan({"Range": "bytes=999999-"}, "HEAD") == Plan(200, 0, SIZE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=-1", Plan(206, 999, 1)),
        ("bytes=-5000", Plan(206, 0, SIZE)),
        ("bytes=990-5000", Plan(206, 990, 10)),
        ("bytes=1000-", Plan(416)),
        ("bytes=-0", Plan(416)),
        ("bytes=0-1,4-5", Plan(200, 0, SIZE)),  # several ranges: whole
        ("bytes=0-1,5000-", Plan(206, 0, 2)),  # one satisfiable of two
        ("bytes=5000-,6000-", Plan(416)),
        ("bytes=5-1", Plan(200, 0, SIZE)),
        ("items=0-1", Plan(200, 0, SIZE)),
    ],
)
def test_ranges(value: str, expected: Plan) -> None:
    assert plan({"Range": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("bytes=-1", Plan(200, 0, 0)), ("bytes=0-", Plan(416)), ("bytes=-0", Plan(416))],
)
def test_ranges_empty_item(value: str, expected: Plan) -> None:
    assert plan({"Range": value}, size=0) == expected


@pytest.mark.parametrize(
    ("if_range", "honoured"),
    [
        (f'"{ETAG}"', True),
        (f'W/"{ETAG}"', False),  # strong comparison (13.1.5)
        ('"x"', False),
        (ETAG, False),
        (LM, True),  # exact date
        (BEFORE, False),
        (AFTER, False),  # not "<=": exact match only
        (LM.lower(), False),
        ("garbage", False),
    ],
)
def test_if_range(if_range: str, honoured: bool) -> None:
    got = plan({"Range": "bytes=0-9", "If-Range": if_range})
    assert got == (Plan(206, 0, 10) if honoured else Plan(200, 0, SIZE))


def test_if_range_without_range_ignored() -> None:
    assert plan({"If-Range": '"x"'}) == Plan(200, 0, SIZE)


def test_preconditions_before_range() -> None:
    assert plan({"Range": "bytes=0-9", "If-None-Match": f'"{ETAG}"'}).status == 304
    assert plan({"Range": "bytes=0-9", "If-Match": '"x"'}).status == 412
    assert plan({"Range": "bytes=5000-", "If-Match": "*"}).status == 416
