"""What a served item may do in the browser: the security headers, decided by type.

An address is a capability: anyone holding it can fetch the item until it
expires. The item is served from the app's own origin, so a type a browser
renders as a document that runs script (HTML, SVG, XML...) would run that
script *as the app*: read its cookies and storage, call its APIs as the user.
Such items get ``Content-Security-Policy: sandbox ...``, which puts the
document in an opaque origin (scripts may still run, e.g. a Plotly figure
exported as HTML, but nothing of the app's is theirs). The decision is made
on the type only: ``Content-Disposition: attachment`` does not protect, as
anyone can drop ``&download=true`` from an address.

Fail-safe: every type is treated as able to run script except the inert
ones listed here (raster images, audio, video) and PDF, which runs no script
in the app's origin and which PDF viewers have long refused to show in a
sandboxed document (recent Chromium shows it either way). A malformed or
unusual type is sandboxed (browsers extract the *last* type of a
comma-separated list, so a list is never trusted).
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from .._grammar import TOKEN_PATTERN, HeaderList, check_field_value, is_visible_ascii

__all__ = [
    "CROSS_ORIGIN_RESOURCE_POLICY",
    "DEFAULT_ACTIVE_CONTENT_POLICY",
    "REFERRER_POLICY",
    "baseline_headers",
    "can_run_script",
    "check_active_content_policy",
    "is_passive",
    "item_headers",
]

#: CSP of items whose type can run script: an opaque origin; their own script may
#: run (interactive exports), they may start downloads (e.g. Plotly's "save as
#: PNG") and open links in new tabs, but never with the app's origin.
DEFAULT_ACTIVE_CONTENT_POLICY = (
    "sandbox allow-scripts allow-downloads allow-popups allow-popups-to-escape-sandbox"
)
#: The address is a capability: never sent to another site as a ``Referer``.
REFERRER_POLICY = "no-referrer"
#: Other sites cannot embed the items (``<img>``, ``<script>``...). The one place of
#: this value: a CORS-enabled service relaxes it here.
CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"

_ESSENCE = re.compile(rf"\s*({TOKEN_PATTERN})/({TOKEN_PATTERN})\s*")
#: Top-level types a browser decodes as media, never as a document (with ``nosniff``).
_MEDIA = frozenset({"image", "audio", "video"})
#: Types shown by a browser's built-in viewer that a sandbox would break.
_VIEWER_TYPES = frozenset({"application/pdf"})
#: Types a browser shows as plain text or saves, never renders as a document, even
#: without ``nosniff`` (WHATWG MIME Sniffing never turns them into HTML).
_DATA_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/tab-separated-values",
        "application/octet-stream",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/vnd.apache.parquet",
        "application/x-hdf5",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


def _essence(content_type: str) -> Optional[Tuple[str, str]]:
    """``(type, subtype)`` in lower case, or ``None`` if not exactly one valid type."""
    if "," in content_type:
        return None
    match = _ESSENCE.fullmatch(content_type.split(";", 1)[0])
    if match is None:
        return None
    return match.group(1).lower(), match.group(2).lower()


def can_run_script(content_type: str) -> bool:
    """Whether a document of this ``Content-Type`` might run script in a browser.

    ``False`` only for a single well-formed raster image, audio or video type
    (not XML-based: ``image/svg+xml`` runs script) and for PDF; ``True`` for
    everything else, including HTML, XHTML, SVG, XML, any ``+xml`` type,
    unknown types and malformed values. Parameters and case do not matter.
    """
    essence = _essence(content_type)
    if essence is None:
        return True
    major, minor = essence
    if f"{major}/{minor}" in _VIEWER_TYPES:
        return False
    if major in _MEDIA:
        return "xml" in minor or "svg" in minor or "html" in minor
    return True


def is_passive(content_type: str) -> bool:
    """Whether a browser never runs this ``Content-Type`` as a document, from any origin.

    What may be served by another server that sends none of our headers (no
    sandbox CSP, no ``nosniff``), such as an object store answering a
    presigned URL: a type that does not :func:`can_run_script` (raster
    images, audio, video, PDF), or one of a short list of data types that
    browsers show as text or save (CSV, plain text, ``application/octet-stream``,
    archives, spreadsheets). Everything else, malformed values included, is not.
    """
    essence = _essence(content_type)
    if essence is None or not is_visible_ascii(content_type):
        return False
    return not can_run_script(content_type) or "/".join(essence) in _DATA_TYPES


def baseline_headers() -> HeaderList:
    """Headers on every answer of the service (items, errors, ``OPTIONS``)."""
    return [
        ("Referrer-Policy", REFERRER_POLICY),
        ("Cross-Origin-Resource-Policy", CROSS_ORIGIN_RESOURCE_POLICY),
    ]


def item_headers(content_type: str, active_content_policy: Optional[str]) -> HeaderList:
    """The ``Content-Security-Policy`` of an item's content, if any.

    ``active_content_policy`` (see :func:`check_active_content_policy`) is sent
    for a type that :func:`can_run_script`; ``None`` sends none (trusted content).
    """
    if active_content_policy is None or not can_run_script(content_type):
        return []
    return [("Content-Security-Policy", active_content_policy)]


def check_active_content_policy(value: Optional[str]) -> Optional[str]:
    """Validate the ``active_content_policy`` option of ``ServiceData``.

    ``None`` (no policy: the app trusts every item it serves) or a
    ``Content-Security-Policy`` value: non-empty latin-1 text without control
    characters (it becomes a header). Returned stripped.

    Raises:
        TypeError: ``value`` is neither ``None`` nor a ``str``.
        ValueError: ``value`` is empty, has control characters or is not latin-1.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"active_content_policy must be a str or None, got {type(value).__name__}.")
    check_field_value("active_content_policy", value)
    value = value.strip()
    if not value:
        raise ValueError(
            "active_content_policy must not be empty; pass None to send no policy at all."
        )
    return value
