"""``UploadPolicy``: whether and how a service takes uploads (tus 1.0.0).

A value object, checked when made: ``ServiceData(..., uploads=UploadPolicy())``
turns the upload endpoint on; :mod:`.upload_endpoint` follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Optional

from .http import Request
from .tus import TusPolicy

__all__ = ["Authorize", "UploadPolicy", "UploadRequest", "Validate"]

#: What ``authorize`` is given: the framework-neutral request (``.method``, case-insensitive
#: ``.headers``, ``.query_string``), the same on Flask, FastAPI and Quart.
UploadRequest = Request
#: ``authorize(request)``: truthy to let a tus request through, falsy to refuse it (403).
Authorize = Callable[[UploadRequest], Any]
#: ``validate(file, info)``: raise ``ValueError`` to refuse a finished upload (422).
Validate = Callable[[IO[bytes], Dict[str, Any]], Any]

#: Default :attr:`UploadPolicy.expires`: one day.
DAY = 24 * 3600.0


@dataclass(frozen=True)
class UploadPolicy:
    """The upload endpoint of a service: limits and the application's checks.

    - ``max_size``: the largest upload in bytes (``Tus-Max-Size``; a larger
      declared length gets 413), ``None`` for no limit but the cache's.
    - ``expires``: seconds an unfinished upload is kept after its creation
      or its last accepted ``PATCH`` (``Upload-Expires``); then its partial
      data is removed. ``None`` keeps it until finished or terminated.
    - ``authorize``: called with the request (``dfc.UploadRequest``:
      ``.method``, case-insensitive ``.headers``) before every tus request,
      the creation and every later one; a falsy return refuses it with 403.
    - ``validate``: called once the last byte arrived, with the content as
      a readable binary file and ``{"name", "size", "type", "uid",
      "metadata"}`` (``metadata``: the client's raw ``Upload-Metadata``
      values, untrusted bytes). Raising ``ValueError`` refuses the upload:
      422 with the exception's message, and nothing stays in the cache.

    Any other exception raised by ``authorize`` or ``validate`` is a fault of
    the application, not of the client: it is logged (with its traceback)
    and the client gets 500 with a JSON error that names nothing of it; an
    upload that ``validate`` failed on is removed.

    Raises:
        TypeError: an argument has the wrong type (the message names it).
        ValueError: ``max_size`` is negative or too large, ``expires`` is not
            a positive number of seconds.
    """

    max_size: Optional[int] = None
    expires: Optional[float] = DAY
    authorize: Optional[Authorize] = None
    validate: Optional[Validate] = None

    def __post_init__(self) -> None:
        for name in ("authorize", "validate"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a callable or None, got {type(value).__name__}.")
        self.tus  # noqa: B018 (checks max_size and expires, naming them)

    @property
    def tus(self) -> TusPolicy:
        """The protocol's policy: every extension, with these limits.

        Raises:
            TypeError, ValueError: ``max_size`` or ``expires`` is invalid.
        """
        return TusPolicy(max_size=self.max_size, expires=self.expires)
