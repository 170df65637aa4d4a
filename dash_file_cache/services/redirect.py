"""Send a client to fetch an item's bytes elsewhere: a redirect to a presigned URL.

A cache whose content another server can send (``CacheS3``: the object store,
by a presigned URL; see :class:`~dash_file_cache.caches.abstract.RedirectableContent`)
lets the app answer a ``GET`` with ``307 Temporary Redirect`` to that URL, so
the bytes go from the store to the client and the app's workers send none of
them. The app still takes every decision that is ours first (the uid, the
one-time claim, preconditions, CORS), and only a request the store answers as
we would is redirected:

- a ``GET`` whose answer sends content (200, or 206 for one plain byte range
  the store computes alike); ``HEAD``, 304, 412, 416 and errors are the app's.
  A request with a precondition field stays here too: the store would compare
  it with its own validators, not our ``ETag`` and ``Last-Modified``;
- a type a browser never runs as a document (:func:`.security.is_passive`): the
  store cannot add our sandbox ``Content-Security-Policy`` nor ``nosniff``, so
  HTML, SVG, XML and unknown types are always streamed by the app;
- not a one-time item: a presigned URL works until it expires, however many
  times it is used, and the content must outlive the claim; such items are
  streamed once, as with every cache;
- not a CORS request (``Sec-Fetch-Mode: cors`` or ``same-origin``, as
  ``fetch`` sends, or an ``Origin`` header from a browser without Fetch
  Metadata): following the redirect to the store's origin would need CORS
  rules on the bucket. Navigations, ``<img>``/``<video>`` loads (``no-cors``)
  and clients that are not browsers are redirected.

Pure functions, like :mod:`.http`: the pipeline asks the content for its URL
only when :func:`may_redirect` says yes.
"""

from __future__ import annotations

import re
from typing import Optional

from .._grammar import is_visible_ascii
from . import security
from .http import PRECONDITION_FIELDS, Decision, ItemFacts, Request, common_headers

__all__ = ["STATUS", "may_redirect", "redirect_to"]

#: Keeps the method (a 302 may turn it into a ``GET``; it is one here, but 307 says so).
STATUS = 307
#: ``Sec-Fetch-Mode`` values whose requests follow a redirect to any origin without CORS.
_FOLLOWED_MODES = frozenset({"navigate", "nested-navigate", "no-cors"})
#: One byte range in the form every S3 store reads alike.
_PLAIN_RANGE = re.compile(r"bytes=(?:[0-9]+-[0-9]*|-[0-9]+)")


def may_redirect(request: Optional[Request], decision: Decision, item: ItemFacts) -> bool:
    """Whether ``decision`` (the app's answer to ``request`` for ``item``) may be a redirect.

    See the module's docstring for the rules; ``request`` None (outside any
    request) is never redirected.
    """
    if request is None or request.method != "GET" or not decision.send_content:
        return False
    if item.one_time or not security.is_passive(item.content_type):
        return False
    headers = request.headers
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None and mode.strip().lower() not in _FOLLOWED_MODES:
        return False
    if "Origin" in headers or any(name in headers for name in PRECONDITION_FIELDS):
        return False
    ranges = headers.getlist("Range")
    if decision.status == 206:
        return len(ranges) == 1 and _PLAIN_RANGE.fullmatch(ranges[0]) is not None
    return decision.status == 200 and not ranges


def redirect_to(location: str) -> Optional[Decision]:
    """The ``307`` answer sending the client to ``location``, or None if it cannot be sent.

    Not cached anywhere (the URL expires); the baseline headers of every
    answer stay (``Referrer-Policy: no-referrer``: the store never learns our
    address). ``location`` must be printable ASCII (a presigned URL is).
    """
    if not location or not is_visible_ascii(location):
        return None
    headers = [*common_headers(one_time=True), ("Location", location), ("Content-Length", "0")]
    return Decision(STATUS, headers)
