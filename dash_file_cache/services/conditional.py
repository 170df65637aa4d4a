"""Preconditions and ranges of a ``GET``/``HEAD``, decided per RFC 9110.

A pure function of the method, the request's header fields, and the item's
size, strong entity tag and modification time: :func:`evaluate` returns the
:class:`Plan` (status 200/206/304/412/416 and the byte span to send). It
knows nothing of WSGI or ASGI, so every server adapter asks it the same way.

werkzeug does the conversions it gets right (a grammatical HTTP-date to a
``datetime``, a grammatical entity-tag list to ``ETags`` and their strong and
weak comparison). Its parsers are lenient where RFC 9110 says a recipient
must ignore the field, so each is wrapped by a grammar check (see the
comments, each checked against werkzeug 3.1). The order of evaluation is ours,
not ``werkzeug.http.is_resource_modified``: it reports "not modified" (a
304) for a failing If-Match where 412 is due, ignores an If-Unmodified-Since
in the past, and applies If-Modified-Since to any method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Mapping, Optional, Tuple

from werkzeug.datastructures import ETags
from werkzeug.http import parse_date, parse_etags

from .._grammar import OWS as _OWS
from .._grammar import is_token

__all__ = [
    "Plan",
    "evaluate",
    "parse_byte_ranges",
    "parse_entity_tags",
    "parse_http_date",
]


@dataclass(frozen=True)
class Plan:
    """What to answer: the status and which bytes of the content to send."""

    status: int
    start: int = 0
    length: int = 0


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DAY_L = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"(?P<time>[0-9]{2}:[0-9]{2}:)(?P<second>[0-9]{2})"
# RFC 9110 5.6.7: the three forms a recipient must accept; names are
# case-sensitive (%s"..."), so the patterns are too.
_IMF_FIXDATE = re.compile(rf"{_DAY}, (?P<day>[0-9]{{2}}) {_MONTH} (?P<year>[0-9]{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(rf"{_DAY_L}, (?P<day>[0-9]{{2}})-{_MONTH}-(?P<yy>[0-9]{{2}}) {_TIME} GMT")
_ASCTIME_DATE = re.compile(
    rf"{_DAY} {_MONTH} (?P<day>[0-9]{{2}}| [0-9]) {_TIME} (?P<year>[0-9]{{4}})"
)


def parse_http_date(value: str, now: Optional[datetime] = None) -> Optional[datetime]:
    """An HTTP-date (RFC 9110 5.6.7) as an aware UTC ``datetime``, else ``None``.

    werkzeug's ``parse_date`` accepts what is not an HTTP-date: lower-case
    names, a list of two dates (it reads the first), numeric zones
    (``+0000``), a missing ``GMT``, one-digit days. A recipient must ignore
    such a field (13.1.3, 13.1.4), so the grammar is checked here first; the
    calendar check (no 31 Feb, no hour 24) stays werkzeug's. A two-digit year
    is read per 5.6.7 (more than 50 years ahead means the century before),
    not as ``email.utils`` does (69-99 always 19xx). A leap second counts as
    the second before it.
    """
    value = value.strip(_OWS)
    match = _IMF_FIXDATE.fullmatch(value) or _ASCTIME_DATE.fullmatch(value)
    if match is not None:
        year = int(match["year"])
    else:
        match = _RFC850_DATE.fullmatch(value)
        if match is None:
            return None
        this_year = (now or datetime.now(timezone.utc)).year
        year = this_year - this_year % 100 + int(match["yy"])
        if year > this_year + 50:
            year -= 100
    second = min(int(match["second"]), 59)
    return parse_date(
        f"Mon, {match['day'].strip():0>2} {match['month']} {year:04d} "
        f"{match['time']}{second:02d} GMT"
    )


# RFC 9110 8.8.3: entity-tag = [ %s"W/" ] DQUOTE *etagc DQUOTE
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_ENTITY_TAG_RE = re.compile(_ENTITY_TAG)
# A list (5.6.1) as a recipient must read it: empty elements and OWS around commas.
# (Written so that each space has one place in the match: no backtracking blow-up.)
_ENTITY_TAG_LIST = re.compile(rf"(?:{_ENTITY_TAG})?(?:[ \t]*,(?:[ \t]*{_ENTITY_TAG})?)*")


def parse_entity_tags(value: str) -> Optional[ETags]:
    """``"*"`` or a list of entity-tags (If-Match, If-None-Match), else ``None``.

    werkzeug's ``parse_etags`` takes an unquoted token as a strong tag,
    ``w/`` as weak, and a ``*`` inside a list as a tag named ``*``: none of
    them is an entity-tag (8.8.3), so an invalid field is told apart here and
    only a grammatical one goes to werkzeug.
    """
    value = value.strip(_OWS)
    if value == "*":
        return ETags(star_tag=True)
    if not _ENTITY_TAG_LIST.fullmatch(value):
        return None
    return parse_etags(value)


ByteRangeSpec = Tuple[Optional[int], Optional[int]]
_RANGE_SPEC = re.compile(r"(?P<first>[0-9]+)-(?P<last>[0-9]*)|-(?P<suffix>[0-9]+)")
#: Larger than any size; longer numerals are clamped to it (after comparing them exactly).
_HUGE = 10**18


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > 18 else int(digits)


def _less(a: str, b: str) -> bool:
    """``int(a) < int(b)`` without converting numerals of any length."""
    a, b = a.lstrip("0"), b.lstrip("0")
    return (len(a), a) < (len(b), b)


def parse_byte_ranges(value: str) -> Optional[List[ByteRangeSpec]]:
    """The byte range-specs of a ``Range`` field (RFC 9110 14.1.1), else ``None``.

    Each spec is ``(first, last)`` (``last`` ``None`` when open) or
    ``(None, suffix_length)``. ``None`` means a unit other than bytes or an
    invalid specifier: the field is then ignored (14.2).

    Not werkzeug's ``parse_range_header``, which is wrong both ways: it drops
    a valid field with an empty list element (``bytes=0-1,``), a suffix length
    of 0 (``bytes=-0``, valid and unsatisfiable) or a numeral longer than
    Python's int-to-str limit, and accepts whitespace inside a spec
    (``bytes=0 -1``).
    """
    unit, sep, specs = value.strip(_OWS).partition("=")
    if not sep or not is_token(unit) or unit.lower() != "bytes":
        return None
    parsed: List[ByteRangeSpec] = []
    for index, element in enumerate(specs.split(",")):
        # OWS is allowed around commas only, not after "=".
        stripped = element.strip(_OWS) if index else element.rstrip(_OWS)
        if not stripped:
            continue
        match = _RANGE_SPEC.fullmatch(stripped)
        if match is None:
            return None
        if match["suffix"] is not None:
            parsed.append((None, _number(match["suffix"])))
            continue
        first, last = match["first"], match["last"]
        if last and _less(last, first):
            return None  # 14.1.1: last-pos < first-pos makes the whole field invalid
        parsed.append((_number(first), _number(last) if last else None))
    return parsed or None


def _span(spec: ByteRangeSpec, size: int) -> Optional[Tuple[int, int]]:
    """``(start, stop)`` of a satisfiable spec (14.1.2), else ``None``."""
    first, last = spec
    if first is None:
        assert last is not None
        return (max(size - last, 0), size) if last > 0 else None
    if first >= size:
        return None
    return (first, size if last is None else min(last + 1, size))


def _plan_range(value: str, size: int) -> Plan:
    """Plan for a ``GET`` whose ``Range`` is to be honoured."""
    full = Plan(200, 0, size)
    specs = parse_byte_ranges(value)
    if specs is None:
        return full  # 14.2: ignore an unknown unit or an invalid specifier
    spans = [span for span in (_span(spec, size) for spec in specs) if span is not None]
    if not spans:
        return Plan(416)  # 14.2, 15.5.17: none satisfiable
    if len(spans) > 1 or spans[0][0] == spans[0][1]:
        # Several ranges: served whole rather than as multipart/byteranges
        # (14.2 lets a server ignore Range). A satisfiable suffix of an empty
        # item selects zero bytes, which no Content-Range can name: whole (empty).
        return full
    start, stop = spans[0]
    return Plan(206, start, stop - start)


def _if_range_passes(value: str, etag: str, modified: int) -> bool:
    """If-Range (13.1.5): strong comparison of a tag, exact match of a date.

    Not werkzeug's ``parse_if_range_header``: it drops ``W/`` (so a weak
    tag would pass), and reads any other token as a tag and lower-case dates
    as dates. A field that is neither an entity-tag nor an HTTP-date fails.
    """
    value = value.strip(_OWS)
    if _ENTITY_TAG_RE.fullmatch(value):
        return value == f'"{etag}"'  # a weak tag never equals a strong one
    date = parse_http_date(value)
    return date is not None and int(date.timestamp()) == modified


def _header_fields(headers: Mapping[str, str]) -> dict[str, str]:
    """Field names lower-cased; a name repeated in another case is joined (5.3)."""
    fields: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


def evaluate(method: str, headers: Mapping[str, str], size: int, etag: str, mtime: float) -> Plan:
    """Decide status and byte span, in the order of RFC 9110 13.2.2.

    Arguments:
        method: the request method (``GET`` and ``HEAD`` are served).
        headers: request field name -> value; a field sent several times
            comes as one value joined with ``", "`` (RFC 9110 5.3).
        size: content length in bytes.
        etag: the item's strong entity tag, without quotes.
        mtime: modification time (POSIX seconds); ``Last-Modified`` is its
            whole second.

    Returns:
        ``Plan(412)`` when If-Match (13.1.1, strong comparison, ``*`` passes)
        or, without If-Match, If-Unmodified-Since (13.1.4) fails;
        ``Plan(304)`` when If-None-Match matches (13.1.2, weak comparison;
        412 for methods other than GET/HEAD) or, without If-None-Match and for
        GET/HEAD only, the item is not newer than If-Modified-Since (13.1.3);
        for ``GET`` with ``Range`` (14.2; If-Range passing, 13.1.5): 206 and
        the span of the one satisfiable range, 416 if none is satisfiable;
        else ``Plan(200, 0, size)``. Invalid dates are ignored; an invalid
        entity-tag list matches nothing.
    """
    fields = _header_fields(headers)
    modified = int(mtime)
    if "if-match" in fields:
        tags = parse_entity_tags(fields["if-match"])
        if tags is None or not tags.contains(etag):
            return Plan(412)
    elif "if-unmodified-since" in fields:
        date = parse_http_date(fields["if-unmodified-since"])
        if date is not None and modified > date.timestamp():
            return Plan(412)
    safe = method in ("GET", "HEAD")
    if "if-none-match" in fields:
        tags = parse_entity_tags(fields["if-none-match"])
        if tags is not None and tags.contains_weak(etag):
            return Plan(304 if safe else 412)
    elif safe and "if-modified-since" in fields:
        date = parse_http_date(fields["if-modified-since"])
        if date is not None and modified <= date.timestamp():
            return Plan(304)
    if method != "GET" or "range" not in fields:
        return Plan(200, 0, size)  # 14.2: Range is defined for GET only
    if "if-range" in fields and not _if_range_passes(fields["if-range"], etag, modified):
        return Plan(200, 0, size)
    return _plan_range(fields["range"], size)
