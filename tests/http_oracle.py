"""An RFC 9110 oracle for ``GET``/``HEAD`` of one item, independent of the library.

The corpus is symbolic: every header value comes with the facts a reader of
RFC 9110 sees in it (is it a valid entity-tag list, does it match the current
tag strongly or weakly, is it a valid HTTP-date and is it before, at or after
``Last-Modified``, which byte ranges it names). The judge never parses a value
and never imports the library: it applies the RFC's decision list to those
facts. Values are built from each server's own ``ETag`` and ``Last-Modified``,
so the same corpus judges the library and nginx.

Profile: where RFC 9110 says SHOULD, the judge demands it (a single
satisfiable range gets 206, all ranges unsatisfiable get 416, a matching
If-Modified-Since gets 304). Where it gives a choice, every choice is
allowed: several ranges may be answered 200 (whole) or 206 (multipart, or a
single part if they coalesce); an invalid range set may be ignored (200) or
rejected (416).
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple

SIZES = [0, 1, 1000, (1 << 20) + 7]

Span = Tuple[int, int]
#: (status, what was sent): (start, stop) for 200/206, ("multipart", spans), or None.
Outcome = Tuple[int, object]

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_DAYS_LONG = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def imf_fixdate(seconds: int) -> str:
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def rfc850_date(seconds: int) -> str:
    t = time.gmtime(seconds)
    return (
        f"{_DAYS_LONG[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year % 100:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def asctime_date(seconds: int) -> str:
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


# -- the corpus: values and what they mean --------------------------------------------


@dataclass(frozen=True)
class Validator:
    """Inputs of one request: the server's ``ETag`` field value and ``Last-Modified`` second."""

    etag: str  # with quotes, as sent by the server
    modified: int


@dataclass(frozen=True)
class TagList:
    """An If-Match / If-None-Match value (RFC 9110 13.1.1, 13.1.2, 8.8.3)."""

    label: str
    make: Callable[[Validator], str]
    valid: bool  # "*" or a list of entity-tags (with the recipient's list leniency, 5.6.1)
    strong: bool  # a listed tag matches by strong comparison, or "*" (the item exists)
    weak: bool  # a listed tag matches by weak comparison, or "*"


TAG_LISTS = [
    TagList("star", lambda v: "*", True, True, True),
    TagList("current", lambda v: v.etag, True, True, True),
    TagList("stale", lambda v: '"stale-0"', True, False, False),
    TagList("weak", lambda v: "W/" + v.etag, True, False, True),
    TagList("list", lambda v: f'"stale-0", {v.etag}', True, True, True),
    TagList("list-weak", lambda v: f'"stale-0",W/{v.etag}', True, False, True),
    TagList("empty-elements", lambda v: f", {v.etag} ,", True, True, True),
    TagList("unquoted", lambda v: v.etag.strip('"'), False, False, False),
    TagList("lower-w", lambda v: "w/" + v.etag, False, False, False),
    TagList("star-in-list", lambda v: '"stale-0", *', False, False, False),
]


@dataclass(frozen=True)
class Date:
    """An If-Modified-Since / If-Unmodified-Since value (5.6.7, 13.1.3, 13.1.4)."""

    label: str
    make: Callable[[Validator], str]
    valid: bool  # one HTTP-date in one of the three forms, case-sensitive
    offset: int = 0  # its distance from Last-Modified, in seconds (when valid)


DAY = 86400
DATES = [
    Date("exact", lambda v: imf_fixdate(v.modified), True, 0),
    Date("past", lambda v: imf_fixdate(v.modified - DAY), True, -DAY),
    Date("past-1s", lambda v: imf_fixdate(v.modified - 1), True, -1),
    Date("future", lambda v: imf_fixdate(v.modified + DAY), True, DAY),
    Date("rfc850", lambda v: rfc850_date(v.modified), True, 0),
    Date("asctime", lambda v: asctime_date(v.modified), True, 0),
    Date("lower-case", lambda v: imf_fixdate(v.modified).lower(), False),
    Date("two-dates", lambda v: f"{imf_fixdate(v.modified)}, {imf_fixdate(v.modified)}", False),
    Date("numeric-zone", lambda v: imf_fixdate(v.modified)[:-3] + "+0000", False),
    Date("garbage", lambda v: "yesterday", False),
]


@dataclass(frozen=True)
class IfRange:
    """An If-Range value (13.1.5): does it pass (strong tag match, or exact valid date)?"""

    label: str
    make: Callable[[Validator], str]
    passes: bool


IF_RANGES = [
    IfRange("etag", lambda v: v.etag, True),
    IfRange("weak", lambda v: "W/" + v.etag, False),
    IfRange("stale", lambda v: '"stale-0"', False),
    IfRange("unquoted", lambda v: v.etag.strip('"'), False),
    IfRange("date-exact", lambda v: imf_fixdate(v.modified), True),
    IfRange("date-other", lambda v: imf_fixdate(v.modified - 1), False),
    IfRange("date-lower", lambda v: imf_fixdate(v.modified).lower(), False),
    IfRange("garbage", lambda v: "garbage", False),
]

