"""The tus 1.0.0 rules, one row per MUST / MUST NOT of the spec, for ``tests/test_tus.py``.

Taken from the text of the spec (tus/tus-resumable-upload-protocol, protocol.md,
version 1.0.0), section by section, and paraphrased. A few SHOULDs that the issue
makes binding for us are rows too, marked "(SHOULD)". Rules only a client can
break (e.g. "the client must send a POST") appear as the server's side of them:
what the server does when a client breaks them. Each row's check drives the pure
functions of :mod:`dash_file_cache.services.tus` and asserts the answer; the
rows were written from the spec, not from the module.

Each row also has an HTTP form (:data:`LIVE`, at the end): the same rule as
exchanges with a real server, run by ``tests/test_tus_live.py`` on every
backend; a row without one says why in :data:`NOT_OVER_HTTP`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, List, Optional, TypedDict, Union
from urllib.parse import urljoin, urlsplit

import requests

from dash_file_cache.services.http import Decision, Request
from dash_file_cache.services.tus import (
    Concatenate,
    Create,
    Outcome,
    Terminate,
    TusPolicy,
    UploadState,
    Write,
    decide_concatenate,
    decide_create,
    decide_delete,
    decide_head,
    decide_options,
    decide_patch,
    finish_create,
    finish_patch,
    method_of,
    new_hasher,
)
from tests.support.http import open_patch

NOW = 1_750_000_000.0
BASE = "/app/_dash-upload"
HOST_BASE = "https://files.example/app/_dash-upload"
POLICY = TusPolicy(max_size=1000, expires=3600)
NO_EXPIRY = TusPolicy(max_size=1000)
STREAM = {"Content-Type": "application/offset+octet-stream"}


def uid(n: int = 0) -> str:
    """A well-formed upload id."""
    return f"{n:032x}"


def request(method: str, headers: Optional[Dict[str, str]] = None, version: bool = True) -> Request:
    """A request with ``Tus-Resumable: 1.0.0`` (unless ``version`` is false) and ``headers``."""
    pairs = [("Tus-Resumable", "1.0.0")] if version else []
    pairs += list((headers or {}).items())
    return Request.from_pairs(method, pairs, b"")


def field(decision: Decision, name: str) -> Optional[str]:
    """The one value of ``name`` in an answer (``None`` when absent)."""
    values = [v for k, v in decision.headers if k.lower() == name.lower()]
    assert len(values) <= 1, f"{name} sent {len(values)} times"
    return values[0] if values else None


def upload(n: int = 1, **fields: object) -> UploadState:
    """A stored upload: 100 bytes declared, offset 0, unless ``fields`` say otherwise."""
    values: Dict[str, object] = {"length": 100, "expires_at": NOW + 3600}
    values.update(fields)
    return UploadState(uid(n), **values)  # type: ignore[arg-type]


def create(headers: Dict[str, str], policy: TusPolicy = POLICY, **kw: object) -> object:
    return decide_create(
        request("POST", headers, **kw),  # type: ignore[arg-type]
        policy,
        creation_url=BASE,
        upload_id=uid(9),
        now=NOW,
    )


def created(headers: Dict[str, str], policy: TusPolicy = POLICY) -> Decision:
    """The 201 of a successful bodiless creation."""
    plan = create(headers, policy)
    assert isinstance(plan, Create), plan
    return finish_create(plan, policy, creation_url=BASE, now=NOW).decision


def patch(
    state: Optional[UploadState], headers: Dict[str, str], policy: TusPolicy = POLICY
) -> Union[Decision, Write]:
    return decide_patch(request("PATCH", {**STREAM, **headers}), state, policy, now=NOW)


def patched(
    state: UploadState, data: bytes, headers: Dict[str, str], policy: TusPolicy = POLICY
) -> Outcome:
    """PATCH ``data`` at the state's offset; the whole body arrives."""
    plan = patch(state, {"Upload-Offset": str(state.offset), **headers}, policy)
    assert isinstance(plan, Write), plan
    hasher = new_hasher(plan.checksum.algorithm) if plan.checksum else None
    if hasher:
        hasher.update(data)
    return finish_patch(
        state,
        plan,
        policy,
        now=NOW,
        stored=len(data),
        digest=hasher.digest() if hasher else None,
    )


def head(state: Optional[UploadState], headers: Optional[Dict[str, str]] = None) -> Decision:
    return decide_head(request("HEAD", headers), state, creation_url=BASE, now=NOW)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


Check = Callable[[], None]


@dataclass(frozen=True)
class Rule:
    section: str
    text: str
    check: Check


RULES: List[Rule] = []


