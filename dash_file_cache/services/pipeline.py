"""The request pipeline: from a request to an item's :class:`~.content.Answer`.

Look up, decide, claim, open, redirect, offload, remote: what :meth:`ServiceData.answer`
does for one request once the CORS preflight is out of the way. Blocking (it
reads the cache and opens files): the ASGI adapters run it in a worker thread.
The HTTP decisions themselves are :mod:`.http`'s pure functions; this module
is where they meet the cache and the file.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any, Optional, cast

from ..caches.abstract import CacheAbstract, CachedFileInfo, RedirectableContent
from . import http, redirect, remote
from .content import Answer, Content, open_content
from .source import sanitize_file_name

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["answer_item", "answer_query", "claim"]

_log = logging.getLogger(__name__)


def answer_query(service: ServiceData, request: http.Request) -> Answer:
    """The answer to a request naming its item in the query (never raises for bad input).

    A malformed query or method is answered by :func:`.http.parse_query`; a
    missing item is a 404 and an unreadable cache a 503 (:func:`.http.item_error`).
    """
    query = http.parse_query(request)
    if isinstance(query, http.Decision):
        return Answer(query)
    try:
        return answer_item(service, request, query)
    except FileNotFoundError as exc:
        return Answer(http.item_error(exc, request))
    except OSError as exc:  # CacheUnavailableError, or the server is out of descriptors...
        _log.exception("dash-file-cache: cannot serve %s", query.uid)
        return Answer(http.item_error(exc, request))


def answer_item(service: ServiceData, request: Optional[http.Request], query: http.Query) -> Answer:
    """Look up, decide, claim and open the item ``query`` names (``request`` None:
    outside any request, the whole item).

    Raises:
        FileNotFoundError: no such item, or a one-time item already claimed.
        OSError: the cache or the file cannot be read now.
    """
    cache = service.cache
    override = sanitize_file_name(query.file_name) if query.file_name else ""
    info, loader = cache.load(query.uid)
    if info.get("remote"):
        return _answer_remote(service, request, query, info, loader(), override)
    content = open_content(loader(), info["created"])
    try:
        facts = http.ItemFacts(
            uid=query.uid,
            size=content.size,
            mtime=content.mtime,
            content_type=info["content_type"],
            file_name=override or info["file_name"],
            one_time=info["one_time_service"],
            download=query.download,
        )
        decision = http.decide(request, facts, active_content_policy=service.active_content_policy)
    except BaseException:
        content.stream.close()
        raise
    claim(cache, query.uid, decision, content.stream)
    if not decision.send_content:
        content.stream.close()
        return Answer(decision)
    redirected = _redirected(request, decision, facts, content)
    if redirected is not None:
        content.stream.close()
        return Answer(redirected)
    offloaded = _offloaded(service, request, decision, content)
    if offloaded is not None:
        content.stream.close()
        return Answer(offloaded)
    return Answer(decision, content)


def claim(
    cache: CacheAbstract[Any, Any],
    uid: str,
    decision: http.Decision,
    stream: Optional[IO[bytes]],
) -> None:
    """Claim a one-time item when ``decision`` says so, before any byte is sent.

    ``remove`` is atomic, so of two racing requests one gets the item and the
    other a 404. On failure ``stream`` (the opened content, if any) is closed.

    Raises:
        FileNotFoundError: the item was already claimed.
        OSError: the cache cannot be reached now.
    """
    try:
        if decision.claim and not cache.remove(uid):
            raise FileNotFoundError(f"One-time item {uid} was already served.")
    except BaseException:
        if stream is not None:
            stream.close()
        raise


def _redirected(
    request: Optional[http.Request],
    decision: http.Decision,
    item: http.ItemFacts,
    content: Content,
) -> Optional[http.Decision]:
    """The redirect to where the client can fetch the content itself, or None.

    Only content that offers a URL (:class:`RedirectableContent`) and a
    request :func:`.redirect.may_redirect` allows; the URL answers with the
    ``Content-Type`` and ``Content-Disposition`` of ``decision``.
    """
    stream = content.stream
    if not isinstance(stream, RedirectableContent):
        return None
    if not redirect.may_redirect(request, decision, item):
        return None
    headers = dict(decision.headers)
    url = stream.redirect_url(headers["Content-Type"], headers["Content-Disposition"])
    return None if url is None else redirect.redirect_to(url)


def _offloaded(
    service: ServiceData,
    request: Optional[http.Request],
    decision: http.Decision,
    content: Content,
) -> Optional[http.Decision]:
    """The header-only answer handing the bytes to the front server, or None."""
    offload = service.offload
    if offload is None or not content.is_file:
        return None
    headers = offload.headers(request, decision, content.stream)
    if headers is None:
        return None
    return http.Decision(decision.status, headers)


def _answer_remote(
    service: ServiceData,
    request: Optional[http.Request],
    query: http.Query,
    info: CachedFileInfo,
    data: Any,
    file_name: str,
) -> Answer:
    """Ask the remote of a remote item, claim it if one-time, and stream its answer.

    Raises:
        FileNotFoundError: a one-time item already claimed.
        OSError: the stored description cannot be read now.
    """
    if isinstance(data, str):  # never stored as a path; a foreign item
        raise FileNotFoundError(f"Remote item {query.uid} has no description.")
    with data:
        spec = remote.RemoteSpec.from_bytes(data.read())
    decision, stream = remote.answer_remote(
        request,
        spec,
        one_time=info["one_time_service"],
        download=query.download,
        file_name=file_name,
        timeout=service.remote_timeout,
    )
    # Forward-only: FileChunks seeks forward, then reads.
    body = None if stream is None else cast(IO[bytes], stream)
    claim(service.cache, query.uid, decision, body)
    if body is None:
        return Answer(decision)
    return Answer(decision, Content(body, decision.start + decision.length, info["created"]))