Spec = Tuple[Optional[int], Optional[int]]  # (first, last) or (None, suffix-length)
HUGE = 10**23


@dataclass(frozen=True)
class RangeValue:
    """A Range value (14.1, 14.2): its specs, or why it has none."""

    label: str
    value: str
    specs: Tuple[Spec, ...] = ()
    kind: str = "bytes"  # "bytes", "invalid" (bad ranges-specifier), "unit" (not bytes)


RANGES = [
    RangeValue("first", "bytes=0-0", ((0, 0),)),
    RangeValue("open", "bytes=0-", ((0, None),)),
    RangeValue("open-1", "bytes=1-", ((1, None),)),
    RangeValue("suffix-1", "bytes=-1", ((None, 1),)),
    RangeValue("suffix-0", "bytes=-0", ((None, 0),)),
    RangeValue("suffix-500", "bytes=-500", ((None, 500),)),
    RangeValue("head-500", "bytes=0-499", ((0, 499),)),
    RangeValue("from-500", "bytes=500-", ((500, None),)),
    RangeValue("byte-999", "bytes=999-999", ((999, 999),)),
    RangeValue("from-1000", "bytes=1000-", ((1000, None),)),
    RangeValue("last-of-big", "bytes=1048582-", ((1048582, None),)),
    RangeValue("huge-first", f"bytes={HUGE}-", ((HUGE, None),)),
    RangeValue("huge-last", f"bytes=0-{HUGE}", ((0, HUGE),)),
    RangeValue("huge-suffix", f"bytes=-{HUGE}", ((None, HUGE),)),
    RangeValue("empty-element", "bytes=0-1,", ((0, 1),)),
    RangeValue("tab-after-comma", "bytes=,\t2-3", ((2, 3),)),
    RangeValue("unit-case", "Bytes=0-0", ((0, 0),)),
    RangeValue("multi", "bytes=0-1,4-5", ((0, 1), (4, 5))),
    RangeValue("multi-one-ok", "bytes=0-1,99999999-", ((0, 1), (99999999, None))),
    RangeValue("multi-none-ok", "bytes=99999999-,99999998-", ((99999999, None), (99999998, None))),
    RangeValue("backwards", "bytes=5-1", kind="invalid"),
    RangeValue("letters", "bytes=abc", kind="invalid"),
    RangeValue("empty-set", "bytes=", kind="invalid"),
    RangeValue("space-after-equals", "bytes= 0-1", kind="invalid"),
    RangeValue("other-unit", "items=0-1", kind="unit"),
]


@dataclass(frozen=True)
class Case:
    """One request: method and which corpus values it carries."""

    method: str
    if_match: Optional[TagList] = None
    if_unmodified_since: Optional[Date] = None
    if_none_match: Optional[TagList] = None
    if_modified_since: Optional[Date] = None
    if_range: Optional[IfRange] = None
    range: Optional[RangeValue] = None

    @property
    def label(self) -> str:
        parts = [self.method]
        for name in ("if_match", "if_unmodified_since", "if_none_match", "if_modified_since"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value.label}")
        if self.if_range is not None:
            parts.append(f"if_range={self.if_range.label}")
        if self.range is not None:
            parts.append(f"range={self.range.label}")
        return " ".join(parts)

    def headers(self, validator: Validator) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        if self.if_match is not None:
            headers["If-Match"] = self.if_match.make(validator)
        if self.if_unmodified_since is not None:
            headers["If-Unmodified-Since"] = self.if_unmodified_since.make(validator)
        if self.if_none_match is not None:
            headers["If-None-Match"] = self.if_none_match.make(validator)
        if self.if_modified_since is not None:
            headers["If-Modified-Since"] = self.if_modified_since.make(validator)
        if self.if_range is not None:
            headers["If-Range"] = self.if_range.make(validator)
        if self.range is not None:
            headers["Range"] = self.range.value
        return headers


def _pick(items: list, *labels: str) -> list:
    return [item for item in items if item.label in labels]


