"""The tus 1.0.0 answers, one function per request type, as pure functions.

Each ``decide_*`` function takes the request, what the I/O layer looked up
(the upload's state, ``None`` when unknown), the :class:`.TusPolicy` and the
time ``now`` (POSIX seconds; never read here), and returns either the
:class:`~dash_file_cache.services.http.Decision` to send at once (an error,
``OPTIONS``, ``HEAD``) or a plan saying what the I/O layer must do:

- :class:`Create` (``POST``): store ``state``; when ``body`` is set, take
  the body as a :class:`Write`; then answer with :func:`finish_create`.
- :class:`Concatenate` (``POST`` of a final upload): look up the partial
  uploads and ask :func:`decide_concatenate`, which gives a :class:`Create`
  whose bytes are the partials' bytes joined in order.
- :class:`Write` (``PATCH``): take at most ``limit`` body bytes at
  ``offset``, feeding them to ``new_hasher(checksum.algorithm)`` when
  ``checksum`` is set; then answer with :func:`finish_patch`.
- :class:`Terminate` (``DELETE``): remove the upload, then send ``decision``.

No decision function raises on any request: refusals are answers.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from types import MappingProxyType
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from werkzeug.http import http_date

from .. import security
from ..http import Decision, HeaderList, Request
from .fields import (
    TUS_VERSION,
    Checksum,
    Concat,
    TusError,
    body_length,
    check_version,
    encode_metadata,
    is_offset_stream,
    parse_checksum,
    parse_concat,
    parse_metadata,
    parse_size,
    single,
)
from .state import TusPolicy, UploadState

__all__ = [
    "Concatenate",
    "Create",
    "Outcome",
    "Terminate",
    "Write",
    "decide_concatenate",
    "decide_create",
    "decide_delete",
    "decide_head",
    "decide_options",
    "decide_patch",
    "finish_create",
    "finish_patch",
    "location_of",
]


@dataclass(frozen=True)
class Write:
    """Body bytes the I/O layer may take and store at ``offset``.

    - ``limit``: take at most this many bytes (``None``: no bound). If the
      body holds more, stop reading at ``limit`` and report ``overflow``.
    - ``content_length``: the declared body length, if any (already checked
      against ``limit``).
    - ``length``: the upload's length once the bytes are accepted (set by
      this request when it was deferred; ``None`` while still deferred).
    - ``checksum``: the digest the whole body must have; feed every byte
      taken to ``new_hasher(checksum.algorithm)`` and report the digest.
    """

    offset: int
    limit: Optional[int]
    content_length: Optional[int]
    length: Optional[int]
    checksum: Optional[Checksum]


@dataclass(frozen=True)
class Create:
    """A new upload to store: ``state`` (offset 0, or complete for a final upload).

    ``body``: creation-with-upload, the request body to take as a
    :class:`Write` before :func:`finish_create`; ``None``: no body.
    """

    state: UploadState
    body: Optional[Write] = None


@dataclass(frozen=True)
class Concatenate:
    """A final upload made of ``partial_ids``: look them up, then :func:`decide_concatenate`."""

    upload_id: str
    partial_ids: Tuple[str, ...]
    metadata: Mapping[str, bytes]


@dataclass(frozen=True)
class Terminate:
    """Remove the upload ``upload_id`` (its bytes and state), then send ``decision``."""

    upload_id: str
    decision: Decision


@dataclass(frozen=True)
class Outcome:
    """After the I/O layer took a body: the ``state`` to store and the ``decision`` to send.

    On a refused body (checksum mismatch, too many bytes) ``state`` is the
    state before the request: its offset and length unchanged.
    """

    state: UploadState
    decision: Decision


# -- answer pieces -------------------------------------------------------------
def _headers(*extra: Tuple[str, str]) -> HeaderList:
    """The fields on every tus success answer, then ``extra``."""
    return [
        ("Tus-Resumable", TUS_VERSION),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *security.baseline_headers(),
        *extra,
    ]


def _expires(state: UploadState) -> List[Tuple[str, str]]:
    """``Upload-Expires`` of an upload that is going to expire."""
    if state.expires_at is None or state.completed:
        return []
    return [("Upload-Expires", http_date(state.expires_at))]


def location_of(creation_url: str, upload_id: str) -> str:
    """The URL of an upload: ``<creation URL>/<id>``."""
    return f"{creation_url.rstrip('/')}/{upload_id}"


def _not_allowed(method: str, policy: TusPolicy, on_upload: bool) -> Decision:
    if on_upload:
        allowed = ["HEAD", "PATCH", "OPTIONS"] + (
            ["DELETE"] if policy.speaks("termination") else []
        )
    else:
        allowed = (["POST"] if policy.speaks("creation") else []) + ["OPTIONS"]
    return TusError(
        405, f"Method {method} is not allowed here.", [("Allow", ", ".join(allowed))]
    ).decision()


def _existing(state: Optional[UploadState], now: float) -> UploadState:
    """``state``, or refuse: 404 unknown, 410 expired (its expiry still known)."""
    if state is None:
        raise TusError(404, "No such upload: it expired, was terminated or never existed.")
    if state.is_expired(now):
        raise TusError(410, "This upload expired; start a new one.")
    return state


# -- OPTIONS -------------------------------------------------------------------
def decide_options(policy: TusPolicy) -> Decision:
    """204 with ``Tus-Version``, and ``Tus-Extension``, ``Tus-Max-Size``,
    ``Tus-Checksum-Algorithm`` as they apply. The request's ``Tus-Resumable``
    is ignored.
    """
    extra = [("Tus-Version", TUS_VERSION)]
    if policy.advertised:
        extra.append(("Tus-Extension", ",".join(policy.advertised)))
    if policy.max_size is not None:
        extra.append(("Tus-Max-Size", str(policy.max_size)))
    if policy.checksum_algorithms:
        extra.append(("Tus-Checksum-Algorithm", ",".join(policy.checksum_algorithms)))
    return Decision(204, _headers(*extra))


# -- POST ----------------------------------------------------------------------
def decide_create(
    request: Request,
    policy: TusPolicy,
    *,
    creation_url: str,
    upload_id: str,
    now: float,
) -> Union[Decision, Create, Concatenate]:
    """A ``POST`` to the creation URL: the upload to create as ``upload_id``.

    ``creation_url`` is the URL the client posts to (partial upload URLs of
    ``Upload-Concat`` resolve against it); ``upload_id`` a fresh uid.
    Refusals: 405 (creation off), 412, 400 (malformed fields, neither or
    both of ``Upload-Length``/``Upload-Defer-Length``, a final upload with a
    length or a body, an extension that is off), 413 (over ``max_size``, or a
    declared body longer than the upload), 415 (a body that is not
    ``application/offset+octet-stream``).

    Raises:
        ValueError: ``upload_id`` is not of the uid form (a bug of the caller;
            no request field can cause it).
    """
    if not policy.speaks("creation"):
        return _not_allowed("POST", policy, on_upload=False)
    try:
        check_version(request)
        return _creation(request, policy, creation_url, upload_id, now)
    except TusError as refusal:
        return refusal.decision()


def _creation(
    request: Request, policy: TusPolicy, creation_url: str, upload_id: str, now: float
) -> Union[Create, Concatenate]:
    raw_metadata = single(request, "Upload-Metadata")
    metadata = parse_metadata(raw_metadata) if raw_metadata is not None else {}
    concat = _concat(request, policy, creation_url)
    length = _declared_length(request, policy, concat)
    declared = body_length(request)
    has_body = declared != 0 and (declared is not None or "Transfer-Encoding" in request.headers)
    if concat is not None and concat.is_final:
        if has_body:
            raise TusError(400, "A final upload takes no body.")
        return Concatenate(upload_id, concat.partial_ids, MappingProxyType(metadata))
    state = UploadState(
        upload_id,
        length=length,
        metadata=metadata,
        expires_at=None if length == 0 else policy.expires_at(now),
        is_partial=concat is not None,
    )
    upload_data = is_offset_stream(request)
    if upload_data and declared != 0 and policy.speaks("creation-with-upload"):
        return Create(state, _write(request, policy, state, declared, length))
    if has_body and upload_data:
        raise TusError(400, "This server does not take upload data with the creation.")
    if has_body:
        raise TusError(415, "A creation body must be application/offset+octet-stream.")
    return Create(state)


def _concat(request: Request, policy: TusPolicy, creation_url: str) -> Optional[Concat]:
    value = single(request, "Upload-Concat")
    if value is None:
        return None
    if not policy.speaks("concatenation"):
        raise TusError(400, "This server does not concatenate uploads.")
    return parse_concat(value, creation_url)


def _declared_length(
    request: Request, policy: TusPolicy, concat: Optional[Concat]
) -> Optional[int]:
    """``Upload-Length`` (``None``: deferred, or a final upload)."""
    value = single(request, "Upload-Length")
    defer = single(request, "Upload-Defer-Length")
    if concat is not None and concat.is_final:
        if value is not None or defer is not None:
            raise TusError(400, "A final upload takes no Upload-Length: it is its parts' sum.")
        return None
    if defer is not None:
        if not policy.speaks("creation-defer-length"):
            raise TusError(400, "This server does not take deferred lengths.")
        if defer.strip(" \t") != "1":
            raise TusError(400, "Upload-Defer-Length must be 1.")
        if value is not None:
            raise TusError(400, "Send Upload-Length or Upload-Defer-Length, not both.")
        return None
    if value is None:
        raise TusError(400, "Upload-Length (or Upload-Defer-Length: 1) is required.")
    length = parse_size(value, "Upload-Length")
    _check_max(policy, length)
    return length


def _check_max(policy: TusPolicy, length: int) -> None:
    if policy.max_size is not None and length > policy.max_size:
        raise TusError(413, f"The upload is larger than the limit of {policy.max_size} bytes.")


def decide_concatenate(
    plan: Concatenate,
    partials: Sequence[Optional[UploadState]],
    policy: TusPolicy,
    *,
    now: float,
) -> Union[Decision, Create]:
    """The final upload of ``plan``, given its partial uploads' states in order.

    ``partials[i]`` is the state of ``plan.partial_ids[i]`` (``None``:
    unknown). The answer is a :class:`Create` of a complete upload (its
    length the partials' sum): join their bytes, store it, then
    :func:`finish_create`. Refusals: 400 (a partial unknown, expired, not
    partial, or unfinished), 413 (the sum over ``max_size``).
    """
    try:
        if len(partials) != len(plan.partial_ids):
            raise TusError(400, "Upload-Concat lists an unknown upload.")
        total = 0
        for partial in partials:
            if partial is None or partial.is_expired(now) or not partial.is_partial:
                raise TusError(400, "Upload-Concat lists an upload that is not a live partial.")
            if not partial.completed:
                raise TusError(400, "Upload-Concat lists a partial upload that is unfinished.")
            total += partial.length or 0
        _check_max(policy, total)
    except TusError as refusal:
        return refusal.decision()
    final = UploadState(
        plan.upload_id,
        offset=total,
        length=total,
        metadata=plan.metadata,
        partial_ids=plan.partial_ids,
    )
    return Create(final)


def finish_create(
    plan: Create,
    policy: TusPolicy,
    *,
    creation_url: str,
    now: float,
    stored: int = 0,
    complete: bool = True,
    overflow: bool = False,
    digest: Optional[bytes] = None,
) -> Outcome:
    """201 with ``Location`` (and ``Upload-Expires``) once the upload is stored.

    With a body (creation-with-upload), ``stored``/``complete``/``overflow``/
    ``digest`` report it as for :func:`finish_patch` and the answer carries
    the resulting ``Upload-Offset``; a refused body leaves the new upload at
    offset 0, for the client to resume.

    Raises:
        ValueError: the report contradicts the plan (a bug of the caller).
    """
    state = plan.state
    extra = [("Location", location_of(creation_url, state.upload_id))]
    if plan.body is not None:
        state, _ = _settle(state, plan.body, policy, now, stored, complete, overflow, digest)
        extra.append(("Upload-Offset", str(state.offset)))
    elif stored:
        raise ValueError("No body was planned, yet bytes were stored.")
    decision = Decision(201, _headers(*extra, *_expires(state), ("Content-Length", "0")))
    return Outcome(state, decision)


# -- HEAD ----------------------------------------------------------------------
def decide_head(
    request: Request,
    state: Optional[UploadState],
    *,
    creation_url: str,
    now: float,
) -> Decision:
    """200 with ``Upload-Offset``, ``Upload-Length`` or ``Upload-Defer-Length``,
    ``Upload-Metadata``, ``Upload-Concat``, ``Upload-Expires`` as they apply
    and ``Cache-Control: no-store``. Refusals: 412, 404 (unknown), 410 (expired).
    """
    try:
        check_version(request)
        state = _existing(state, now)
    except TusError as refusal:
        return refusal.decision()
    extra = [("Upload-Offset", str(state.offset))]
    if state.length is None:
        extra.append(("Upload-Defer-Length", "1"))
    else:
        extra.append(("Upload-Length", str(state.length)))
    if state.metadata:
        extra.append(("Upload-Metadata", encode_metadata(state.metadata)))
    if state.is_partial:
        extra.append(("Upload-Concat", "partial"))
    elif state.is_final:
        urls = " ".join(location_of(creation_url, uid) for uid in state.partial_ids)
        extra.append(("Upload-Concat", f"final;{urls}"))
    return Decision(200, _headers(*extra, *_expires(state)))


# -- PATCH ---------------------------------------------------------------------
def decide_patch(
    request: Request,
    state: Optional[UploadState],
    policy: TusPolicy,
    *,
    now: float,
) -> Union[Decision, Write]:
    """The bytes a ``PATCH`` may append, or the refusal.

    Refusals: 412; 404/410 (unknown/expired); 403 (a final upload); 415 (not
    ``application/offset+octet-stream``); 400 (malformed fields, an unknown
    checksum algorithm, an ``Upload-Length`` that changes a known length or
    is below the offset); 409 (``Upload-Offset`` is not the upload's);
    413 (the new length over ``max_size``, or a declared body past the length).
    """
    try:
        check_version(request)
        state = _existing(state, now)
        if state.is_final:
            raise TusError(403, "A final upload is made by concatenation: it takes no PATCH.")
        if not is_offset_stream(request):
            raise TusError(415, "A PATCH body must be application/offset+octet-stream.")
        offset_value = single(request, "Upload-Offset")
        if offset_value is None:
            raise TusError(400, "Upload-Offset is required.")
        offset = parse_size(offset_value, "Upload-Offset")
        length = _patch_length(request, policy, state)
        if offset != state.offset:
            raise TusError(
                409, f"Upload-Offset {offset} is not the upload's offset {state.offset}."
            )
        return _write(request, policy, state, body_length(request), length)
    except TusError as refusal:
        return refusal.decision()


def _patch_length(request: Request, policy: TusPolicy, state: UploadState) -> Optional[int]:
    """The upload's length after this ``PATCH``: a deferred one may be set now."""
    value = single(request, "Upload-Length")
    if value is None:
        return state.length
    length = parse_size(value, "Upload-Length")
    if state.length is not None:
        if length != state.length:
            raise TusError(400, "Upload-Length cannot change once set.")
        return length
    if length < state.offset:
        raise TusError(400, f"Upload-Length is below the bytes already received ({state.offset}).")
    _check_max(policy, length)
    return length


def _write(
    request: Request,
    policy: TusPolicy,
    state: UploadState,
    declared: Optional[int],
    length: Optional[int],
) -> Write:
    """The :class:`Write` of a body at the upload's offset (413 if declared too long)."""
    value = single(request, "Upload-Checksum")
    checksum = None if value is None else parse_checksum(value, policy.checksum_algorithms)
    if length is not None:
        limit: Optional[int] = length - state.offset
    elif policy.max_size is not None:
        limit = policy.max_size - state.offset
    else:
        limit = None
    if declared is not None and limit is not None and declared > limit:
        raise TusError(413, f"The body is longer than the {limit} bytes the upload has left.")
    return Write(state.offset, limit, declared, length, checksum)


def finish_patch(
    state: UploadState,
    plan: Write,
    policy: TusPolicy,
    *,
    now: float,
    stored: int,
    complete: bool = True,
    overflow: bool = False,
    digest: Optional[bytes] = None,
) -> Outcome:
    """The state and answer after the I/O layer took a ``PATCH`` body.

    ``stored``: bytes written at ``plan.offset`` (at most ``plan.limit``);
    ``complete``: the whole body was read (``False``: the client went away);
    ``overflow``: the body had more than ``plan.limit`` bytes; ``digest``:
    the hasher's digest of the stored bytes when ``plan.checksum`` is set.

    - accepted: the offset grows by ``stored``, 204 with ``Upload-Offset``
      (and ``Upload-Expires``, renewed, while unfinished);
    - body past the limit: 413; checksum mismatch: 460; an incomplete body
      with a checksum cannot be verified: 400. In these three the state is
      unchanged (the stored bytes are discarded);
    - an incomplete body without checksum keeps what arrived.

    Raises:
        ValueError: the report contradicts the plan or the state (a bug of
            the caller, e.g. the state changed without a lock).
    """
    new_state, refusal = _settle(state, plan, policy, now, stored, complete, overflow, digest)
    if refusal is not None:
        return Outcome(new_state, refusal.decision())
    extra = [("Upload-Offset", str(new_state.offset)), *_expires(new_state)]
    return Outcome(new_state, Decision(204, _headers(*extra)))


def _settle(
    state: UploadState,
    plan: Write,
    policy: TusPolicy,
    now: float,
    stored: int,
    complete: bool,
    overflow: bool,
    digest: Optional[bytes],
) -> Tuple[UploadState, Optional[TusError]]:
    """The state after a body, and the refusal if the body is discarded."""
    if state.offset != plan.offset:
        raise ValueError("The upload moved since the plan: hold its lock from plan to finish.")
    if stored < 0 or (plan.limit is not None and stored > plan.limit):
        raise ValueError(f"stored must be within [0, {plan.limit}]: {stored}.")
    if overflow:
        return state, TusError(413, "The body is longer than the upload has left.")
    if plan.checksum is not None:
        if not complete:
            return state, TusError(400, "The body ended before its checksum could be verified.")
        if digest is None:
            raise ValueError("A checksum was planned: report the digest of the stored bytes.")
        if not hmac.compare_digest(digest, plan.checksum.digest):
            return state, TusError(460, "Checksum mismatch: the chunk was discarded.")
    return state.advanced(stored, plan.length, policy.expires_at(now)), None


# -- DELETE --------------------------------------------------------------------
def decide_delete(
    request: Request,
    state: Optional[UploadState],
    policy: TusPolicy,
    *,
    now: float,
) -> Union[Decision, Terminate]:
    """Terminate the upload (then 204). Refusals: 405 (termination off), 412, 404, 410."""
    if not policy.speaks("termination"):
        return _not_allowed("DELETE", policy, on_upload=True)
    try:
        check_version(request)
        state = _existing(state, now)
    except TusError as refusal:
        return refusal.decision()
    return Terminate(state.upload_id, Decision(204, _headers()))
