"""The tus 1.0.0 header fields: parsed strictly, or refused with the status due.

Each parser takes the field's value (a ``str``, as werkzeug's ``Headers``
give it) and returns the typed value, or raises :class:`TusError` carrying
the status the protocol asks for (400 for malformed input, 412 for an
unsupported version, 413 for a size over the limit). The decisions in
:mod:`.decisions` turn that error into the answer, so no header value makes a
decision raise.

Grammar choices, where tus leaves room:

- sizes and offsets are ASCII decimal digits only (no sign, no ``_``, no
  exponent, no Unicode digits that :class:`int` would accept) and at most
  ``2**63 - 1``;
- metadata keys are visible ASCII without comma (tus asks for no space or
  comma and recommends ASCII; keys are echoed in ``HEAD`` answers, so
  nothing else is let through), values strict padded base64;
- a field that must occur once and is sent several times is malformed.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from werkzeug.http import parse_options_header

from ..http import Decision, HeaderList, Request, error
from ..uid import is_valid_uid
from .checksum import ALGORITHMS, digest_size

__all__ = [
    "MAX_SIZE",
    "OFFSET_STREAM",
    "TUS_VERSION",
    "Checksum",
    "Concat",
    "TusError",
    "body_length",
    "check_version",
    "encode_metadata",
    "is_offset_stream",
    "method_of",
    "parse_checksum",
    "parse_concat",
    "parse_metadata",
    "parse_size",
    "single",
    "upload_id_of",
]

#: The one protocol version spoken (``Tus-Resumable``, ``Tus-Version``).
TUS_VERSION = "1.0.0"
#: The media type of every body carrying upload bytes.
OFFSET_STREAM = "application/offset+octet-stream"
#: The largest size or offset accepted: what a signed 64-bit integer holds.
MAX_SIZE = 2**63 - 1

_OWS = " \t"
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
#: Visible ASCII (0x21-0x7E) but the comma.
_KEY = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
#: Padded standard base64 (RFC 4648 section 4), possibly empty.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class TusError(ValueError):
    """A request the protocol refuses: ``status`` and a message for the client.

    ``headers`` are sent with the error (``Tus-Version`` on a 412).
    """

    def __init__(self, status: int, message: str, headers: Optional[HeaderList] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: HeaderList = list(headers or [])

    def decision(self) -> Decision:
        """The JSON error answer, with ``Tus-Resumable`` (tus wants it on every answer)."""
        extra = [("Tus-Resumable", TUS_VERSION), *self.headers]
        return error(self.status, self.message, None, extra)


@dataclass(frozen=True)
class Checksum:
    """An ``Upload-Checksum``: the algorithm and the digest the body must have."""

    algorithm: str
    digest: bytes


@dataclass(frozen=True)
class Concat:
    """An ``Upload-Concat``: a partial upload, or a final one made of ``partial_ids``."""

    is_partial: bool
    partial_ids: Tuple[str, ...] = ()

    @property
    def is_final(self) -> bool:
        return bool(self.partial_ids)


# -- the request as a whole ----------------------------------------------------
def method_of(request: Request) -> str:
    """The method tus means: ``X-HTTP-Method-Override`` when sent, else the request's.

    tus lets clients that cannot send ``PATCH``/``DELETE`` name the method in
    that field, and the server must then ignore the request line's method.
    """
    override = request.headers.get("X-HTTP-Method-Override")
    if override is not None and override.strip(_OWS):
        return override.strip(_OWS).upper()
    return request.method.upper()


def single(request: Request, name: str) -> Optional[str]:
    """The value of a field that may occur at most once (``None`` when absent).

    Raises:
        TusError: 400, the field is sent more than once.
    """
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise TusError(400, f"{name} must be sent at most once.")
    return values[0] if values else None


def check_version(request: Request) -> None:
    """Refuse a request whose ``Tus-Resumable`` is not the version spoken here.

    Absent counts as unsupported: tus requires the field on every request but
    ``OPTIONS`` (which the caller does not pass here).

    Raises:
        TusError: 412 with ``Tus-Version``.
    """
    values = request.headers.getlist("Tus-Resumable")
    if len(values) != 1 or values[0].strip(_OWS) != TUS_VERSION:
        raise TusError(
            412,
            f"Unsupported tus version; this server speaks {TUS_VERSION}.",
            [("Tus-Version", TUS_VERSION)],
        )


def is_offset_stream(request: Request) -> bool:
    """Whether the body is declared as upload bytes (``application/offset+octet-stream``)."""
    values = request.headers.getlist("Content-Type")
    if len(values) != 1:
        return False
    mimetype, _ = parse_options_header(values[0])
    return mimetype.lower() == OFFSET_STREAM


def body_length(request: Request) -> Optional[int]:
    """The declared body length: ``Content-Length``, or ``None`` when not declared.

    ``None`` (chunked, or an HTTP/2 request without the field) means the I/O
    layer learns the length by reading.

    Raises:
        TusError: 400, ``Content-Length`` is malformed or sent twice.
    """
    if "Transfer-Encoding" in request.headers:
        return None
    value = single(request, "Content-Length")
    return None if value is None else parse_size(value, "Content-Length")


def upload_id_of(segment: str) -> Optional[str]:
    """The upload id named by the last path segment of an upload URL, if it has the uid form.

    Anything else (``..``, a path, a wildcard) is ``None``: the upload is
    unknown and no storage is asked about it.
    """
    return segment if is_valid_uid(segment) else None


# -- single fields -------------------------------------------------------------
def parse_size(value: str, name: str) -> int:
    """``Upload-Offset``, ``Upload-Length`` or ``Content-Length``: a non-negative decimal.

    Raises:
        TusError: 400, not ASCII decimal digits, or over :data:`MAX_SIZE`.
    """
    text = value.strip(_OWS)
    if _DIGITS.fullmatch(text) is None:
        raise TusError(400, f"{name} must be a non-negative decimal integer.")
    # Bounded before int(): no huge conversion for a hostile string of digits.
    if len(text.lstrip("0")) > len(str(MAX_SIZE)) or int(text) > MAX_SIZE:
        raise TusError(400, f"{name} is larger than {MAX_SIZE}.")
    return int(text)


def parse_metadata(value: str) -> Dict[str, bytes]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs, in order.

    A value may be left out (then it is empty, and so is the space). An empty
    field is no metadata.

    Raises:
        TusError: 400, an empty pair, a key with a space, comma or non-visible
            character, a repeated key, or a value that is not padded base64.
    """
    text = value.strip(_OWS)
    pairs: Dict[str, bytes] = {}
    if not text:
        return pairs
    for item in text.split(","):
        key, _, encoded = item.strip(_OWS).partition(" ")
        if _KEY.fullmatch(key) is None:
            raise TusError(
                400, "Upload-Metadata keys must be non-empty visible ASCII without commas."
            )
        if key in pairs:
            raise TusError(400, f"Upload-Metadata repeats the key {key!r}.")
        if _BASE64.fullmatch(encoded) is None:
            raise TusError(400, f"Upload-Metadata value of {key!r} is not base64.")
        pairs[key] = base64.b64decode(encoded)
    return pairs