def corpus() -> List[Case]:
    """Every request of the suite (about 1,000 per item size)."""
    cases: List[Case] = []
    for method in ("GET", "HEAD"):
        # Range and If-Range.
        for rng in [None, *RANGES]:
            cases.append(Case(method, range=rng))
        for if_range, rng in itertools.product(
            IF_RANGES, _pick(RANGES, "first", "open-1", "suffix-1", "from-1000", "multi", "letters")
        ):
            cases.append(Case(method, if_range=if_range, range=rng))
        cases.append(Case(method, if_range=IF_RANGES[0]))  # If-Range without Range
        # Preconditions alone and in pairs, with and without a range.
        for rng in (None, RANGES[0], RANGES[2]):
            for tags in TAG_LISTS:
                cases.append(Case(method, if_match=tags, range=rng))
                cases.append(Case(method, if_none_match=tags, range=rng))
            for date in DATES:
                cases.append(Case(method, if_unmodified_since=date, range=rng))
                cases.append(Case(method, if_modified_since=date, range=rng))
        pairs_dates = _pick(DATES, "exact", "past", "future", "lower-case")
        key_tags = _pick(TAG_LISTS, "star", "current", "stale", "weak", "unquoted")
        for a, b in itertools.product(key_tags, pairs_dates):
            cases.append(Case(method, if_match=a, if_unmodified_since=b))  # 13.1.4: IUS ignored
            cases.append(Case(method, if_none_match=a, if_modified_since=b))  # 13.1.3: IMS ignored
        for a, b in itertools.product(key_tags, key_tags):
            cases.append(Case(method, if_match=a, if_none_match=b))  # 412 before 304
        for a, b in itertools.product(pairs_dates, pairs_dates):
            cases.append(Case(method, if_unmodified_since=a, if_modified_since=b))
        for a, b in itertools.product(pairs_dates, key_tags):
            cases.append(Case(method, if_unmodified_since=a, if_none_match=b))
        # Preconditions pass or fail before If-Range is looked at.
        for tags in _pick(TAG_LISTS, "current", "stale"):
            cases.append(Case(method, if_none_match=tags, if_range=IF_RANGES[0], range=RANGES[2]))
            cases.append(Case(method, if_match=tags, if_range=IF_RANGES[1], range=RANGES[2]))
    return cases


# -- the judge ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    allowed: FrozenSet[Outcome]
    rule: str


def _satisfiable(spec: Spec, size: int) -> Optional[Span]:
    """RFC 9110 14.1.2: an int-range with first-pos < length, a suffix-range of non-zero length."""
    first, last = spec
    if first is None:
        assert last is not None
        return (max(size - last, 0), size) if last > 0 else None
    if first >= size:
        return None
    return (first, size if last is None else min(last, size - 1) + 1)


def _range_outcomes(rng: RangeValue, size: int) -> Expect:
    full: Outcome = (200, (0, size))
    if rng.kind == "unit":
        return Expect(
            frozenset({full}), "14.2: a range unit the server does not know MUST be ignored"
        )
    if rng.kind == "invalid":
        return Expect(
            frozenset({full, (416, None)}),
            "14.2: an invalid ranges-specifier MAY be ignored or rejected",
        )
    spans = [s for s in (_satisfiable(spec, size) for spec in rng.specs) if s is not None]
    if not spans:
        return Expect(frozenset({(416, None)}), "14.2/15.5.17: no range satisfiable: 416")
    if len(spans) == 1:
        if spans[0][0] == spans[0][1]:
            return Expect(
                frozenset({full}),
                "14.1.2: a suffix of an empty item is satisfiable but selects nothing: "
                "200 (ignore Range)",
            )
        return Expect(frozenset({(206, spans[0])}), "14.2: one satisfiable range: 206 with it")
    allowed = {full, (206, ("multipart", tuple(spans)))}
    ordered = sorted(spans)
    start, stop = ordered[0]
    contiguous = True
    for a, b in ordered[1:]:
        if a > stop:
            contiguous = False
        stop = max(stop, b)
    if contiguous:
        allowed.add((206, (start, stop)))  # 15.3.7.2: ranges may be coalesced
    return Expect(frozenset(allowed), "14.2: several ranges: 200 whole or 206 multipart/coalesced")


def judge(case: Case, size: int) -> Expect:
    """What RFC 9110 allows for ``case`` on an item of ``size`` bytes (13.2.2, in order)."""
    safe = case.method in ("GET", "HEAD")
    # Step 1: If-Match, strong comparison, "*" true for an existing item (13.1.1).
    if case.if_match is not None:
        if not (case.if_match.valid and case.if_match.strong):
            return Expect(frozenset({(412, None)}), "13.1.1/13.2.2 step 1: If-Match false: 412")
    # Step 2: If-Unmodified-Since, only without If-Match; invalid dates ignored (13.1.4).
    elif case.if_unmodified_since is not None:
        date = case.if_unmodified_since
        if date.valid and date.offset < 0:
            return Expect(frozenset({(412, None)}), "13.1.4/13.2.2 step 2: modified since: 412")
    # Step 3: If-None-Match, weak comparison (13.1.2); an invalid list matches nothing.
    if case.if_none_match is not None:
        tags = case.if_none_match
        if tags.valid and tags.weak:
            status = 304 if safe else 412
            return Expect(
                frozenset({(status, None)}), "13.1.2/13.2.2 step 3: If-None-Match matched"
            )
    # Step 4: If-Modified-Since, GET/HEAD only, only without If-None-Match (13.1.3).
    elif safe and case.if_modified_since is not None:
        date = case.if_modified_since
        if date.valid and date.offset >= 0:
            return Expect(frozenset({(304, None)}), "13.1.3/13.2.2 step 4: not modified: 304")
    full: Outcome = (200, (0, size))
    # Step 5: Range is defined for GET only (14.2); If-Range without Range is ignored (13.1.5).
    if case.method != "GET" or case.range is None:
        return Expect(frozenset({full}), "14.2: no Range, or not a GET: 200 whole")
    if case.if_range is not None and not case.if_range.passes:
        return Expect(frozenset({full}), "13.1.5: If-Range does not match: ignore Range")
    return _range_outcomes(case.range, size)


