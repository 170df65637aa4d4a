"""The tus 1.0.0 resumable upload protocol, sans-I/O.

What it is: the protocol's decisions as pure functions (h11 style), for the
core protocol and the extensions creation, creation-with-upload,
creation-defer-length, termination, expiration, checksum (sha1, sha256, md5)
and concatenation. A request (:class:`~dash_file_cache.services.http.Request`),
the upload's :class:`UploadState` as stored, a :class:`TusPolicy` and the
time ``now`` go in; an answer (:class:`~dash_file_cache.services.http.Decision`)
or a plan of what the I/O layer must do (:class:`Create`, :class:`Concatenate`,
:class:`Write`, :class:`Terminate`) comes out, and ``finish_*`` turn what the
I/O layer did into the new state and the answer. Nothing here reads a
socket, a file, a cache or the clock; no request makes a decision raise.

- :mod:`.fields`: the header grammar (strict parsers raising :class:`TusError`).
- :mod:`.checksum`: the algorithms and the incremental hasher factory.
- :mod:`.state`: :class:`TusPolicy` and :class:`UploadState`.
- :mod:`.decisions`: ``decide_options``, ``decide_create``,
  ``decide_concatenate``, ``finish_create``, ``decide_head``,
  ``decide_patch``, ``finish_patch``, ``decide_delete``.

Deliberately NOT here: storage of the bytes and states (the service's
cache), locking, ``authorize``/``validate``, CORS and turning a finished
upload into a cache item (``Cached-Address``): that is the I/O layer,
:mod:`..upload_endpoint`, routed by the Flask/Starlette/Quart adapters.

What the I/O layer must still enforce (the rules a pure function cannot):

- Decide before reading any body: every refusal of a ``decide_*`` comes
  from the headers alone, so a refused request's body is never read (and
  an ``Expect: 100-continue`` is answered by the decision itself).
- Route by :func:`method_of` (``X-HTTP-Method-Override`` replaces the
  method); ``POST``/``OPTIONS`` on the creation URL, ``HEAD``/``PATCH``/
  ``DELETE``/``OPTIONS`` on ``<creation URL>/<id>``; pass an id through
  :func:`upload_id_of` and treat ``None`` as unknown (no storage lookup).
- Do not process a request refused with 412 (:func:`check_version` may be
  called before any lookup; every ``decide_*`` checks it again).
- Hold the upload's lock from the lookup before ``decide_patch`` to the
  store after ``finish_patch``: two ``PATCH``es never interleave (the second
  waits or gets 409/423), so the offset always equals the bytes kept.
- Write a ``PATCH`` body at ``Write.offset``, in bounded chunks, never more
  than ``Write.limit`` bytes; on more, stop and report ``overflow``.
- Keep every byte that arrived when the client goes away mid-``PATCH``
  (``complete=False``) and store the state ``finish_patch`` returns.
- With ``Write.checksum``, hash every byte taken (:func:`new_hasher`) and
  report the digest; discard the chunk (store the unchanged state) when
  ``finish_patch`` refuses it.
- Create a final upload by joining its partials' bytes in order before
  storing the :class:`Create` of :func:`decide_concatenate`.
- Remove an upload's bytes and state on :class:`Terminate`, and remove
  unfinished uploads once expired (``UploadState.expires_at``); keep an
  expired state until then to answer 410, else 404.
- Turn an upload into an item only when ``UploadState.ready`` (complete and
  not a partial: partials are pieces of a final upload). ``metadata`` values
  are untrusted bytes: sanitise a ``filename`` like any other name.
- Expose the tus fields to allowed origins (CORS): ``Location``,
  ``Upload-Offset``, ``Upload-Length``, ``Upload-Metadata``, ``Upload-Expires``,
  ``Upload-Concat``, ``Upload-Defer-Length``, ``Tus-*``.
- Send ``Decision.headers`` as given (``Tus-Resumable`` is on every answer;
  a 204 carries no ``Content-Length``).
"""

from __future__ import annotations

from . import checksum, decisions, fields, state
from .checksum import *  # noqa: F403
from .decisions import *  # noqa: F403
from .fields import *  # noqa: F403
from .state import *  # noqa: F403

# The package's names are its modules' public names, listed once, in each module.
__all__ = [*checksum.__all__, *decisions.__all__, *fields.__all__, *state.__all__]
