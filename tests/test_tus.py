"""The sans-I/O tus 1.0.0 core (``dash_file_cache.services.tus``).

- the spec's rules, one row per MUST (``tests/tus_spec_table.py``);
- the I/O layer's reports (disconnects, overflow, checksums, a bad report);
- hostile input: every answer 4xx, never an exception (hand-picked cases and
  a hypothesis property over every decision function).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_file_cache.services.http import Decision, Request
from dash_file_cache.services.tus import (
    ALGORITHMS,
    Concatenate,
    Create,
    Terminate,
    TusError,
    TusPolicy,
    UploadState,
    Write,
    decide_concatenate,
    decide_create,
    decide_delete,
    decide_head,
    decide_options,
    decide_patch,
    digest_size,
    finish_create,
    finish_patch,
    new_hasher,
    parse_concat,
    parse_size,
    upload_id_of,
)
from tests.tus_spec_table import (
    BASE,
    HOST_BASE,
    NOW,
    POLICY,
    RULES,
    STREAM,
    Rule,
    b64,
    create,
    field,
    head,
    partial,
    patch,
    request,
    uid,
    upload,
)


@pytest.mark.parametrize("row", RULES, ids=[f"{r.section}: {r.text}" for r in RULES])
def test_spec_rule(row: Rule) -> None:
    row.check()


def test_table_covers_every_section() -> None:
    sections = {row.section.split(" / ")[0] for row in RULES}
    assert sections == {
        "Core Protocol",
        "Creation",
        "Creation With Upload",
        "Expiration",
        "Checksum",
        "Termination",
        "Concatenation",
    }


# -- policy and state ------------------------------------------------------------
def test_options_lists_only_enabled_extensions() -> None:
    policy = TusPolicy(extensions=frozenset({"creation", "checksum"}))
    answer = decide_options(policy)
    assert field(answer, "Tus-Extension") == "creation,checksum"
    assert field(answer, "Tus-Checksum-Algorithm") == "sha1,sha256,md5"
    assert (
        field(decide_options(TusPolicy(extensions=frozenset())), "Tus-Checksum-Algorithm") is None
    )
    full = field(decide_options(POLICY), "Tus-Extension")
    assert full == (
        "creation,creation-with-upload,creation-defer-length,termination,expiration,"
        "checksum,concatenation"
    )
    assert answer.status == 204 and field(answer, "Content-Length") is None


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"max_size": -1}, ValueError),
        ({"max_size": 2**63}, ValueError),
        ({"max_size": 1.5}, TypeError),
        ({"max_size": True}, TypeError),
        ({"expires": 0}, ValueError),
        ({"expires": float("inf")}, ValueError),
        ({"expires": "60"}, TypeError),
        ({"extensions": frozenset({"expiration"})}, ValueError),
        ({"extensions": frozenset({"nope"})}, ValueError),
        ({"extensions": "creation"}, TypeError),
        ({"extensions": frozenset({"concatenation"})}, ValueError),
    ],
)
def test_policy_validates_arguments(kwargs: Dict[str, object], exc: type) -> None:
    name = next(iter(kwargs))
    with pytest.raises(exc, match=name):
        TusPolicy(**kwargs)  # type: ignore[arg-type]


def test_disabled_extensions_refuse() -> None:
    bare = TusPolicy(extensions=frozenset({"creation"}))
    for headers in (
        {"Upload-Length": "5", "Upload-Concat": "partial"},
        {"Upload-Defer-Length": "1"},
        {"Upload-Length": "5", "Content-Length": "5", **STREAM},
    ):
        answer = create(headers, bare)
        assert isinstance(answer, Decision) and answer.status == 400, headers
    answer = patch(
        upload(), {"Upload-Offset": "0", "Upload-Checksum": "sha1 " + "A" * 27 + "="}, bare
    )
    assert isinstance(answer, Decision) and answer.status == 400
    deleted = decide_delete(request("DELETE"), upload(), bare, now=NOW)
    assert isinstance(deleted, Decision) and deleted.status == 405
    assert "DELETE" not in (field(deleted, "Allow") or "")
    none = TusPolicy(extensions=frozenset())
    assert isinstance(create({"Upload-Length": "5"}, none), Decision)


def test_state_round_trips_through_json() -> None:
    state = upload(metadata={"filename": "é.csv".encode(), "flag": b""}, offset=3, is_partial=True)
    again = UploadState.from_record(json.loads(json.dumps(state.to_record())))
    assert again == state
    with pytest.raises(ValueError):
        UploadState.from_record({"upload_id": "../x"})
    with pytest.raises(ValueError):
        UploadState.from_record({**state.to_record(), "offset": 500})


def test_ready_means_whole_and_not_a_partial() -> None:
    assert upload(offset=100).ready
    assert not upload(offset=99).ready
    assert not upload(length=None, offset=5).ready
    assert not partial(1, 5).ready
    plan = create({"Upload-Concat": f"final;{BASE}/{uid(1)}"})
    assert isinstance(plan, Concatenate)
    final = decide_concatenate(plan, [partial(1, 5)], POLICY, now=NOW)
    assert isinstance(final, Create) and final.state.ready


def test_state_is_immutable() -> None:
    state = upload(metadata={"a": b"1"})
    with pytest.raises(TypeError):
        state.metadata["a"] = b"2"  # type: ignore[index]
    with pytest.raises(AttributeError):
        state.offset = 5  # type: ignore[misc]


def test_hasher_factory() -> None:
    for name in ALGORITHMS:
        hasher = new_hasher(name)
        hasher.update(b"hello ")
        hasher.update(b"world")
        assert hasher.digest() == hashlib.new(name, b"hello world").digest()
        assert digest_size(name) == len(hasher.digest())
    with pytest.raises(ValueError):
        new_hasher("crc32")


# -- creation, with and without a body --------------------------------------------
def test_creation_with_upload_whole_file_completes() -> None:
    plan = create({"Upload-Length": "5", "Content-Length": "5", **STREAM})
    assert isinstance(plan, Create) and plan.body is not None
    outcome = finish_create(plan, POLICY, creation_url=BASE, now=NOW, stored=5)
    assert outcome.state.completed and field(outcome.decision, "Upload-Offset") == "5"
    assert field(outcome.decision, "Upload-Expires") is None  # finished: does not expire


def test_creation_body_longer_than_length_refused_upfront() -> None:
    answer = create({"Upload-Length": "5", "Content-Length": "6", **STREAM})
    assert isinstance(answer, Decision) and answer.status == 413


def test_creation_body_refused_leaves_offset_zero() -> None:
    digest = b64(hashlib.sha1(b"other").digest())
    plan = create(
        {"Upload-Length": "5", "Content-Length": "5", "Upload-Checksum": f"sha1 {digest}", **STREAM}
    )
    assert isinstance(plan, Create) and plan.body is not None
    hasher = new_hasher("sha1")
    hasher.update(b"hello")
    outcome = finish_create(
        plan, POLICY, creation_url=BASE, now=NOW, stored=5, digest=hasher.digest()
    )
    assert outcome.decision.status == 201 and field(outcome.decision, "Upload-Offset") == "0"
    assert outcome.state == plan.state


def test_creation_deferred_body_bounded_by_max_size() -> None:
    plan = create({"Upload-Defer-Length": "1", "Transfer-Encoding": "chunked", **STREAM})
    assert isinstance(plan, Create) and plan.body is not None
    assert plan.body.limit == 1000 and plan.body.content_length is None
    unbounded = create({"Upload-Defer-Length": "1", **STREAM}, TusPolicy())
    assert isinstance(unbounded, Create) and unbounded.body is not None
    assert unbounded.body.limit is None


def test_creation_without_body_ignores_content_type_of_empty_body() -> None:
    plan = create({"Upload-Length": "5", "Content-Length": "0", "Content-Type": "text/plain"})
    assert isinstance(plan, Create) and plan.body is None
    with pytest.raises(ValueError):
        finish_create(plan, POLICY, creation_url=BASE, now=NOW, stored=1)


def test_final_with_body_or_defer_refused() -> None:
    url = f"{BASE}/{uid(1)}"
    for extra in ({"Content-Length": "3", **STREAM}, {"Upload-Defer-Length": "1"}):
        answer = create({"Upload-Concat": f"final;{url}", **extra})
        assert isinstance(answer, Decision) and answer.status == 400, extra


def test_concatenate_refusals() -> None:
    plan = create({"Upload-Concat": f"final;{BASE}/{uid(1)} {BASE}/{uid(2)}"})
    assert isinstance(plan, Concatenate)
    not_partial = upload(2, offset=100)
    expired = upload(2, length=6, offset=3, is_partial=True, expires_at=NOW - 1)
    for partials in (
        [partial(1, 5), None],
        [partial(1, 5)],
        [partial(1, 5), not_partial],
        [partial(1, 5), expired],
    ):
        answer = decide_concatenate(plan, partials, POLICY, now=NOW)
        assert isinstance(answer, Decision) and answer.status == 400
    big = decide_concatenate(plan, [partial(1, 600), partial(2, 600)], POLICY, now=NOW)
    assert isinstance(big, Decision) and big.status == 413
    done = decide_concatenate(plan, [partial(1, 5), partial(2, 6)], POLICY, now=NOW)
    assert isinstance(done, Create)
    created = finish_create(done, POLICY, creation_url=BASE, now=NOW)
    assert created.decision.status == 201 and created.state.completed


# -- PATCH and what the I/O layer reports ----------------------------------------
def plan_for(state: UploadState, headers: Optional[Dict[str, str]] = None) -> Write:
    plan = patch(state, {"Upload-Offset": str(state.offset), **(headers or {})})
    assert isinstance(plan, Write), plan
    return plan


def test_patch_limit_never_past_length() -> None:
    state = upload(offset=90)
    assert plan_for(state).limit == 10
    answer = patch(state, {"Upload-Offset": "90", "Content-Length": "11"})
    assert isinstance(answer, Decision) and answer.status == 413
    overflow = finish_patch(state, plan_for(state), POLICY, now=NOW, stored=10, overflow=True)
    assert overflow.decision.status == 413 and overflow.state == state
    with pytest.raises(ValueError):
        finish_patch(state, plan_for(state), POLICY, now=NOW, stored=11)


def test_patch_on_complete_upload() -> None:
    state = upload(offset=100)
    empty = finish_patch(state, plan_for(state), POLICY, now=NOW, stored=0)
    assert empty.decision.status == 204 and field(empty.decision, "Upload-Offset") == "100"
    answer = patch(state, {"Upload-Offset": "100", "Content-Length": "1"})
    assert isinstance(answer, Decision) and answer.status == 413


def test_disconnect_with_checksum_keeps_nothing() -> None:
    state = upload()
    plan = plan_for(state, {"Upload-Checksum": "sha1 " + b64(hashlib.sha1(b"abc").digest())})
    cut = finish_patch(state, plan, POLICY, now=NOW, stored=2, complete=False)
    assert cut.state == state and cut.decision.status == 400
    with pytest.raises(ValueError):
        finish_patch(state, plan, POLICY, now=NOW, stored=3)  # no digest reported


def test_patch_renews_expiry_and_answers_without_body() -> None:
    state = upload(expires_at=NOW + 10)
    outcome = finish_patch(state, plan_for(state), POLICY, now=NOW + 5, stored=3)
    assert outcome.state.expires_at == NOW + 5 + 3600
    assert outcome.decision.body == b"" and field(outcome.decision, "Content-Length") is None


def test_patch_deferred_length_rules() -> None:
    state = upload(length=None, offset=50)
    for value, status in (("49", 400), ("1001", 413), ("x", 400)):
        answer = patch(state, {"Upload-Offset": "50", "Upload-Length": value})
        assert isinstance(answer, Decision) and answer.status == status, value
    plan = plan_for(state)
    assert plan.limit == 950 and plan.length is None
    kept = finish_patch(state, plan, POLICY, now=NOW, stored=20)
    assert kept.state.length is None and kept.state.offset == 70


def test_finish_refuses_a_stale_state() -> None:
    state = upload(offset=10)
    plan = plan_for(state)
    with pytest.raises(ValueError, match="lock"):
        finish_patch(upload(offset=20), plan, POLICY, now=NOW, stored=1)


# -- hostile input ---------------------------------------------------------------
HUGE = "9" * 5000


@pytest.mark.parametrize(
    "headers",
    [
        {"Upload-Length": "-5"},
        {"Upload-Length": HUGE},
        {"Upload-Length": str(2**63)},
        {"Upload-Length": "١٢"},  # Arabic-Indic digits: int() takes them, tus does not
        {"Upload-Length": "1_000"},
        {"Upload-Length": " 12 3"},
        {"Upload-Length": "0x1f"},
        {"Upload-Defer-Length": "01"},
        {"Upload-Length": "5", "Upload-Metadata": "k !!!!"},
        {"Upload-Length": "5", "Upload-Metadata": "k YWJj\x7f"},
        {"Upload-Length": "5", "Upload-Metadata": "a YQ==,a YQ=="},
        {"Upload-Length": "5", "Upload-Metadata": "ключ YQ=="},
        {"Upload-Length": "5", "Upload-Metadata": "a YQ== YQ=="},
        {"Upload-Concat": "final;/elsewhere/" + "0" * 32},
        {"Upload-Length": "5", "Tus-Resumable": "1.0.0 "},
    ],
)
def test_hostile_creation_fields(headers: Dict[str, str]) -> None:
    answer = create(headers)
    assert isinstance(answer, Decision) and 400 <= answer.status < 500, headers


@pytest.mark.parametrize(
    "url",
    [
        "/elsewhere/" + uid(1),
        f"{BASE}/../{uid(1)}",
        f"{BASE}/{uid(1)}/x",
        f"{BASE}/{uid(1)}?a=1",
        f"{BASE}/{uid(1)}#f",
        f"{BASE}/not-a-uid",
        f"{BASE}/{uid(0xABC).upper()}",
        f"{BASE}/%2e%2e/etc/passwd",
        f"{BASE}/",
        f"{BASE}",
        "https://evil.example/app/_dash-upload/" + uid(1),
        "http://files.example/app/_dash-upload/" + uid(1),
        "http://[::1/app/_dash-upload/" + uid(1),
        "file:///etc/passwd",
    ],
)
def test_concat_urls_outside_the_endpoint(url: str) -> None:
    with pytest.raises(TusError) as caught:
        parse_concat(f"final;{url}", HOST_BASE)
    assert caught.value.status == 400
    answer = decide_create(
        request("POST", {"Upload-Concat": f"final;{url}"}),
        POLICY,
        creation_url=HOST_BASE,
        upload_id=uid(9),
        now=NOW,
    )
    assert isinstance(answer, Decision) and answer.status == 400


@pytest.mark.parametrize(
    "segment",
    [
        "",
        "..",
        "../../etc/passwd",
        uid(0xABC).upper(),
        uid(1)[:-1],
        uid(1) + "0",
        "*",
        uid(1) + "/",
    ],
)
def test_ids_not_of_the_uid_form(segment: str) -> None:
    assert upload_id_of(segment) is None
    # the I/O layer then looks nothing up: the state is unknown
    assert head(None).status == 404


def test_uid_with_process_tag_is_an_id() -> None:
    tagged = uid(1) + "-0123456789ab"
    assert upload_id_of(tagged) == tagged


@pytest.mark.parametrize(
    "headers",
    [
        {"Upload-Offset": "-1"},
        {"Upload-Offset": HUGE},
        {"Upload-Offset": "0", "Content-Length": "-1"},
        {"Upload-Offset": "0", "Content-Length": "abc"},
        {"Upload-Offset": "0", "Upload-Checksum": "sha1 not-base64"},
        {"Upload-Offset": "0", "Upload-Checksum": "whirlpool AAAA"},
        {"Upload-Offset": "0", "Upload-Checksum": ""},
        {"Upload-Offset": "0", "Upload-Length": "-3"},
    ],
)
def test_hostile_patch_fields(headers: Dict[str, str]) -> None:
    answer = patch(upload(), headers)
    assert isinstance(answer, Decision) and 400 <= answer.status < 500, headers


def test_repeated_fields_refused() -> None:
    pairs: List[Tuple[str, str]] = [
        ("Tus-Resumable", "1.0.0"),
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", "0"),
        ("Upload-Offset", "0"),
    ]
    answer = decide_patch(Request.from_pairs("PATCH", pairs, b""), upload(), POLICY, now=NOW)
    assert isinstance(answer, Decision) and answer.status == 400


def test_parse_size_bounds() -> None:
    assert parse_size("0009", "x") == 9
    assert parse_size(str(2**63 - 1), "x") == 2**63 - 1
    for bad in (str(2**63), "0" * 100 + "1" * 30, HUGE):
        with pytest.raises(TusError):
            parse_size(bad, "x")


def test_errors_are_json_with_tus_resumable() -> None:
    answer = create({"Upload-Length": "-1"})
    assert isinstance(answer, Decision)
    assert json.loads(answer.body)["error"]
    assert field(answer, "Content-Type") == "application/json"
    assert field(answer, "Tus-Resumable") == "1.0.0"


# -- no header value makes a decision raise ---------------------------------------
FIELD_NAMES = [
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Defer-Length",
    "Upload-Metadata",
    "Upload-Checksum",
    "Upload-Concat",
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
    "X-HTTP-Method-Override",
]
# What a server can deliver as a field value: latin-1, no CR/LF (werkzeug refuses those).
latin1_text = st.text(
    st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"), max_size=80
)
tus_like = st.one_of(
    latin1_text,
    st.sampled_from(["1.0.0", "1", "0", "-1", "partial", "application/offset+octet-stream"]),
    st.builds(lambda n: str(n), st.integers(min_value=-(2**70), max_value=2**70)),
    st.builds(lambda a, d: f"{a} {d}", st.sampled_from(["sha1", "md5", "x"]), latin1_text),
    st.builds(lambda s: f"final;{s}", latin1_text),
    st.builds(lambda s: f"k {base64.b64encode(s.encode('latin-1')).decode()}", latin1_text),
)
header_sets = st.lists(st.tuples(st.sampled_from(FIELD_NAMES), tus_like), max_size=8)
states = st.sampled_from(
    [
        None,
        upload(),
        upload(offset=100),
        upload(length=None, offset=5),
        upload(expires_at=NOW - 1, offset=3),
        partial(1, 5),
    ]
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(pairs=header_sets, state=states)
def test_no_header_value_makes_a_decision_raise(
    pairs: List[Tuple[str, str]], state: Optional[UploadState]
) -> None:
    for method in ("POST", "HEAD", "PATCH", "DELETE"):
        req = Request.from_pairs(method, pairs, b"")
        answers = [
            decide_create(req, POLICY, creation_url=BASE, upload_id=uid(9), now=NOW),
            decide_head(req, state, creation_url=BASE, now=NOW),
            decide_patch(req, state, POLICY, now=NOW),
            decide_delete(req, state, POLICY, now=NOW),
        ]
        for answer in answers:
            if isinstance(answer, Decision):
                assert 200 <= answer.status < 500
                for name, value in answer.headers:
                    value.encode("latin-1")
                    assert not any(c in value for c in "\r\n\0"), (name, value)
            else:
                assert isinstance(answer, (Create, Concatenate, Write, Terminate))
