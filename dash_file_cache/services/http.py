"""HTTP decisions about a served item, in one framework-neutral place.

Sans-I/O: a :class:`Request` (method, headers, raw query) and what is known
about an item (size, modification time, name, type) go in; a
:class:`Decision` (status, headers, the byte span to send or an error body)
comes out. Nothing here touches a socket, a file or a web framework, so the
Flask, Starlette/FastAPI and Quart adapters answer byte-for-byte alike and
only turn a decision into their own response.

Preconditions and ranges are :func:`.conditional.evaluate`'s (RFC 9110);
``Accept`` and header quoting are werkzeug's.
"""

from __future__ import annotations

import codecs
import html
import json
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import parse_qsl, quote

from werkzeug.datastructures import ContentRange, Headers, MIMEAccept, MultiDict
from werkzeug.http import dump_options_header, generate_etag, http_date, parse_accept_header

from .._grammar import HeaderList
from ..errors import ItemElsewhereError
from . import security
from .conditional import evaluate
from .uid import is_valid_uid

__all__ = [
    "ROUTED_METHODS",
    "Decision",
    "HeaderList",
    "ItemFacts",
    "Query",
    "Request",
    "content_disposition",
    "decide",
    "error",
    "for_request",
    "item_error",
    "parse_query",
    "range_not_satisfiable",
]

#: Methods the adapters route explicitly where a framework needs a list; every
#: adapter also routes any other method token to the core (see ``_flask.bind``).
ROUTED_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
_ALLOW = ("Allow", "GET, HEAD, OPTIONS")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _requote(exc: UnicodeError) -> Tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 stay percent-encoded.

    So a query value with ``%FF`` reads as ``"%FF"``, as werkzeug (and so
    Flask) reads it, on every backend.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return quote(exc.object[exc.start : exc.end], safe=""), exc.end


_REQUOTE = "dash_file_cache.requote"
codecs.register_error(_REQUOTE, _requote)


@dataclass(frozen=True)
class Request:
    """What the decisions need from an HTTP request, whatever the framework.

    ``headers`` is case-insensitive; ``query_string`` is the raw bytes after
    ``?`` (parsed here, the same way on every backend).
    """

    method: str
    headers: Headers = field(default_factory=Headers)
    query_string: bytes = b""

    @classmethod
    def from_pairs(
        cls, method: str, headers: Iterable[Tuple[str, str]], query_string: bytes
    ) -> Request:
        """Build a request from header ``(name, value)`` pairs."""
        return cls(method.upper(), Headers(list(headers)), query_string)

    @property
    def is_head(self) -> bool:
        return self.method == "HEAD"

    def args(self) -> MultiDict[str, str]:
        """The query values, parsed as werkzeug (and so Flask) parses them."""
        return MultiDict(
            parse_qsl(
                self.query_string.decode("utf-8", "replace"),
                keep_blank_values=True,
                errors=_REQUOTE,
            )
        )

    def prefers_html(self) -> bool:
        """Whether the client asked for a page (a browser navigation), not data.

        Navigations send ``Accept: text/html,...,*/*;q=0.8``; ``fetch``/XHR send
        ``*/*`` or a JSON type and no header at all means JSON too.
        """
        accept = parse_accept_header(self.headers.get("Accept"), MIMEAccept)
        return accept.best_match(["application/json", "text/html"]) == "text/html"


@dataclass(frozen=True)
class Query:
    """The validated query of a request to the service."""

    uid: str
    download: bool
    file_name: Optional[str]


@dataclass(frozen=True)
class ItemFacts:
    """What HTTP needs to know about an item to answer for it."""

    uid: str
    size: int
    mtime: float
    content_type: str
    file_name: str
    one_time: bool
    download: bool

    @property
    def etag(self) -> str:
        return generate_etag(f"{self.uid}:{self.size}:{self.mtime}".encode())


@dataclass(frozen=True)
class Decision:
    """The answer to send.

    ``body`` is the whole body of an error (or empty; always empty once
    :func:`for_request` made it the answer to a ``HEAD``); for a 200/206 the
    content bytes ``[start, start + length)`` follow instead when
    ``send_content`` (never for a ``HEAD``). ``claim`` says a one-time item must be claimed
    (removed from the cache) before any byte is sent; if the claim fails the
    item is gone and :func:`item_error` gives the answer.
    """

    status: int
    headers: HeaderList
    body: bytes = b""
    start: int = 0
    length: int = 0
    send_content: bool = False
    claim: bool = False