# -- reading an answer ---------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive mapping
    body: bytes
    all_headers: List[Tuple[str, str]] = field(default_factory=list)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def _multipart_spans(answer: Answer, content: bytes, size: int) -> Optional[Tuple[Span, ...]]:
    match = re.search(r"boundary=\"?([^\";]+)", answer.headers.get("Content-Type", ""))
    if match is None:
        return None
    spans = []
    for part in answer.body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        found = re.search(rb"Content-Range: bytes (\d+)-(\d+)/(\d+)", head, re.IGNORECASE)
        if found is None or int(found.group(3)) != size:
            return None
        start, stop = int(found.group(1)), int(found.group(2)) + 1
        if data[: stop - start] != content[start:stop]:
            return None
        spans.append((start, stop))
    return tuple(spans)


#: 15.4.5: a 304 carries these fields when a 200 would.
FIELDS_304 = ("Cache-Control", "Content-Location", "ETag", "Expires", "Vary")


def observe(
    answer: Answer, method: str, content: bytes, full: Mapping[str, str] = {}
) -> Tuple[Optional[Outcome], List[str]]:
    """The outcome an answer shows, and the problems in it whatever was expected.

    ``full`` is the header of a plain 200 for the same item (for the 304 check).
    """
    size = len(content)
    problems: List[str] = []
    status, headers = answer.status, answer.headers
    head = method == "HEAD"
    if head and answer.body:
        problems.append("HEAD answer has a body")
    if status in (304, 412) and "Content-Range" in headers:
        problems.append(f"{status} carries Content-Range")
    if status == 304:
        if answer.body:
            problems.append("304 has a body")
        for name in FIELDS_304:
            if name in full and headers.get(name) != full[name]:
                problems.append(f"304 {name} is {headers.get(name)!r}, the 200's {full[name]!r}")
        return (304, None), problems
    if status in (412,):
        return (412, None), problems
    if status == 416:
        if headers.get("Content-Range") != f"bytes */{size}":
            problems.append(f"416 Content-Range {headers.get('Content-Range')!r}")
        return (416, None), problems
    if status == 200:
        if "Content-Range" in headers:
            problems.append("200 carries Content-Range")
        if headers.get("Content-Length") not in (None, str(size)):
            problems.append(f"200 Content-Length {headers.get('Content-Length')}")
        if not head and answer.body != content:
            problems.append("200 body is not the content")
        return (200, (0, size)), problems
    if status == 206:
        if headers.get("Content-Type", "").startswith("multipart/byteranges"):
            spans = _multipart_spans(answer, content, size)
            if spans is None:
                problems.append("206 multipart unreadable or wrong")
                return None, problems
            return (206, ("multipart", spans)), problems
        match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", ""))
        if match is None or int(match.group(3)) != size:
            problems.append(f"206 Content-Range {headers.get('Content-Range')!r}")
            return None, problems
        start, stop = int(match.group(1)), int(match.group(2)) + 1
        if headers.get("Content-Length") != str(stop - start):
            problems.append(f"206 Content-Length {headers.get('Content-Length')}")
        if not head and answer.body != content[start:stop]:
            problems.append("206 body is not the named bytes")
        return (206, (start, stop)), problems
    problems.append(f"unexpected status {status}")
    return None, problems


def verdict(case: Case, answer: Answer, content: bytes, full: Mapping[str, str] = {}) -> List[str]:
    """Violations of RFC 9110 in ``answer`` to ``case`` (empty when it conforms).

    ``full``: the header of a plain 200 for the same item.
    """
    expect = judge(case, len(content))
    outcome, problems = observe(answer, case.method, content, full)
    if outcome is not None and outcome not in expect.allowed:
        problems.append(
            f"got {outcome}, RFC allows {sorted(map(str, expect.allowed))} ({expect.rule})"
        )
    return problems


def iter_cases(sizes: List[int] = SIZES) -> Iterator[Tuple[int, Case]]:
    for size in sizes:
        for case in corpus():
            yield size, case
