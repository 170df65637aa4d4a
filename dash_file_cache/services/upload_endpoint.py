"""The tus endpoint's I/O layer: the pure decisions of :mod:`.tus` meet the cache.

One blocking call per request (:meth:`UploadEndpoint.answer`): authorize,
route by method, look the upload up under its lock, ask the decision, write
the body into the cache's :class:`~..caches.uploads.UploadStore` in bounded
blocks, store the new state, and turn a finished upload into an ordinary
item. The adapters run it off any event loop and pass the body as a
readable source (a WSGI input stream, or blocks pulled from ASGI
``receive``). Never raises for bad input: refusals are answers.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import replace
from typing import Any, Callable, Dict, Optional, Tuple

from ..caches.abstract import CacheAbstract, CachedFileInfo, open_content
from ..caches.uploads import LockedUpload, UploadBusyError, UploadFullError, UploadSource
from ..errors import ItemElsewhereError
from . import tus
from .http import Decision, Request
from .source import make_content_type, make_file_name
from .tus import TusError, UploadState
from .uid import new_uid
from .upload_policy import UploadPolicy

__all__ = ["CACHED_ADDRESS", "EXPOSED", "METHODS", "REQUEST_HEADERS", "UploadEndpoint"]

_log = logging.getLogger(__name__)

#: The header naming the item a finished upload became.
CACHED_ADDRESS = "Cached-Address"
#: Response headers a page needs to read from the tus answers (CORS).
EXPOSED = (
    "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, Upload-Concat, "
    "Upload-Defer-Length, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
    "Tus-Checksum-Algorithm, Cached-Address"
)
#: Methods a page may send to the endpoint (CORS preflight).
METHODS = "POST, HEAD, PATCH, DELETE, OPTIONS"
#: Request headers a tus client sends, allowed by a preflight even if not asked.
REQUEST_HEADERS = (
    "Tus-Resumable, Upload-Length, Upload-Defer-Length, Upload-Offset, Upload-Metadata, "
    "Upload-Checksum, Upload-Concat, Content-Type, X-HTTP-Method-Override, X-Requested-With"
)
_UNKNOWN = "No such upload: it expired, was terminated or never existed."
#: Seconds between two sweeps of expired uploads by any request (a creation sweeps
#: sooner when ``expires`` is shorter).
SWEEP_EVERY = 60.0


def _refuse(status: int, message: str) -> Decision:
    return TusError(status, message).decision()


def _failed(check: str) -> Decision:
    """The 500 for an application check that raised (logged here, with its traceback).

    The client learns only that the check failed: the exception may name internals.
    """
    _log.exception("dash-file-cache: the upload policy's %s raised", check)
    return _refuse(500, "The server could not check this upload; try again later.")


class UploadEndpoint:
    """The tus endpoint of one service.

    Arguments:
        cache: the service's cache (uploads live in ``cache.uploads()``).
        policy: the service's :class:`UploadPolicy`.
        creation_url: the path clients post to (with the app's prefix).
        address_of: the address of an item, given its uid.
    """

    def __init__(
        self,
        cache: CacheAbstract[Any, Any],
        policy: UploadPolicy,
        creation_url: str,
        address_of: Callable[[str], str],
    ) -> None:
        self.cache = cache
        self.policy = policy
        self.tus = policy.tus
        self.creation_url = creation_url
        self.address_of = address_of
        self._swept = 0.0

    # -- the entry --------------------------------------------------------------
    def answer(self, request: Request, segment: Optional[str], body: UploadSource) -> Decision:
        """The answer to a tus request (blocking).

        ``segment`` is the path segment after the creation URL (``None`` on
        the creation URL itself); ``body`` the request body, read only once
        the headers are accepted. Any request may first sweep expired
        uploads (at most once per :data:`SWEEP_EVERY` seconds), so a server
        that takes requests removes abandoned ones without a request to them.
        """
        self.tidy()
        authorize = self.policy.authorize
        if authorize is not None:
            try:
                allowed = authorize(request)
            except Exception:
                return _failed("authorize")
            if not allowed:
                return _refuse(403, "This upload request is not authorized.")
        method = tus.method_of(request)
        try:
            if segment is None:
                return self._on_creation_url(request, method, body)
            upload_id = tus.upload_id_of(segment)
            return self._on_upload(request, method, upload_id, body)
        except UploadBusyError:
            return _refuse(423, "The upload is busy with another request; retry later.")
        except UploadFullError:
            return _refuse(507, "No room left for this upload.")
        except ItemElsewhereError as exc:
            return _refuse(404, str(exc))
        except FileNotFoundError:
            return _refuse(404, _UNKNOWN)
        except OSError:
            _log.exception("dash-file-cache: upload storage failed")
            return _refuse(503, "The upload storage is unavailable; try again later.")

    def _on_creation_url(self, request: Request, method: str, body: UploadSource) -> Decision:
        if method == "OPTIONS":
            return tus.decide_options(self.tus)
        if method == "POST":
            return self._create(request, body)
        return _refuse(405, f"Method {method} is not allowed here.")

    def _on_upload(
        self, request: Request, method: str, upload_id: Optional[str], body: UploadSource
    ) -> Decision:
        if method == "OPTIONS":
            return tus.decide_options(self.tus)
        if method == "HEAD":
            return self._head(request, upload_id)
        if method == "PATCH":
            return self._patch(request, upload_id, body)
        if method == "DELETE":
            return self._delete(request, upload_id)
        return _refuse(405, f"Method {method} is not allowed on an upload.")

    # -- state ------------------------------------------------------------------
    @staticmethod
    def _state(upload: LockedUpload) -> UploadState:
        return UploadState.from_record(upload.record())

    def _lookup(self, upload_id: Optional[str]) -> Optional[UploadState]:
        """The stored state of ``upload_id`` without the lock; ``None`` if unknown.

        Raises:
            ItemElsewhereError: a per-process cache, and another process's id.
        """
        if upload_id is None:
            return None
        try:
            return UploadState.from_record(self.cache.uploads().record(upload_id))
        except ItemElsewhereError:
            raise
        except (FileNotFoundError, ValueError):
            return None

    # -- HEAD -------------------------------------------------------------------
    def _head(self, request: Request, upload_id: Optional[str]) -> Decision:
        now = time.time()
        state = self._lookup(upload_id)
        address = None
        if state is None and upload_id is not None:
            state, address = self._finished(request, upload_id)
        decision = tus.decide_head(request, state, creation_url=self.creation_url, now=now)
        if address is not None and decision.status == 200:
            decision = _with_address(decision, address)
        return decision

    def _finished(self, request: Request, uid: str) -> Tuple[Optional[UploadState], Optional[str]]:
        """The state and address of an upload that became item ``uid``, if it did.

        A registered item is no upload: ``(None, None)``, as for an unknown id,
        so the endpoint never reveals it.
        """
        try:
            tus.check_version(request)
            info, stream = open_content(self.cache, uid)
        except (TusError, FileNotFoundError):  # ItemElsewhereError too
            return None, None
        if "upload_metadata" not in info:
            stream.close()
            return None, None
        with stream:
            size = stream.seek(0, 2)
        try:
            metadata = tus.parse_metadata(info.get("upload_metadata", ""))
            state = UploadState(
                uid, size, size, metadata, partial_ids=tuple(info.get("upload_partials", ()))
            )
        except (TusError, ValueError):  # not stored by this endpoint
            state = UploadState(uid, size, size)
        return state, self.address_of(uid)

    # -- POST -------------------------------------------------------------------
    def _create(self, request: Request, body: UploadSource) -> Decision:
        now = time.time()
        # A creation is about to take room: it sweeps sooner when uploads expire sooner.
        self._sweep(now, min(SWEEP_EVERY, self.tus.expires or SWEEP_EVERY))
        upload_id = self.cache.new_key(new_uid())
        plan = tus.decide_create(
            request, self.tus, creation_url=self.creation_url, upload_id=upload_id, now=now
        )
        if isinstance(plan, Decision):
            return plan
        if isinstance(plan, tus.Concatenate):
            return self._concatenate(plan, now)
        store = self.cache.uploads()
        store.create(upload_id, plan.state.to_record())
        with store.lock(upload_id) as upload:
            if plan.body is None:
                outcome = tus.finish_create(plan, self.tus, creation_url=self.creation_url, now=now)
            else:
                report = _take(upload, plan.body, body)
                outcome = tus.finish_create(
                    plan, self.tus, creation_url=self.creation_url, now=time.time(), **report
                )
                upload.update(outcome.state.to_record())
            return self._settled(upload, outcome)

    def _concatenate(self, plan: tus.Concatenate, now: float) -> Decision:
        store = self.cache.uploads()
        partials = [self._lookup(uid) for uid in plan.partial_ids]
        final = tus.decide_concatenate(plan, partials, self.tus, now=now)
        if isinstance(final, Decision):
            return final
        # Until joined it is an ordinary unfinished upload, expiring as any.
        joining = UploadState(
            plan.upload_id,
            length=final.state.length,
            metadata=plan.metadata,
            expires_at=self.tus.expires_at(now),
        )
        store.create(plan.upload_id, joining.to_record())
        with store.lock(plan.upload_id) as upload:
            try:
                self._join(upload, plan.partial_ids)
            except BaseException:  # a partial busy or gone: no half-joined upload stays
                upload.remove()
                raise
            upload.update(final.state.to_record())
            outcome = tus.finish_create(final, self.tus, creation_url=self.creation_url, now=now)
            decision = self._settled(upload, outcome)
        for uid in plan.partial_ids:  # their bytes now live in the final upload
            try:
                store.remove(uid)
            except OSError:
                continue
        return decision

    def _join(self, upload: LockedUpload, partial_ids: Tuple[str, ...]) -> None:
        """Write the partial uploads' bytes, in order, into ``upload``.

        Raises:
            UploadBusyError: a partial is busy with another request.
            FileNotFoundError: a partial is gone, or changed meanwhile.
        """
        store = self.cache.uploads()
        offset = 0
        for uid in partial_ids:
            with store.lock(uid) as partial:
                state = self._state(partial)
                with partial.open() as content:
                    stored = upload.write(offset, content).stored
                if not state.completed or stored != state.offset:
                    raise FileNotFoundError(f"The partial upload {uid} changed while joined.")
                offset += stored

    # -- PATCH ------------------------------------------------------------------
    def _patch(self, request: Request, upload_id: Optional[str], body: UploadSource) -> Decision:
        if upload_id is None:  # not of the uid form: unknown, nothing looked up
            refusal = tus.decide_patch(request, None, self.tus, now=time.time())
            return refusal if isinstance(refusal, Decision) else _refuse(404, _UNKNOWN)
        with ExitStack() as held:
            try:
                upload = held.enter_context(self.cache.uploads().lock(upload_id))
            except ItemElsewhereError:
                raise
            except FileNotFoundError:
                return self._patch_finished(request, upload_id)
            state = self._state(upload)
            plan = tus.decide_patch(request, state, self.tus, now=time.time())
            if isinstance(plan, Decision):
                return plan
            report = _take(upload, plan, body)
            outcome = tus.finish_patch(state, plan, self.tus, now=time.time(), **report)
            upload.update(outcome.state.to_record())
            return self._settled(upload, outcome)

    def _patch_finished(self, request: Request, upload_id: str) -> Decision:
        """A PATCH to no unfinished upload: 404, unless the upload became an item.

        A finished upload still exists for tus (``HEAD`` gives its offset), so a
        late or repeated ``PATCH`` (a racing client, a retry whose answer was
        lost) is answered as by the spec: 403 for a final concatenation, 409 for
        another offset, 204 (with the address) for an empty body at its end; a
        body past its end gets 413.
        """
        now = time.time()
        state, address = self._finished(request, upload_id)
        if state is None or address is None:
            return _refuse(404, _UNKNOWN)
        plan = tus.decide_patch(request, state, self.tus, now=now)
        if isinstance(plan, Decision):
            return plan
        if tus.body_length(request) != 0:
            return _refuse(413, "The upload is complete: it takes no more bytes.")
        outcome = tus.finish_patch(state, plan, self.tus, now=now, stored=0)
        return _with_address(outcome.decision, address)

    # -- DELETE -----------------------------------------------------------------
    def _delete(self, request: Request, upload_id: Optional[str]) -> Decision:
        if upload_id is None:
            plan = tus.decide_delete(request, None, self.tus, now=time.time())
            return plan if isinstance(plan, Decision) else _refuse(404, _UNKNOWN)
        try:
            with self.cache.uploads().lock(upload_id) as upload:
                plan = tus.decide_delete(request, self._state(upload), self.tus, now=time.time())
                if isinstance(plan, Decision):
                    return plan
                upload.remove()
                return plan.decision
        except ItemElsewhereError:
            raise
        except FileNotFoundError:
            return self._delete_finished(request, upload_id)

    def _delete_finished(self, request: Request, upload_id: str) -> Decision:
        """A DELETE to no unfinished upload: 404, unless the upload became an item.

        A finished upload still exists for tus, and the spec's termination
        answers 204 for an existing upload: the item it became is removed
        (the upload URL is as secret as the item's address, and ``authorize``
        saw this request). Of two racing DELETEs, one gets 204, the other 404.
        """
        state, _address = self._finished(request, upload_id)
        plan = tus.decide_delete(request, state, self.tus, now=time.time())
        if isinstance(plan, Decision):  # 412 without Tus-Resumable, 404 if no such item
            return plan
        if not self.cache.remove(upload_id):
            return _refuse(404, _UNKNOWN)
        return plan.decision

    # -- becoming an item -------------------------------------------------------
    def _settled(self, upload: LockedUpload, outcome: tus.Outcome) -> Decision:
        """The answer after a state was stored: a ready upload becomes an item first."""
        decision = outcome.decision
        if decision.status >= 300 or not outcome.state.ready:
            return decision
        refusal = self._to_item(upload, outcome.state)
        if refusal is not None:
            return refusal
        return _with_address(decision, self.address_of(outcome.state.upload_id))

    def _to_item(self, upload: LockedUpload, state: UploadState) -> Optional[Decision]:
        """Validate the finished upload and make it an item; the refusal, or ``None``."""
        uid = state.upload_id
        metadata = dict(state.metadata)
        content_type = _content_type(metadata.get("filetype", b""))
        name = make_file_name(_text(metadata.get("filename", b"")), None, uid, content_type)
        validate = self.policy.validate
        if validate is not None:
            info: Dict[str, Any] = {
                "name": name,
                "size": state.offset,
                "type": content_type,
                "uid": uid,
                "metadata": metadata,
            }
            refusal = None
            with upload.open() as content:
                try:
                    validate(content, info)
                except ValueError as exc:
                    refusal = _refuse(422, str(exc) or "The upload was refused.")
                except Exception:
                    refusal = _failed("validate")
            if refusal is not None:
                upload.remove()
                return refusal
        item: CachedFileInfo = {
            "file_name": name,
            "content_type": content_type,
            "one_time_service": False,
            "created": time.time(),
        }
        # Always set (empty without metadata): it tells an upload from a registered item.
        item["upload_metadata"] = tus.encode_metadata(metadata) if metadata else ""
        if state.partial_ids:
            item["upload_partials"] = list(state.partial_ids)
        upload.finish(uid, item)
        return None

    # -- expiry -----------------------------------------------------------------
    def tidy(self) -> None:
        """Sweep expired uploads if the last sweep was :data:`SWEEP_EVERY` seconds ago.

        Called by the service on every request to it, downloads included, so a
        server that only serves items still removes abandoned uploads.
        """
        self._sweep(time.time(), SWEEP_EVERY)

    def _sweep(self, now: float, every: float) -> None:
        """Remove expired uploads (and files cut-short writes left), unless the
        last sweep was less than ``every`` seconds ago.

        Two threads may both sweep once in a while: harmless (busy uploads are skipped).
        """
        if now - self._swept < every:
            return
        self._swept = now
        try:
            self.cache.uploads().sweep(now)
        except Exception:  # housekeeping: never the failure of the request that ran it
            _log.warning("dash-file-cache: the sweep of expired uploads failed", exc_info=True)


def _take(upload: LockedUpload, plan: tus.Write, body: UploadSource) -> Dict[str, Any]:
    """Write ``body`` as ``plan`` says; the report ``finish_patch``/``finish_create`` take.

    Raises:
        UploadFullError, UploadBusyError, OSError: as :meth:`LockedUpload.write`.
    """
    hasher = None if plan.checksum is None else tus.new_hasher(plan.checksum.algorithm)
    observe = None if hasher is None else hasher.update
    written = upload.write(plan.offset, body, limit=plan.limit, observe=observe)
    return {
        "stored": written.stored,
        "complete": written.complete,
        "overflow": written.overflow,
        "digest": None if hasher is None else hasher.digest(),
    }


def _with_address(decision: Decision, address: str) -> Decision:
    return replace(decision, headers=[*decision.headers, (CACHED_ADDRESS, address)])


def _text(value: bytes) -> str:
    """A metadata value as text (untrusted: invalid UTF-8 is replaced)."""
    return value.decode("utf-8", "replace")


def _content_type(value: bytes) -> str:
    """The ``filetype`` metadata as a type label, else ``application/octet-stream``."""
    try:
        return make_content_type(_text(value), "application/octet-stream", False)
    except ValueError:
        return "application/octet-stream"