def for_request(decision: Decision, request: Optional[Request]) -> Decision:
    """``decision`` as sent in answer to ``request``: a ``HEAD`` gets no body.

    Its headers (``Content-Length`` included) stay those of the ``GET``
    (RFC 9110 9.3.2), so adapters send ``body`` as it is, whatever the method.
    """
    if request is not None and request.is_head and decision.body:
        return replace(decision, body=b"")
    return decision


# -- the query ---------------------------------------------------------------
def _parse_flag(values: List[str]) -> Optional[bool]:
    """``download`` query value: absent/false/0 -> False, true/1 -> True, else None."""
    if not values:
        return False
    if len(values) > 1:
        return None
    value = values[0].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_query(request: Request) -> Union[Query, Decision]:
    """Validate the method and query of a request to the service.

    Returns the :class:`Query`, or the :class:`Decision` to send instead:
    204 with ``Allow`` for ``OPTIONS``, 405 (JSON, with ``Allow``) for any
    other method but GET/HEAD, 400 for a malformed query.
    """
    if request.method == "OPTIONS":
        # RFC 9110 8.6: no Content-Length on a 204.
        return Decision(204, [*common_headers(True), _ALLOW])
    if request.method not in ("GET", "HEAD"):
        return error(405, f"Method {request.method} is not allowed.", request, [_ALLOW])
    args = request.args()
    uids = args.getlist("uid")
    if len(uids) != 1:
        return error(400, "Exactly one 'uid' query parameter is required.", request)
    if not is_valid_uid(uids[0]):
        return error(400, "Malformed 'uid'.", request)
    download = _parse_flag(args.getlist("download"))
    if download is None:
        return error(400, "'download' must be true/false or 1/0.", request)
    names = args.getlist("file_name")
    if len(names) > 1:
        return error(400, "At most one 'file_name' query parameter.", request)
    return Query(uids[0], download, names[0] if names else None)