def rule(section: str, text: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES.append(Rule(section, text, check))
        return check

    return register


# == Core Protocol ==============================================================
@rule("Core Protocol / Upload-Offset", "An offset is a non-negative integer: others refused (400)")
def offset_is_non_negative_integer() -> None:
    for bad in ("-1", "1.5", "abc", "", "+3", "0x10"):
        answer = patch(upload(), {"Upload-Offset": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad
    plan = patch(upload(), {"Upload-Offset": "0"})
    assert isinstance(plan, Write)


@rule("Core Protocol / Upload-Length", "A length is a non-negative integer: others refused (400)")
def length_is_non_negative_integer() -> None:
    for bad in ("-1", "1e3", "ten", " "):
        answer = create({"Upload-Length": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad
    assert isinstance(create({"Upload-Length": "0"}), Create)


@rule("Core Protocol / Tus-Version", "Tus-Version lists supported versions, preferred first")
def tus_version_listed() -> None:
    versions = field(decide_options(POLICY), "Tus-Version")
    assert versions is not None and versions.split(",")[0] == "1.0.0"


@rule("Core Protocol / Tus-Resumable", "Every answer carries Tus-Resumable")
def tus_resumable_everywhere() -> None:
    state = upload()
    answers: List[Decision] = [
        decide_options(POLICY),
        created({"Upload-Length": "5"}),
        head(state),
        head(None),
        patched(state, b"abc", {}).decision,
        patch(state, {"Upload-Offset": "7"}),  # type: ignore[list-item]
        request_version_mismatch(),
    ]
    delete = decide_delete(request("DELETE"), state, POLICY, now=NOW)
    assert isinstance(delete, Terminate)
    answers.append(delete.decision)
    for answer in answers:
        assert field(answer, "Tus-Resumable") == "1.0.0", answer.status


def request_version_mismatch() -> Decision:
    answer = decide_head(
        request("HEAD", {"Tus-Resumable": "0.2.2"}, version=False),
        upload(),
        creation_url=BASE,
        now=NOW,
    )
    return answer


@rule("Core Protocol / Tus-Resumable", "Its value is the protocol version the server uses")
def tus_resumable_value() -> None:
    assert field(head(upload()), "Tus-Resumable") == "1.0.0"


@rule("Core Protocol / Tus-Resumable", "An unsupported client version gets 412 with Tus-Version")
def unsupported_version_412() -> None:
    answer = request_version_mismatch()
    assert answer.status == 412 and field(answer, "Tus-Version") == "1.0.0"
    missing = decide_head(request("HEAD", version=False), upload(), creation_url=BASE, now=NOW)
    assert missing.status == 412


@rule("Core Protocol / Tus-Resumable", "A request with an unsupported version is not processed")
def unsupported_version_not_processed() -> None:
    old = {"Tus-Resumable": "0.2.2"}
    made = create({**old, "Upload-Length": "5"}, version=False)
    assert isinstance(made, Decision) and made.status == 412
    state = upload()
    answer = decide_patch(
        request("PATCH", {**old, **STREAM, "Upload-Offset": "0"}, version=False),
        state,
        POLICY,
        now=NOW,
    )
    assert isinstance(answer, Decision) and answer.status == 412
    gone = decide_delete(request("DELETE", old, version=False), state, POLICY, now=NOW)
    assert isinstance(gone, Decision) and gone.status == 412


@rule("Core Protocol / Tus-Extension", "Tus-Extension is a comma-separated list of extensions")
def extension_list() -> None:
    value = field(decide_options(POLICY), "Tus-Extension")
    assert value is not None
    assert all(re.fullmatch(r"[a-z-]+", name) for name in value.split(","))


@rule("Core Protocol / Tus-Extension", "With no extension supported, Tus-Extension is omitted")
def extension_omitted() -> None:
    assert field(decide_options(TusPolicy(extensions=frozenset())), "Tus-Extension") is None


@rule("Core Protocol / Tus-Max-Size", "Tus-Max-Size is a non-negative integer")
def max_size_integer() -> None:
    assert field(decide_options(POLICY), "Tus-Max-Size") == "1000"
    assert field(decide_options(TusPolicy()), "Tus-Max-Size") is None


@rule("Core Protocol / X-HTTP-Method-Override", "The override is the method; the actual is ignored")
def method_override() -> None:
    req = Request.from_pairs("POST", [("X-HTTP-Method-Override", "PATCH")], b"")
    assert method_of(req) == "PATCH"
    req = Request.from_pairs("POST", [("X-HTTP-Method-Override", "delete")], b"")
    assert method_of(req) == "DELETE"
    assert method_of(Request.from_pairs("HEAD", [], b"")) == "HEAD"


@rule("Core Protocol / HEAD", "HEAD always has Upload-Offset, also at 0 and when complete")
def head_offset_always() -> None:
    assert field(head(upload()), "Upload-Offset") == "0"
    assert field(head(upload(offset=100)), "Upload-Offset") == "100"


@rule("Core Protocol / HEAD", "HEAD has Upload-Length when the size is known")
def head_length_when_known() -> None:
    assert field(head(upload()), "Upload-Length") == "100"
    assert field(head(upload(length=None)), "Upload-Length") is None


@rule("Core Protocol / HEAD", "(SHOULD) unknown upload: 404/410/403 without Upload-Offset")
def head_unknown() -> None:
    answer = head(None)
    assert answer.status in (403, 404, 410) and field(answer, "Upload-Offset") is None


@rule("Core Protocol / HEAD", "(SHOULD) a successful HEAD is 200 or 204")
def head_status() -> None:
    assert head(upload()).status in (200, 204)


@rule("Core Protocol / HEAD", "HEAD answers carry Cache-Control: no-store")
def head_no_store() -> None:
    assert field(head(upload()), "Cache-Control") == "no-store"


@rule("Core Protocol / PATCH", "(SHOULD) a PATCH not of application/offset+octet-stream: 415")
def patch_content_type() -> None:
    for kind in ("application/octet-stream", "text/plain", ""):
        answer = patch(upload(), {"Upload-Offset": "0", "Content-Type": kind})
        assert isinstance(answer, Decision) and answer.status == 415, kind
    without = decide_patch(request("PATCH", {"Upload-Offset": "0"}), upload(), POLICY, now=NOW)
    assert isinstance(without, Decision) and without.status == 415


@rule("Core Protocol / PATCH", "Upload-Offset must equal the upload's offset, else 409, unchanged")
def patch_offset_conflict() -> None:
    state = upload(offset=10)
    for sent in ("0", "9", "11", "100"):
        answer = patch(state, {"Upload-Offset": sent})
        assert isinstance(answer, Decision) and answer.status == 409, sent
    assert isinstance(patch(state, {"Upload-Offset": "10"}), Write)


@rule("Core Protocol / PATCH", "A successful PATCH is acknowledged with 204")
def patch_204() -> None:
    assert patched(upload(), b"hello", {}).decision.status == 204


@rule("Core Protocol / PATCH", "The 204 carries Upload-Offset with the new offset")
def patch_new_offset() -> None:
    outcome = patched(upload(offset=70), b"x" * 30, {})
    assert field(outcome.decision, "Upload-Offset") == "100"


@rule("Core Protocol / PATCH", "New offset = old offset + bytes received and stored in this PATCH")
def patch_offset_sum() -> None:
    state = upload(offset=20)
    plan = patch(state, {"Upload-Offset": "20", "Content-Length": "50"})
    assert isinstance(plan, Write) and plan.offset == 20
    # the client went away after 13 bytes: they are kept
    cut = finish_patch(state, plan, POLICY, now=NOW, stored=13, complete=False)
    assert cut.state.offset == 33


@rule("Core Protocol / OPTIONS", "A successful OPTIONS (200/204) carries Tus-Version")
def options_version() -> None:
    answer = decide_options(POLICY)
    assert answer.status in (200, 204) and field(answer, "Tus-Version") == "1.0.0"


@rule("Core Protocol / OPTIONS", "The server ignores Tus-Resumable on OPTIONS")
def options_ignores_version() -> None:
    # decide_options takes no request at all: nothing of it can matter
    assert decide_options(POLICY) == decide_options(POLICY)
    assert decide_options(POLICY).status == 204


# == Creation ===================================================================
@rule("Creation", "A server with creation lists 'creation' in Tus-Extension")
def creation_advertised() -> None:
    value = field(decide_options(POLICY), "Tus-Extension") or ""
    assert "creation" in value.split(",")
    off = TusPolicy(extensions=frozenset({"termination"}))
    assert "creation" not in (field(decide_options(off), "Tus-Extension") or "").split(",")


@rule("Creation / Upload-Defer-Length", "Its value must be 1 (other values: 400)")
def defer_is_one() -> None:
    assert isinstance(create({"Upload-Defer-Length": "1"}), Create)
    for bad in ("0", "2", "true", "", "1,1"):
        answer = create({"Upload-Defer-Length": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Creation / Upload-Defer-Length", "When the length is not deferred, the field is omitted")
def defer_omitted() -> None:
    assert field(head(upload()), "Upload-Defer-Length") is None


@rule("Creation / Upload-Metadata", "Pairs are comma-separated, key and value split by one space")
def metadata_pairs() -> None:
    plan = create(
        {"Upload-Length": "1", "Upload-Metadata": f"name {b64(b'a.csv')},type {b64(b'x')}"}
    )
    assert isinstance(plan, Create)
    assert dict(plan.state.metadata) == {"name": b"a.csv", "type": b"x"}


@rule("Creation / Upload-Metadata", "The field has one or more pairs: none, no field in answers")
def metadata_never_empty() -> None:
    assert field(head(upload()), "Upload-Metadata") is None
    plan = create({"Upload-Length": "1", "Upload-Metadata": ""})
    assert isinstance(plan, Create) and field(head(plan.state), "Upload-Metadata") is None


@rule("Creation / Upload-Metadata", "A key is not empty and has no space or comma (else 400)")
def metadata_key() -> None:
    # surrounding spaces are separators' whitespace: an empty key is an empty item
    for bad in ("a YQ==,", ",", "a,,b", f"a\tb {b64(b'x')}", f"a b {b64(b'x')}"):
        answer = create({"Upload-Length": "1", "Upload-Metadata": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Creation / Upload-Metadata", "A value is base64 (else 400)")
def metadata_base64() -> None:
    for bad in ("k a", "k YQ", "k YQ=", "k Y*==", "k " + b64(b"ab") + "x", f"k {b64(b'x')} y"):
        answer = create({"Upload-Length": "1", "Upload-Metadata": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Creation / Upload-Metadata", "Keys are unique (a repeated key: 400)")
def metadata_unique() -> None:
    answer = create({"Upload-Length": "1", "Upload-Metadata": f"k {b64(b'1')},k {b64(b'2')}"})
    assert isinstance(answer, Decision) and answer.status == 400


@rule("Creation / Upload-Metadata", "A value may be empty, its space left out")
def metadata_empty_value() -> None:
    plan = create({"Upload-Length": "1", "Upload-Metadata": "is_confidential,other "})
    assert isinstance(plan, Create)
    assert dict(plan.state.metadata) == {"is_confidential": b"", "other": b""}


@rule("Creation / POST", "A creation has Upload-Length or Upload-Defer-Length: 1 (neither: 400)")
def creation_needs_length() -> None:
    answer = create({})
    assert isinstance(answer, Decision) and answer.status == 400
    both = create({"Upload-Length": "5", "Upload-Defer-Length": "1"})
    assert isinstance(both, Decision) and both.status == 400


@rule("Creation / POST", "A deferred length is set by a later PATCH's Upload-Length")
def deferred_set_by_patch() -> None:
    state = upload(length=None, offset=4)
    outcome = patched(state, b"abcdef", {"Upload-Length": "10"})
    assert outcome.decision.status == 204 and outcome.state.length == 10
    assert outcome.state.completed


@rule("Creation / POST", "Once set, a length must not change (a different one: 400)")
def length_does_not_change() -> None:
    answer = patch(upload(), {"Upload-Offset": "0", "Upload-Length": "99"})
    assert isinstance(answer, Decision) and answer.status == 400
    assert isinstance(patch(upload(), {"Upload-Offset": "0", "Upload-Length": "100"}), Write)


@rule("Creation / POST", "While the length is unknown, HEAD carries Upload-Defer-Length: 1")
def head_deferred() -> None:
    answer = head(upload(length=None, offset=3))
    assert field(answer, "Upload-Defer-Length") == "1"


@rule("Creation / POST", "A server deferring lengths lists 'creation-defer-length'")
def defer_advertised() -> None:
    assert "creation-defer-length" in (field(decide_options(POLICY), "Tus-Extension") or "")
    off = TusPolicy(extensions=frozenset({"creation"}))
    assert "creation-defer-length" not in (field(decide_options(off), "Tus-Extension") or "")
    answer = create({"Upload-Defer-Length": "1"}, off)
    assert isinstance(answer, Decision) and answer.status == 400


@rule("Creation / POST", "Upload-Length 0 is an empty upload, complete at once")
def empty_upload() -> None:
    plan = create({"Upload-Length": "0"})
    assert isinstance(plan, Create) and plan.state.completed
    assert field(head(plan.state), "Upload-Offset") == "0"


@rule("Creation / POST", "With metadata, HEAD answers carry Upload-Metadata as sent")
def head_metadata() -> None:
    sent = f"filename {b64(b'world_domination_plan.pdf')},is_confidential"
    plan = create({"Upload-Length": "100", "Upload-Metadata": sent})
    assert isinstance(plan, Create)
    assert field(head(plan.state), "Upload-Metadata") == sent


@rule("Creation / POST", "A length over the maximum (Tus-Max-Size) gets 413")
def over_max_413() -> None:
    answer = create({"Upload-Length": "1001"})
    assert isinstance(answer, Decision) and answer.status == 413
    assert isinstance(create({"Upload-Length": "1000"}), Create)


@rule("Creation / POST", "A successful creation is acknowledged with 201")
def creation_201() -> None:
    assert created({"Upload-Length": "5"}).status == 201


@rule("Creation / POST", "The 201 has Location, the new upload's URL")
def creation_location() -> None:
    assert field(created({"Upload-Length": "5"}), "Location") == f"{BASE}/{uid(9)}"


# == Creation With Upload =======================================================
@rule("Creation With Upload", "A server taking data at creation lists 'creation-with-upload'")
def with_upload_advertised() -> None:
    assert "creation-with-upload" in (field(decide_options(POLICY), "Tus-Extension") or "")


@rule("Creation With Upload", "Without 'creation', 'creation-with-upload' is not offered")
def with_upload_needs_creation() -> None:
    try:
        TusPolicy(extensions=frozenset({"creation-with-upload"}))
    except ValueError:
        pass
    else:
        raise AssertionError("a policy offered creation-with-upload without creation")


@rule("Creation With Upload", "Data at creation is application/offset+octet-stream (else 415)")
def with_upload_content_type() -> None:
    answer = create({"Upload-Length": "5", "Content-Length": "5", "Content-Type": "text/plain"})
    assert isinstance(answer, Decision) and answer.status == 415
    plan = create({"Upload-Length": "5", "Content-Length": "5", **STREAM})
    assert isinstance(plan, Create) and plan.body is not None and plan.body.limit == 5


@rule("Creation With Upload", "The 201 has Upload-Offset: the offset after the accepted bytes")
def with_upload_offset() -> None:
    plan = create({"Upload-Length": "100", "Content-Length": "5", **STREAM})
    assert isinstance(plan, Create)
    outcome = finish_create(plan, POLICY, creation_url=BASE, now=NOW, stored=5)
    assert outcome.decision.status == 201 and field(outcome.decision, "Upload-Offset") == "5"
    assert outcome.state.offset == 5


# == Expiration =================================================================
@rule("Expiration", "A server removing unfinished uploads lists 'expiration'")
def expiration_advertised() -> None:
    assert "expiration" in (field(decide_options(POLICY), "Tus-Extension") or "").split(",")
    assert "expiration" not in (field(decide_options(NO_EXPIRY), "Tus-Extension") or "")


@rule("Expiration / Upload-Expires", "Every PATCH answer has Upload-Expires if the upload expires")
def patch_expires() -> None:
    outcome = patched(upload(), b"abc", {})
    assert field(outcome.decision, "Upload-Expires") is not None
    never = patched(upload(expires_at=None), b"abc", {}, NO_EXPIRY)
    assert field(never.decision, "Upload-Expires") is None


@rule("Expiration / Upload-Expires", "The POST answer has Upload-Expires when known at creation")
def creation_expires() -> None:
    assert field(created({"Upload-Length": "5"}), "Upload-Expires") is not None


@rule("Expiration / Upload-Expires", "Upload-Expires is an RFC 9110 date")
def expires_format() -> None:
    value = field(created({"Upload-Length": "5"}), "Upload-Expires")
    assert value is not None and value.endswith(" GMT")
    assert parsedate_to_datetime(value).timestamp() == NOW + 3600


@rule("Expiration / Upload-Expires", "(SHOULD) resuming a removed upload: 404 or 410")
def expired_gone() -> None:
    expired = upload(expires_at=NOW - 1)
    assert head(expired).status == 410
    answer = patch(expired, {"Upload-Offset": "0"})
    assert isinstance(answer, Decision) and answer.status == 410
    assert head(None).status == 404


# == Checksum ===================================================================
@rule("Checksum", "A server verifying checksums lists 'checksum'")
def checksum_advertised() -> None:
    assert "checksum" in (field(decide_options(POLICY), "Tus-Extension") or "").split(",")


@rule("Checksum", "The chunk is verified against the checksum; a mismatch gets 460")
def checksum_mismatch() -> None:
    wrong = b64(hashlib.sha1(b"other").digest())
    outcome = patched(upload(), b"hello world", {"Upload-Checksum": f"sha1 {wrong}"})
    assert outcome.decision.status == 460
    good = b64(hashlib.sha1(b"hello world").digest())
    ok = patched(upload(), b"hello world", {"Upload-Checksum": f"sha1 {good}"})
    assert ok.decision.status == 204 and ok.state.offset == 11


@rule("Checksum", "An algorithm the server does not support gets 400")
def checksum_unsupported() -> None:
    for algorithm in ("crc32", "SHA1", "sha512", "md4"):
        answer = patch(upload(), {"Upload-Offset": "0", "Upload-Checksum": f"{algorithm} AAAA"})
        assert isinstance(answer, Decision) and answer.status == 400, algorithm


@rule("Checksum", "On 400 or 460 the chunk is discarded: upload and offset unchanged")
def checksum_discards() -> None:
    state = upload(length=None, offset=7)
    wrong = b64(hashlib.md5(b"nope").digest())
    outcome = patched(state, b"abc", {"Upload-Checksum": f"md5 {wrong}", "Upload-Length": "10"})
    assert outcome.decision.status == 460 and outcome.state == state
    # 400 for the algorithm comes before any byte is taken: no Write, so no change
    refused = patch(state, {"Upload-Offset": "7", "Upload-Checksum": "crc32 AAAAAA=="})
    assert isinstance(refused, Decision) and refused.status == 400


@rule("Checksum", "sha1 is supported")
def sha1_supported() -> None:
    assert "sha1" in (field(decide_options(POLICY), "Tus-Checksum-Algorithm") or "").split(",")


@rule("Checksum", "Algorithm names are ASCII without uppercase")
def algorithm_names() -> None:
    names = (field(decide_options(POLICY), "Tus-Checksum-Algorithm") or "").split(",")
    assert names and all(re.fullmatch(r"[\x21-\x40\x5b-\x7e]+", name) for name in names)


@rule("Checksum", "OPTIONS answers carry Tus-Checksum-Algorithm")
def options_algorithms() -> None:
    assert field(decide_options(POLICY), "Tus-Checksum-Algorithm") is not None


@rule("Checksum / Tus-Checksum-Algorithm", "It is a comma-separated list of the algorithms")
def algorithms_list() -> None:
    value = field(decide_options(POLICY), "Tus-Checksum-Algorithm") or ""
    assert set(value.split(",")) == {"sha1", "sha256", "md5"}


@rule("Checksum / Upload-Checksum", "It is the algorithm, a space, the base64 checksum (else 400)")
def checksum_grammar() -> None:
    digest = b64(hashlib.sha256(b"").digest())
    plan = patch(upload(), {"Upload-Offset": "0", "Upload-Checksum": f"sha256 {digest}"})
    assert isinstance(plan, Write) and plan.checksum is not None
    assert plan.checksum.digest == hashlib.sha256(b"").digest()
    for bad in ("sha256", f"sha256{digest}", "sha256 !!!!", f"sha256  {digest}", "sha256 AAAA"):
        answer = patch(upload(), {"Upload-Offset": "0", "Upload-Checksum": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Checksum", "Trailers are not handled, so 'checksum-trailer' is not announced")
def no_trailer() -> None:
    assert "checksum-trailer" not in (field(decide_options(POLICY), "Tus-Extension") or "")


# == Termination ================================================================
@rule("Termination", "A server terminating uploads lists 'termination'")
def termination_advertised() -> None:
    assert "termination" in (field(decide_options(POLICY), "Tus-Extension") or "").split(",")


@rule("Termination / DELETE", "DELETE of an existing upload is answered 204")
def delete_204() -> None:
    for state in (upload(), upload(offset=100)):
        plan = decide_delete(request("DELETE"), state, POLICY, now=NOW)
        assert isinstance(plan, Terminate) and plan.decision.status == 204
        assert plan.upload_id == state.upload_id


@rule("Termination / DELETE", "(SHOULD) later requests to its URL: 404 or 410")
def after_delete() -> None:
    answer = decide_delete(request("DELETE"), None, POLICY, now=NOW)
    assert isinstance(answer, Decision) and answer.status == 404
    assert head(None).status == 404


# == Concatenation ==============================================================
def partial(n: int, size: int, offset: Optional[int] = None) -> UploadState:
    return upload(n, length=size, offset=size if offset is None else offset, is_partial=True)


def final_of(*parts: UploadState, headers: Optional[Dict[str, str]] = None) -> object:
    urls = " ".join(f"{BASE}/{p.upload_id}" for p in parts)
    plan = create({"Upload-Concat": f"final;{urls}", **(headers or {})})
    if not isinstance(plan, Concatenate):
        return plan
    return decide_concatenate(plan, list(parts), POLICY, now=NOW)


@rule("Concatenation", "A server concatenating uploads lists 'concatenation'")
def concatenation_advertised() -> None:
    assert "concatenation" in (field(decide_options(POLICY), "Tus-Extension") or "").split(",")


@rule("Concatenation", "A final upload's length is the sum of its partials' lengths")
def final_length_sum() -> None:
    plan = final_of(partial(1, 5), partial(2, 6))
    assert isinstance(plan, Create) and plan.state.length == 11


@rule("Concatenation", "A final upload: 'final;' then the partial URLs, space-separated")
def final_value() -> None:
    one, two = partial(1, 5), partial(2, 6)
    plan = create({"Upload-Concat": f"final;{BASE}/{one.upload_id} {BASE}/{two.upload_id}"})
    assert isinstance(plan, Concatenate) and plan.partial_ids == (uid(1), uid(2))
    for bad in (f"final {BASE}/{uid(1)}", f"final,{BASE}/{uid(1)}", "final;", "partial;x"):
        answer = create({"Upload-Concat": bad})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Concatenation", "The partials are joined in the order listed")
def final_order() -> None:
    plan = final_of(partial(2, 6), partial(1, 5), partial(2, 6))
    assert isinstance(plan, Create) and plan.state.partial_ids == (uid(2), uid(1), uid(2))


@rule("Concatenation", "A final creation has no Upload-Length (with one: 400)")
def final_without_length() -> None:
    answer = final_of(partial(1, 5), headers={"Upload-Length": "5"})
    assert isinstance(answer, Decision) and answer.status == 400


@rule("Concatenation", "Unfinished partials only with 'concatenation-unfinished' (not offered)")
def final_of_unfinished() -> None:
    assert "concatenation-unfinished" not in (field(decide_options(POLICY), "Tus-Extension") or "")
    answer = final_of(partial(1, 5, offset=2))
    assert isinstance(answer, Decision) and answer.status == 400


@rule("Concatenation", "Partials' metadata is not carried over to the final upload")
def final_metadata() -> None:
    part = upload(1, length=1, offset=1, is_partial=True, metadata={"name": b"part"})
    plan = final_of(part, headers={"Upload-Metadata": f"name {b64(b'whole')}"})
    assert isinstance(plan, Create) and dict(plan.state.metadata) == {"name": b"whole"}
    bare = final_of(part)
    assert isinstance(bare, Create) and dict(bare.state.metadata) == {}


@rule("Concatenation", "A PATCH to a final upload gets 403 and changes nothing")
def patch_final_403() -> None:
    plan = final_of(partial(1, 5), partial(2, 6))
    assert isinstance(plan, Create)
    answer = patch(plan.state, {"Upload-Offset": "11", "Content-Length": "0"})
    assert isinstance(answer, Decision) and answer.status == 403


@rule("Concatenation", "After concatenation HEAD has Upload-Offset and Upload-Length, equal")
def head_final() -> None:
    plan = final_of(partial(1, 5), partial(2, 6))
    assert isinstance(plan, Create)
    answer = head(plan.state)
    assert field(answer, "Upload-Offset") == field(answer, "Upload-Length") == "11"


@rule("Concatenation", "HEAD of a partial upload has Upload-Offset")
def head_partial_offset() -> None:
    assert field(head(partial(1, 5, offset=3)), "Upload-Offset") == "3"


@rule("Concatenation", "HEAD of a partial or final upload has Upload-Concat as created")
def head_concat() -> None:
    assert field(head(partial(1, 5, offset=3)), "Upload-Concat") == "partial"
    plan = final_of(partial(1, 5), partial(2, 6))
    assert isinstance(plan, Create)
    expected = f"final;{BASE}/{uid(1)} {BASE}/{uid(2)}"
    assert field(head(plan.state), "Upload-Concat") == expected


@rule("Concatenation / Upload-Concat", "A partial upload's value is exactly 'partial'")
def partial_value() -> None:
    plan = create({"Upload-Concat": "partial", "Upload-Length": "5"})
    assert isinstance(plan, Create) and plan.state.is_partial
    for bad in ("Partial", "partials", "partial;x", ""):
        answer = create({"Upload-Concat": bad, "Upload-Length": "5"})
        assert isinstance(answer, Decision) and answer.status == 400, bad


@rule("Concatenation / Upload-Concat", "Partial URLs may be absolute or relative; no spaces inside")
def partial_urls_forms() -> None:
    absolute = f"{HOST_BASE}/{uid(1)}"
    relative = f"_dash-upload/{uid(2)}"  # relative to BASE's folder
    plan = decide_create(
        request(
            "POST", {"Upload-Concat": f"final;{absolute} {relative} /app/_dash-upload/{uid(3)}"}
        ),
        POLICY,
        creation_url=HOST_BASE,
        upload_id=uid(9),
        now=NOW,
    )
    assert isinstance(plan, Concatenate) and plan.partial_ids == (uid(1), uid(2), uid(3))


# == Over HTTP ===================================================================
# The same rows as exchanges with a real server (``tests/test_tus_live.py``, on
# every backend). ``Live`` serves POLICY's limits (max_size 1000, expires 3600)
# and, as ``bare``, a policy with neither (the NO_EXPIRY rows' other side).
# A row without an HTTP check says why in NOT_OVER_HTTP.
class Live:
    """A tus endpoint on a real server, and the store behind it (to age an upload).

    ``creation``: the absolute creation URL; ``bare``: the same for a policy
    with no ``max_size`` and no ``expires``; ``store``: ``cache.uploads()`` of
    the first server.
    """

    def __init__(self, creation: str, bare: str, store: Callable[[], object]) -> None:
        self.creation = creation
        self.bare = bare
        self.store = store

    def send(
        self,
        method: str,
        url: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        body: bytes = b"",
        version: bool = True,
    ) -> requests.Response:
        sent = {"Tus-Resumable": "1.0.0"} if version else {}
        sent.update(headers or {})
        return requests.request(
            method, url or self.creation, headers=sent, data=body or None, timeout=10
        )

    def new(
        self, headers: Optional[Dict[str, str]] = None, body: bytes = b"", url: str = ""
    ) -> str:
        """Create an upload (100 bytes declared unless ``headers`` say otherwise); its URL."""
        sent = {"Upload-Length": "100"} if not _has_length(headers) else {}
        sent.update(headers or {})
        if body:
            sent.update(STREAM)
        answer = self.send("POST", url or self.creation, sent, body)
        assert answer.status_code == 201, (answer.status_code, answer.text)
        return urljoin(url or self.creation, answer.headers["Location"])

    def put(self, url: str, offset: int, data: bytes, **headers: str) -> requests.Response:
        """PATCH ``data`` at ``offset``."""
        sent = {**STREAM, "Upload-Offset": str(offset), **headers}
        return self.send("PATCH", url, sent, data)

    def offset(self, url: str) -> str:
        return self.send("HEAD", url).headers["Upload-Offset"]

    def age(self, url: str) -> None:
        """Make the upload at ``url`` expired (its stored expiry set in the past)."""
        store: Any = self.store()
        with store.lock(url.rsplit("/", 1)[1]) as held:
            record = dict(held.record())
            record["expires_at"] = time.time() - 1
            held.update(record)


LiveCheck = Callable[[Live], None]
#: HTTP checks, by the row's check.
LIVE: Dict[Check, LiveCheck] = {}
#: Rows with no HTTP form, and why.
NOT_OVER_HTTP: Dict[Check, str] = {
    extension_omitted: "UploadPolicy always speaks every extension: no server offers none",
    with_upload_needs_creation: "a rule on making a TusPolicy, which UploadPolicy never "
    "switches; no request can show it",
}


def _has_length(headers: Optional[Dict[str, str]]) -> bool:
    names = {k.lower() for k in (headers or {})}
    return bool(names & {"upload-length", "upload-defer-length", "upload-concat"})


def over_http(row: Check) -> Callable[[LiveCheck], LiveCheck]:
    def register(check: LiveCheck) -> LiveCheck:
        LIVE[row] = check
        return check

    return register


def header(answer: requests.Response, name: str) -> Optional[str]:
    return answer.headers.get(name)


def extensions(live: Live, url: str = "") -> List[str]:
    return (header(live.send("OPTIONS", url or live.creation), "Tus-Extension") or "").split(",")


def pairs(value: Optional[str]) -> Dict[str, bytes]:
    """``Upload-Metadata`` decoded (a test's own reading of the grammar)."""
    found: Dict[str, bytes] = {}
    for item in (value or "").split(","):
        key, _, encoded = item.strip().partition(" ")
        found[key] = base64.b64decode(encoded)
    return found


@over_http(offset_is_non_negative_integer)
def _http_offset(live: Live) -> None:
    url = live.new()
    for bad in ("-1", "1.5", "abc", "", "+3", "0x10"):
        assert live.send("PATCH", url, {**STREAM, "Upload-Offset": bad}, b"a").status_code == 400
    assert live.put(url, 0, b"abc").status_code == 204


@over_http(length_is_non_negative_integer)
def _http_length(live: Live) -> None:
    # " " is left out: HTTP clients and servers strip a value's surrounding space
    for bad in ("-1", "1e3", "ten"):
        assert live.send("POST", headers={"Upload-Length": bad}).status_code == 400, bad
    assert live.send("POST", headers={"Upload-Length": "0"}).status_code == 201


@over_http(tus_version_listed)
def _http_tus_version(live: Live) -> None:
    versions = header(live.send("OPTIONS"), "Tus-Version")
    assert versions is not None and versions.split(",")[0] == "1.0.0"


@over_http(tus_resumable_everywhere)
def _http_resumable_everywhere(live: Live) -> None:
    url = live.new()
    answers = [
        live.send("OPTIONS"),
        live.send("POST", headers={"Upload-Length": "5"}),
        live.send("HEAD", url),
        live.send("HEAD", f"{live.creation}/{uid(0xDEAD)}"),
        live.put(url, 0, b"abc"),
        live.put(url, 7, b"abc"),
        live.send("HEAD", url, {"Tus-Resumable": "0.2.2"}, version=False),
        live.send("DELETE", url),
    ]
    for answer in answers:
        assert header(answer, "Tus-Resumable") == "1.0.0", (
            answer.request.method,
            answer.status_code,
        )
    assert [a.status_code for a in answers] == [204, 201, 200, 404, 204, 409, 412, 204]


@over_http(tus_resumable_value)
def _http_resumable_value(live: Live) -> None:
    assert header(live.send("HEAD", live.new()), "Tus-Resumable") == "1.0.0"


@over_http(unsupported_version_412)
def _http_version_412(live: Live) -> None:
    url = live.new()
    answer = live.send("HEAD", url, {"Tus-Resumable": "0.2.2"}, version=False)
    assert answer.status_code == 412 and header(answer, "Tus-Version") == "1.0.0"
    assert live.send("HEAD", url, version=False).status_code == 412


@over_http(unsupported_version_not_processed)
def _http_version_not_processed(live: Live) -> None:
    old = {"Tus-Resumable": "0.2.2"}
    store: Any = live.store()
    before = set(store.ids())
    made = live.send("POST", headers={**old, "Upload-Length": "5"}, version=False)
    assert made.status_code == 412 and set(store.ids()) == before
    url = live.new()
    patch = {**old, **STREAM, "Upload-Offset": "0"}
    assert live.send("PATCH", url, patch, b"abc", version=False).status_code == 412
    assert live.send("DELETE", url, old, version=False).status_code == 412
    assert live.offset(url) == "0"


@over_http(extension_list)
def _http_extension_list(live: Live) -> None:
    assert all(re.fullmatch(r"[a-z-]+", name) for name in extensions(live))


@over_http(max_size_integer)
def _http_max_size(live: Live) -> None:
    assert header(live.send("OPTIONS"), "Tus-Max-Size") == "1000"
    assert header(live.send("OPTIONS", live.bare), "Tus-Max-Size") is None


@over_http(method_override)
def _http_method_override(live: Live) -> None:
    url = live.new()
    head = live.send("POST", url, {"X-HTTP-Method-Override": "HEAD"})
    assert head.status_code == 200 and header(head, "Upload-Offset") == "0"
    written = live.send(
        "POST", url, {**STREAM, "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0"}, b"abcd"
    )
    assert written.status_code == 204 and header(written, "Upload-Offset") == "4"
    assert live.send("POST", url, {"X-HTTP-Method-Override": "delete"}).status_code == 204
    assert live.send("HEAD", url).status_code == 404


@over_http(head_offset_always)
def _http_head_offset(live: Live) -> None:
    url = live.new()
    assert live.offset(url) == "0"
    assert live.put(url, 0, b"x" * 100).status_code == 204
    assert live.offset(url) == "100"


@over_http(head_length_when_known)
def _http_head_length(live: Live) -> None:
    assert header(live.send("HEAD", live.new()), "Upload-Length") == "100"
    deferred = live.new({"Upload-Defer-Length": "1"})
    assert header(live.send("HEAD", deferred), "Upload-Length") is None


@over_http(head_unknown)
def _http_head_unknown(live: Live) -> None:
    answer = live.send("HEAD", f"{live.creation}/{uid(0xBEEF)}")
    assert answer.status_code in (403, 404, 410) and header(answer, "Upload-Offset") is None


@over_http(head_status)
def _http_head_status(live: Live) -> None:
    assert live.send("HEAD", live.new()).status_code in (200, 204)


@over_http(head_no_store)
def _http_head_no_store(live: Live) -> None:
    assert header(live.send("HEAD", live.new()), "Cache-Control") == "no-store"


@over_http(patch_content_type)
def _http_patch_type(live: Live) -> None:
    url = live.new()
    for kind in ("application/octet-stream", "text/plain", ""):
        sent = {"Upload-Offset": "0", "Content-Type": kind}
        assert live.send("PATCH", url, sent, b"abc").status_code == 415, kind
    assert live.send("PATCH", url, {"Upload-Offset": "0"}, b"abc").status_code == 415
    assert live.offset(url) == "0"


@over_http(patch_offset_conflict)
def _http_patch_conflict(live: Live) -> None:
    url = live.new()
    assert live.put(url, 0, b"0123456789").status_code == 204
    for sent in (0, 9, 11, 100):
        assert live.put(url, sent, b"abc").status_code == 409, sent
    assert live.offset(url) == "10"
    assert live.put(url, 10, b"abc").status_code == 204


@over_http(patch_204)
def _http_patch_204(live: Live) -> None:
    assert live.put(live.new(), 0, b"hello").status_code == 204


@over_http(patch_new_offset)
def _http_patch_new_offset(live: Live) -> None:
    url = live.new()
    assert live.put(url, 0, b"y" * 70).status_code == 204
    assert header(live.put(url, 70, b"x" * 30), "Upload-Offset") == "100"


@over_http(patch_offset_sum)
def _http_patch_offset_sum(live: Live) -> None:
    url = live.new()
    assert live.put(url, 0, b"z" * 20).status_code == 204
    # 50 bytes announced, 13 sent, then the client goes away: the 13 are kept
    with open_patch(url, 20, 50, b"c" * 13):
        time.sleep(0.2)  # the bytes reach the server before the connection ends
    deadline = time.monotonic() + 10
    while live.offset(url) != "33" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.offset(url) == "33"


@over_http(options_version)
def _http_options_version(live: Live) -> None:
    answer = live.send("OPTIONS")
    assert answer.status_code in (200, 204) and header(answer, "Tus-Version") == "1.0.0"


@over_http(options_ignores_version)
def _http_options_ignores_version(live: Live) -> None:
    for sent in ({"Tus-Resumable": "0.2.2"}, {}, {"Tus-Resumable": "nonsense"}):
        assert live.send("OPTIONS", headers=sent, version=False).status_code == 204, sent


@over_http(creation_advertised)
def _http_creation_advertised(live: Live) -> None:
    # its other half (a server without creation) is not one UploadPolicy makes
    assert "creation" in extensions(live)


@over_http(defer_is_one)
def _http_defer_is_one(live: Live) -> None:
    assert live.send("POST", headers={"Upload-Defer-Length": "1"}).status_code == 201
    for bad in ("0", "2", "true", "1,1"):
        assert live.send("POST", headers={"Upload-Defer-Length": bad}).status_code == 400, bad


@over_http(defer_omitted)
def _http_defer_omitted(live: Live) -> None:
    assert header(live.send("HEAD", live.new()), "Upload-Defer-Length") is None


@over_http(metadata_pairs)
def _http_metadata_pairs(live: Live) -> None:
    url = live.new({"Upload-Metadata": f"name {b64(b'a.csv')},type {b64(b'x')}"})
    found = pairs(header(live.send("HEAD", url), "Upload-Metadata"))
    assert found == {"name": b"a.csv", "type": b"x"}


@over_http(metadata_never_empty)
def _http_metadata_never_empty(live: Live) -> None:
    assert header(live.send("HEAD", live.new()), "Upload-Metadata") is None
    url = live.new({"Upload-Metadata": ""})
    assert header(live.send("HEAD", url), "Upload-Metadata") is None


@over_http(metadata_key)
def _http_metadata_key(live: Live) -> None:
    for bad in ("a YQ==,", ",", "a,,b", f"a\tb {b64(b'x')}", f"a b {b64(b'x')}"):
        sent = {"Upload-Length": "1", "Upload-Metadata": bad}
        assert live.send("POST", headers=sent).status_code == 400, bad


@over_http(metadata_base64)
def _http_metadata_base64(live: Live) -> None:
    for bad in ("k a", "k YQ", "k YQ=", "k Y*==", "k " + b64(b"ab") + "x", f"k {b64(b'x')} y"):
        sent = {"Upload-Length": "1", "Upload-Metadata": bad}
        assert live.send("POST", headers=sent).status_code == 400, bad


@over_http(metadata_unique)
def _http_metadata_unique(live: Live) -> None:
    sent = {"Upload-Length": "1", "Upload-Metadata": f"k {b64(b'1')},k {b64(b'2')}"}
    assert live.send("POST", headers=sent).status_code == 400


@over_http(metadata_empty_value)
def _http_metadata_empty_value(live: Live) -> None:
    url = live.new({"Upload-Metadata": "is_confidential,other "})
    assert pairs(header(live.send("HEAD", url), "Upload-Metadata")) == {
        "is_confidential": b"",
        "other": b"",
    }


@over_http(creation_needs_length)
def _http_creation_needs_length(live: Live) -> None:
    assert live.send("POST").status_code == 400
    both = {"Upload-Length": "5", "Upload-Defer-Length": "1"}
    assert live.send("POST", headers=both).status_code == 400


@over_http(deferred_set_by_patch)
def _http_deferred_set(live: Live) -> None:
    url = live.new({"Upload-Defer-Length": "1"})
    assert live.put(url, 0, b"abcd").status_code == 204
    last = live.put(url, 4, b"abcdef", **{"Upload-Length": "10"})
    assert last.status_code == 204 and header(last, "Cached-Address") is not None
    head = live.send("HEAD", url)
    assert header(head, "Upload-Length") == header(head, "Upload-Offset") == "10"


@over_http(length_does_not_change)
def _http_length_fixed(live: Live) -> None:
    url = live.new()
    assert live.put(url, 0, b"abc", **{"Upload-Length": "99"}).status_code == 400
    assert live.put(url, 0, b"abc", **{"Upload-Length": "100"}).status_code == 204


@over_http(head_deferred)
def _http_head_deferred(live: Live) -> None:
    url = live.new({"Upload-Defer-Length": "1"})
    assert live.put(url, 0, b"abc").status_code == 204
    assert header(live.send("HEAD", url), "Upload-Defer-Length") == "1"


@over_http(defer_advertised)
def _http_defer_advertised(live: Live) -> None:
    # its other half (a server without it) is not one UploadPolicy makes
    assert "creation-defer-length" in extensions(live)


@over_http(empty_upload)
def _http_empty_upload(live: Live) -> None:
    answer = live.send("POST", headers={"Upload-Length": "0"})
    assert answer.status_code == 201 and header(answer, "Cached-Address") is not None
    url = urljoin(live.creation, answer.headers["Location"])
    assert live.offset(url) == "0"


@over_http(head_metadata)
def _http_head_metadata(live: Live) -> None:
    sent = f"filename {b64(b'world_domination_plan.pdf')},is_confidential"
    url = live.new({"Upload-Metadata": sent})
    assert header(live.send("HEAD", url), "Upload-Metadata") == sent


@over_http(over_max_413)
def _http_over_max(live: Live) -> None:
    assert live.send("POST", headers={"Upload-Length": "1001"}).status_code == 413
    assert live.send("POST", headers={"Upload-Length": "1000"}).status_code == 201


@over_http(creation_201)
def _http_creation_201(live: Live) -> None:
    assert live.send("POST", headers={"Upload-Length": "5"}).status_code == 201


@over_http(creation_location)
def _http_creation_location(live: Live) -> None:
    answer = live.send("POST", headers={"Upload-Length": "5"})
    url = urljoin(live.creation, answer.headers["Location"])
    assert re.fullmatch(re.escape(live.creation) + r"/[0-9a-f][0-9a-f-]*", url), url
    assert live.send("HEAD", url).status_code == 200


@over_http(with_upload_advertised)
def _http_with_upload_advertised(live: Live) -> None:
    assert "creation-with-upload" in extensions(live)


@over_http(with_upload_content_type)
def _http_with_upload_type(live: Live) -> None:
    sent = {"Upload-Length": "5", "Content-Type": "text/plain"}
    assert live.send("POST", headers=sent, body=b"hello").status_code == 415
    answer = live.send("POST", headers={"Upload-Length": "5", **STREAM}, body=b"hello")
    assert answer.status_code == 201 and header(answer, "Upload-Offset") == "5"


@over_http(with_upload_offset)
def _http_with_upload_offset(live: Live) -> None:
    answer = live.send("POST", headers={"Upload-Length": "100", **STREAM}, body=b"12345")
    assert answer.status_code == 201 and header(answer, "Upload-Offset") == "5"
    assert live.offset(urljoin(live.creation, answer.headers["Location"])) == "5"


@over_http(expiration_advertised)
def _http_expiration_advertised(live: Live) -> None:
    assert "expiration" in extensions(live)
    assert "expiration" not in extensions(live, live.bare)


@over_http(patch_expires)
def _http_patch_expires(live: Live) -> None:
    assert header(live.put(live.new(), 0, b"abc"), "Upload-Expires") is not None
    never = live.put(live.new(url=live.bare), 0, b"abc")
    assert never.status_code == 204 and header(never, "Upload-Expires") is None


@over_http(creation_expires)
def _http_creation_expires(live: Live) -> None:
    assert header(live.send("POST", headers={"Upload-Length": "5"}), "Upload-Expires")


@over_http(expires_format)
def _http_expires_format(live: Live) -> None:
    before = time.time()
    value = header(live.send("POST", headers={"Upload-Length": "5"}), "Upload-Expires")
    assert value is not None and value.endswith(" GMT")
    assert int(before) + 3600 <= parsedate_to_datetime(value).timestamp() <= time.time() + 3600


@over_http(expired_gone)
def _http_expired_gone(live: Live) -> None:
    url = live.new()
    live.age(url)
    assert live.send("HEAD", url).status_code in (404, 410)
    assert live.put(url, 0, b"abc").status_code in (404, 410)
    assert live.send("HEAD", f"{live.creation}/{uid(0xFADE)}").status_code == 404


@over_http(checksum_advertised)
def _http_checksum_advertised(live: Live) -> None:
    assert "checksum" in extensions(live)


@over_http(checksum_mismatch)
def _http_checksum_mismatch(live: Live) -> None:
    url = live.new()
    wrong = b64(hashlib.sha1(b"other").digest())
    refused = live.put(url, 0, b"hello world", **{"Upload-Checksum": f"sha1 {wrong}"})
    assert refused.status_code == 460 and live.offset(url) == "0"
    good = b64(hashlib.sha1(b"hello world").digest())
    ok = live.put(url, 0, b"hello world", **{"Upload-Checksum": f"sha1 {good}"})
    assert ok.status_code == 204 and header(ok, "Upload-Offset") == "11"


@over_http(checksum_unsupported)
def _http_checksum_unsupported(live: Live) -> None:
    url = live.new()
    for algorithm in ("crc32", "SHA1", "sha512", "md4"):
        sent = {"Upload-Checksum": f"{algorithm} AAAA"}
        assert live.put(url, 0, b"abc", **sent).status_code == 400, algorithm


@over_http(checksum_discards)
def _http_checksum_discards(live: Live) -> None:
    url = live.new({"Upload-Defer-Length": "1"})
    assert live.put(url, 0, b"1234567").status_code == 204
    wrong = b64(hashlib.md5(b"nope").digest())
    sent = {"Upload-Checksum": f"md5 {wrong}", "Upload-Length": "10"}
    assert live.put(url, 7, b"abc", **sent).status_code == 460
    refused = live.put(url, 7, b"abc", **{"Upload-Checksum": "crc32 AAAAAA=="})
    assert refused.status_code == 400
    head = live.send("HEAD", url)
    assert header(head, "Upload-Offset") == "7" and header(head, "Upload-Defer-Length") == "1"


def _algorithms(live: Live) -> List[str]:
    return (header(live.send("OPTIONS"), "Tus-Checksum-Algorithm") or "").split(",")


@over_http(sha1_supported)
def _http_sha1(live: Live) -> None:
    assert "sha1" in _algorithms(live)


@over_http(algorithm_names)
def _http_algorithm_names(live: Live) -> None:
    names = _algorithms(live)
    assert names and all(re.fullmatch(r"[\x21-\x40\x5b-\x7e]+", name) for name in names)


@over_http(options_algorithms)
def _http_options_algorithms(live: Live) -> None:
    assert header(live.send("OPTIONS"), "Tus-Checksum-Algorithm") is not None


@over_http(algorithms_list)
def _http_algorithms_list(live: Live) -> None:
    assert set(_algorithms(live)) == {"sha1", "sha256", "md5"}


@over_http(checksum_grammar)
def _http_checksum_grammar(live: Live) -> None:
    url = live.new()
    digest = b64(hashlib.sha256(b"abc").digest())
    for bad in ("sha256", f"sha256{digest}", "sha256 !!!!", f"sha256  {digest}", "sha256 AAAA"):
        assert live.put(url, 0, b"abc", **{"Upload-Checksum": bad}).status_code == 400, bad
    ok = live.put(url, 0, b"abc", **{"Upload-Checksum": f"sha256 {digest}"})
    assert ok.status_code == 204 and header(ok, "Upload-Offset") == "3"


@over_http(no_trailer)
def _http_no_trailer(live: Live) -> None:
    assert "checksum-trailer" not in extensions(live)


@over_http(termination_advertised)
def _http_termination_advertised(live: Live) -> None:
    assert "termination" in extensions(live)


@over_http(delete_204)
def _http_delete_204(live: Live) -> None:
    # over HTTP a finished upload is an item, no longer an upload to terminate
    for sent in (b"", b"x" * 40):
        url = live.new()
        if sent:
            assert live.put(url, 0, sent).status_code == 204
        assert live.send("DELETE", url).status_code == 204


@over_http(after_delete)
def _http_after_delete(live: Live) -> None:
    url = live.new()
    assert live.put(url, 0, b"abc").status_code == 204
    assert live.send("DELETE", url).status_code == 204
    assert live.send("HEAD", url).status_code in (404, 410)
    assert live.put(url, 3, b"abc").status_code in (404, 410)
    assert live.send("DELETE", url).status_code in (404, 410)


def _partial(live: Live, data: bytes, length: Optional[int] = None, **headers: str) -> str:
    sent = {
        "Upload-Concat": "partial",
        "Upload-Length": str(len(data) if length is None else length),
    }
    return live.new({**sent, **headers}, body=data)


def _final(live: Live, *urls: str, **headers: str) -> requests.Response:
    return live.send("POST", headers={"Upload-Concat": "final;" + " ".join(urls), **headers})


@over_http(concatenation_advertised)
def _http_concatenation_advertised(live: Live) -> None:
    assert "concatenation" in extensions(live)


@over_http(final_length_sum)
def _http_final_length(live: Live) -> None:
    answer = _final(live, _partial(live, b"12345"), _partial(live, b"abcdef"))
    assert answer.status_code == 201
    url = urljoin(live.creation, answer.headers["Location"])
    assert header(live.send("HEAD", url), "Upload-Length") == "11"


@over_http(final_value)
def _http_final_value(live: Live) -> None:
    one = _partial(live, b"12345")
    for bad in (f"final {one}", f"final,{one}", "final;", "partial;x"):
        assert live.send("POST", headers={"Upload-Concat": bad}).status_code == 400, bad
    assert _final(live, one).status_code == 201


@over_http(final_order)
def _http_final_order(live: Live) -> None:
    one, two = _partial(live, b"12345"), _partial(live, b"abcdef")
    answer = _final(live, two, one, two)
    assert answer.status_code == 201
    joined = requests.get(urljoin(live.creation, answer.headers["Cached-Address"]), timeout=10)
    assert joined.content == b"abcdef12345abcdef"


@over_http(final_without_length)
def _http_final_without_length(live: Live) -> None:
    one = _partial(live, b"12345")
    assert _final(live, one, **{"Upload-Length": "5"}).status_code == 400


@over_http(final_of_unfinished)
def _http_final_of_unfinished(live: Live) -> None:
    assert "concatenation-unfinished" not in extensions(live)
    assert _final(live, _partial(live, b"12", length=5)).status_code == 400


#: A header passed as ``**`` keywords (a hyphenated name: only the functional form).
_MetadataHeader = TypedDict("_MetadataHeader", {"Upload-Metadata": str})


@over_http(final_metadata)
def _http_final_metadata(live: Live) -> None:
    named: _MetadataHeader = {"Upload-Metadata": f"name {b64(b'part')}"}
    whole = _final(
        live, _partial(live, b"1", **named), **{"Upload-Metadata": f"name {b64(b'whole')}"}
    )
    url = urljoin(live.creation, whole.headers["Location"])
    assert pairs(header(live.send("HEAD", url), "Upload-Metadata")) == {"name": b"whole"}
    bare = _final(live, _partial(live, b"1", **named))
    url = urljoin(live.creation, bare.headers["Location"])
    assert header(live.send("HEAD", url), "Upload-Metadata") is None


@over_http(patch_final_403)
def _http_patch_final(live: Live) -> None:
    one, two = _partial(live, b"12345"), _partial(live, b"abcdef")
    answer = _final(live, one, two)
    url = urljoin(live.creation, answer.headers["Location"])
    assert live.put(url, 11, b"").status_code == 403
    assert live.put(url, 11, b"more").status_code == 403
    joined = requests.get(urljoin(live.creation, answer.headers["Cached-Address"]), timeout=10)
    assert joined.content == b"12345abcdef"


@over_http(head_final)
def _http_head_final(live: Live) -> None:
    answer = _final(live, _partial(live, b"12345"), _partial(live, b"abcdef"))
    head = live.send("HEAD", urljoin(live.creation, answer.headers["Location"]))
    assert header(head, "Upload-Offset") == header(head, "Upload-Length") == "11"


@over_http(head_partial_offset)
def _http_head_partial(live: Live) -> None:
    assert live.offset(_partial(live, b"123", length=5)) == "3"


@over_http(head_concat)
def _http_head_concat(live: Live) -> None:
    one = _partial(live, b"123", length=5)
    assert header(live.send("HEAD", one), "Upload-Concat") == "partial"
    live.put(one, 3, b"45")
    paths = [urlsplit(url).path for url in (one, _partial(live, b"abcdef"))]
    answer = _final(live, *paths)
    head = live.send("HEAD", urljoin(live.creation, answer.headers["Location"]))
    assert header(head, "Upload-Concat") == "final;" + " ".join(paths)


@over_http(partial_value)
def _http_partial_value(live: Live) -> None:
    url = _partial(live, b"", length=5)
    assert header(live.send("HEAD", url), "Upload-Concat") == "partial"
    for bad in ("Partial", "partials", "partial;x"):
        sent = {"Upload-Concat": bad, "Upload-Length": "5"}
        assert live.send("POST", headers=sent).status_code == 400, bad


@over_http(partial_urls_forms)
def _http_partial_urls(live: Live) -> None:
    one, two, three = (_partial(live, piece) for piece in (b"ab", b"cd", b"ef"))
    folder = urlsplit(live.creation).path.rsplit("/", 1)[1]
    relative = f"{folder}/{two.rsplit('/', 1)[1]}"
    answer = _final(live, one, relative, urlsplit(three).path)
    assert answer.status_code == 201, answer.text
    joined = requests.get(urljoin(live.creation, answer.headers["Cached-Address"]), timeout=10)
    assert joined.content == b"abcdef"