def encode_metadata(metadata: Mapping[str, bytes]) -> str:
    """The ``Upload-Metadata`` value of parsed metadata (a key alone for an empty value)."""
    return ",".join(
        f"{key} {base64.b64encode(data).decode('ascii')}" if data else key
        for key, data in metadata.items()
    )


def parse_checksum(value: str, algorithms: Tuple[str, ...] = ALGORITHMS) -> Checksum:
    """``Upload-Checksum``: ``<algorithm> <base64 digest>``.

    Raises:
        TusError: 400, the algorithm is not one of ``algorithms``, or the
            digest is not base64 of that algorithm's length.
    """
    algorithm, _, encoded = value.strip(_OWS).partition(" ")
    if algorithm not in algorithms:
        supported = ",".join(algorithms) or "none"
        raise TusError(400, f"Unsupported checksum algorithm; supported: {supported}.")
    if not encoded or _BASE64.fullmatch(encoded) is None:
        raise TusError(400, "Upload-Checksum digest is not base64.")
    digest = base64.b64decode(encoded)
    if len(digest) != digest_size(algorithm):
        raise TusError(400, f"Upload-Checksum digest is not a {algorithm} digest.")
    return Checksum(algorithm, digest)


def parse_concat(value: str, creation_url: str) -> Concat:
    """``Upload-Concat``: ``partial``, or ``final;`` then space-separated upload URLs.

    Each URL is resolved against ``creation_url`` (RFC 3986, so absolute,
    path-absolute and relative references all work) and must then name an
    upload of this endpoint: the path ``<creation path>/<uid>``, no query or
    fragment, and, when ``creation_url`` is absolute, the same scheme and
    host. A path-only ``creation_url`` checks paths only (the host a client
    sees behind a proxy is not known here).

    Raises:
        TusError: 400, any other value, an empty list, or a URL that does not
            name an upload of this endpoint.
    """
    text = value.strip(_OWS)
    if text == "partial":
        return Concat(is_partial=True)
    kind, semicolon, urls = text.partition(";")
    if kind.strip(_OWS) != "final" or not semicolon:
        raise TusError(400, "Upload-Concat must be 'partial' or 'final;<upload URLs>'.")
    ids = [_partial_id(url, creation_url) for url in urls.split(" ") if url]
    if not ids:
        raise TusError(400, "Upload-Concat 'final' lists no upload.")
    return Concat(is_partial=False, partial_ids=tuple(ids))


def _partial_id(url: str, creation_url: str) -> str:
    """The upload id of a partial upload's URL (see :func:`parse_concat`)."""
    outside = TusError(400, "Upload-Concat lists a URL that is not an upload of this endpoint.")
    try:
        base = urlsplit(creation_url)
        target = urlsplit(urljoin(creation_url, url))
    except ValueError:  # e.g. an unclosed IPv6 host
        raise outside from None
    if target.query or target.fragment or "?" in url or "#" in url:
        raise outside
    if base.netloc and (
        target.scheme.lower() != base.scheme.lower() or target.netloc.lower() != base.netloc.lower()
    ):
        raise outside
    prefix = base.path.rstrip("/") + "/"
    upload_id = target.path[len(prefix) :] if target.path.startswith(prefix) else ""
    if not is_valid_uid(upload_id):
        raise outside
    return upload_id