# -- errors ------------------------------------------------------------------
NOT_FOUND = "No such file: its address expired or never existed."
UNAVAILABLE = "The file cache is unavailable; try again later."

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>File expired</title></head>
<body>
<h1>This file has expired</h1>
<p>{detail}</p>
<p>Go back to the page that gave you this link and make the file again.</p>
</body>
</html>
"""
_PAGE_NOT_FOUND = (
    "The file at this address is no longer kept by the server: it expired, was already "
    "downloaded once, or never existed."
)


def common_headers(one_time: bool) -> HeaderList:
    """Headers on every answer about an item, success or error.

    The data is private and short-lived: never stored by shared caches, and
    revalidated (cheaply, via the ETag) by the browser on reuse; one-time items
    are not stored at all. The address is a capability: no ``Referer``
    carries it away, and other sites cannot embed the answer
    (:func:`.security.baseline_headers`).
    """
    return [
        ("Cache-Control", "private, no-store" if one_time else "private, no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        *security.baseline_headers(),
    ]


def error(
    status: int,
    message: str,
    request: Optional[Request] = None,
    headers: Optional[HeaderList] = None,
    page_detail: Optional[str] = None,
) -> Decision:
    """A JSON ``{"error": message}`` answer.

    A 404 asked by a browser navigation gets a small HTML page instead (same
    status and headers), saying the file expired; ``page_detail`` (plain text,
    escaped here) replaces its generic explanation. Nothing of the request is
    echoed in the page.
    """
    all_headers = common_headers(one_time=True) + list(headers or [])
    if status == 404 and request is not None and request.prefers_html():
        body = _PAGE.format(detail=html.escape(page_detail or _PAGE_NOT_FOUND)).encode()
        all_headers += [
            ("Content-Security-Policy", "default-src 'none'"),
            ("Content-Type", "text/html; charset=utf-8"),
        ]
    else:
        body = json.dumps({"error": message}).encode()
        all_headers.append(("Content-Type", "application/json"))
    all_headers.append(("Content-Length", str(len(body))))
    return Decision(status, all_headers, body)


def item_error(exc: OSError, request: Optional[Request]) -> Decision:
    """The answer when an item cannot be served.

    - ``ItemElsewhereError`` (another server process owns a per-process
      item): 404 with the exception's own message (cause and fix).
    - Any other ``FileNotFoundError`` (unknown, expired, claimed, deleted): 404.
    - Any other ``OSError`` (cache down, out of descriptors): 503.
    """
    if isinstance(exc, ItemElsewhereError):
        return error(404, str(exc), request, page_detail=str(exc))
    if isinstance(exc, FileNotFoundError):
        return error(404, NOT_FOUND, request)
    return error(503, UNAVAILABLE, request)


def range_not_satisfiable(
    size: Union[int, str], headers: Iterable[Tuple[str, str]] = ()
) -> Decision:
    """The 416 answer: JSON error, ``headers``, then ``Content-Range``.

    ``size`` is the complete length of the content (sent as ``bytes */size``),
    or a ``Content-Range`` value to pass on as it is (a remote's own 416).
    """
    unsatisfied = (
        ContentRange("bytes", None, None, size).to_header() if isinstance(size, int) else size
    )
    extra = [*headers, ("Content-Range", unsatisfied)]
    return error(416, "Requested range not satisfiable.", None, extra)


# -- an item -----------------------------------------------------------------
#: The request fields preconditions and ranges depend on.
CONDITIONAL_FIELDS = (
    "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range",
)  # fmt: skip
#: Those of them that make the answer depend on our validators (all but ``Range``).
PRECONDITION_FIELDS = tuple(name for name in CONDITIONAL_FIELDS if name != "Range")


def conditional_fields(request: Request) -> Dict[str, str]:
    """The conditional fields sent, a field sent several times joined with ``", "``."""
    fields = {}
    for name in CONDITIONAL_FIELDS:
        values = request.headers.getlist(name)
        if values:
            fields[name] = ", ".join(values)
    return fields


def plan(request: Optional[Request], size: int, etag: str, mtime: float) -> Tuple[int, int, int]:
    """``(status, start, length)``: 200, 206, 304, 412 or 416 (:func:`.conditional.evaluate`).

    Outside a request (``request`` is ``None``) the whole content is sent.
    """
    if request is None:
        return (200, 0, size)
    decided = evaluate(request.method, conditional_fields(request), size, etag, mtime)
    return (decided.status, decided.start, decided.length)


def content_disposition(file_name: str, download: bool) -> str:
    """``Content-Disposition`` value per RFC 6266.

    ASCII names go in ``filename`` (quoted by werkzeug); others also get an
    RFC 5987 ``filename*=UTF-8''...`` with an ASCII approximation in
    ``filename`` for old clients. ``file_name`` has no control characters (the
    service sanitises it at registration), so no header can be injected.
    """
    kind = "attachment" if download else "inline"
    try:
        file_name.encode("ascii")
    except UnicodeEncodeError:
        ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
        # NFKD turns fullwidth solidi into "/" and "\\": keep the fallback a plain name.
        ascii_name = ascii_name.replace("/", "_").replace("\\", "_")
        options = {
            "filename": ascii_name.strip() or "download",
            "filename*": "UTF-8''" + quote(file_name, safe="!#$&+-.^_`|~"),
        }
    else:
        options = {"filename": file_name}
    return dump_options_header(kind, options)


def decide(
    request: Optional[Request],
    item: ItemFacts,
    *,
    active_content_policy: Optional[str] = security.DEFAULT_ACTIVE_CONTENT_POLICY,
) -> Decision:
    """The answer for an item that exists (``request`` None: outside any request).

    304, 412 and 416 carry no content; 200/206 carry the span to send, and
    for a one-time item a ``GET`` that will send bytes must claim it first
    (``HEAD`` does not claim). Content of a type that can run script gets
    ``active_content_policy`` as its ``Content-Security-Policy``
    (:func:`.security.item_headers`).
    """
    etag = item.etag
    status, start, length = plan(request, item.size, etag, item.mtime)
    validators = [
        ("ETag", f'"{etag}"'),
        ("Last-Modified", http_date(int(item.mtime))),
        ("Accept-Ranges", "bytes"),
    ]
    if status == 412:
        return error(412, "A precondition of the request failed.", None, validators)
    if status == 416:
        return range_not_satisfiable(item.size, validators)
    headers = [*common_headers(item.one_time), *validators]
    if status == 304:
        # RFC 9110 15.4.5: ETag and Cache-Control; Last-Modified not, as there is an ETag.
        return Decision(304, [h for h in headers if h[0] != "Last-Modified"])
    is_head = request is not None and request.is_head
    headers += [
        ("Content-Type", item.content_type),
        ("Content-Length", str(length)),
        ("Content-Disposition", content_disposition(item.file_name, item.download)),
        *security.item_headers(item.content_type, active_content_policy),
    ]
    if status == 206:
        content_range = ContentRange("bytes", start, start + length, item.size).to_header()
        headers.append(("Content-Range", content_range))
    return Decision(
        status,
        headers,
        start=start,
        length=length,
        send_content=not is_head,
        claim=item.one_time and not is_head,
    )
