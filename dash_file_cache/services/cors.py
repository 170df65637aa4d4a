"""Cross-origin reads (CORS), opt-in: which origins may read the service's answers.

Sans-I/O like :mod:`.http`: a :class:`CorsPolicy` looks at a request's
``Origin`` and gives the headers to add to an answer, or the whole answer to
a preflight ``OPTIONS``. Origins that are not allowed get no CORS header at
all (the browser then refuses the read), and the resource policy stays as it
was. Fetch standard rules: a listed origin is echoed with
``Access-Control-Allow-Credentials: true`` (as dash-file-cache 0.2.0 did);
``"*"`` is sent as ``*`` without credentials, the only form browsers accept
for any origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import FrozenSet, Iterable, Optional, Tuple, Union
from urllib.parse import urlsplit

from .._grammar import HeaderList, is_token
from .http import Decision, Request, common_headers

__all__ = ["CorsPolicy", "parse_allowed_origins"]

#: Response headers a page needs to read for a download or a media element.
EXPOSED = (
    "Content-Disposition, Content-Length, Content-Range, Content-Type, ETag, "
    "Last-Modified, Accept-Ranges"
)
#: Methods the service answers with content.
METHODS = "GET, HEAD"
#: How long (seconds) a browser may reuse a preflight answer.
MAX_AGE = "600"
_RESOURCE_POLICY = "Cross-Origin-Resource-Policy"

AllowedOrigins = Union[str, Iterable[str], None]


def _add_vary(headers: HeaderList, names: str) -> HeaderList:
    """``headers`` with ``names`` added to its one ``Vary`` field."""
    present = [value for name, value in headers if name.lower() == "vary"]
    rest = [(name, value) for name, value in headers if name.lower() != "vary"]
    return [*rest, ("Vary", ", ".join([*present, names]))]


def _normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` lower-cased, as browsers send ``Origin``.

    Raises:
        ValueError: ``value`` is not an http(s) origin (naming ``allowed_cross_origin``).
    """
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(
            "allowed_cross_origin must be '*', an origin such as 'https://example.com:8050' "
            f"or a list of origins, got {value!r}."
        )
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_allowed_origins(value: AllowedOrigins) -> Tuple[str, ...]:
    """The allowed origins of ``value``: ``()`` (none), ``("*",)`` or origins.

    ``value`` is ``None``/``""`` (CORS off), ``"*"``, one origin, several
    origins separated by spaces or commas, or an iterable of origins.

    Raises:
        TypeError: ``value`` is neither a string nor an iterable of strings.
        ValueError: an entry is not ``*`` or an http(s) origin.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items = [item for item in re.split(r"[\s,]+", value) if item]
    else:
        try:
            items = list(value)
        except TypeError:
            raise TypeError(
                "allowed_cross_origin must be None, a str or a list of str, "
                f"got {type(value).__name__}."
            ) from None
        for item in items:
            if not isinstance(item, str):
                raise TypeError(
                    f"allowed_cross_origin entries must be str, got {type(item).__name__}."
                )
        items = [item.strip() for item in items if item.strip()]
    if "*" in items:
        return ("*",)
    return tuple(dict.fromkeys(_normalize_origin(item) for item in items))


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may read the answers, and the headers that say so."""

    origins: FrozenSet[str]
    any_origin: bool = False

    @classmethod
    def of(cls, value: AllowedOrigins) -> Optional[CorsPolicy]:
        """The policy for an ``allowed_cross_origin`` value, or ``None`` when CORS is off.

        Raises:
            TypeError, ValueError: as :func:`parse_allowed_origins`.
        """
        origins = parse_allowed_origins(value)
        if not origins:
            return None
        if origins == ("*",):
            return cls(frozenset(), any_origin=True)
        return cls(frozenset(origins))

    def allows(self, origin: Optional[str]) -> bool:
        """Whether a request with this ``Origin`` header may read the answer."""
        if not origin:
            return False
        if self.any_origin:
            return True
        try:
            return _normalize_origin(origin) in self.origins
        except ValueError:
            return False

    def _allow_headers(self, origin: str) -> HeaderList:
        if self.any_origin:
            return [("Access-Control-Allow-Origin", "*")]
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
        ]

    def apply(
        self, request: Optional[Request], decision: Decision, exposed: str = EXPOSED
    ) -> Decision:
        """``decision`` with the CORS headers ``request``'s origin gets.

        Every answer varies by ``Origin`` once CORS is on (a listed origin is
        echoed), so ``Vary: Origin`` is always added. An allowed origin also
        gets the exposed headers and ``Cross-Origin-Resource-Policy:
        cross-origin`` (replacing a stricter one), so ``<img crossorigin>``
        and ``fetch`` from that origin may read the bytes. ``exposed``: the
        ``Access-Control-Expose-Headers`` value (the upload endpoint's differs).
        """
        headers = _add_vary(decision.headers, "Origin")
        origin = None if request is None else request.headers.get("Origin")
        if origin and self.allows(origin):
            headers = [h for h in headers if h[0].lower() != _RESOURCE_POLICY.lower()]
            headers += [
                *self._allow_headers(origin),
                ("Access-Control-Expose-Headers", exposed),
                (_RESOURCE_POLICY, "cross-origin"),
            ]
        return replace(decision, headers=headers)

    def preflight(self, request: Request, methods: str = METHODS) -> Optional[Decision]:
        """The answer to a CORS preflight, or ``None`` if ``request`` is not one.

        A preflight is an ``OPTIONS`` with ``Origin`` and
        ``Access-Control-Request-Method``. An allowed origin asking for GET or
        HEAD (or one of ``methods``, comma-separated) gets 204 allowing the
        request headers it asked for (when they are well-formed field names);
        any other preflight gets a 204 without CORS headers, which the browser
        reads as a refusal.
        """
        origin = request.headers.get("Origin")
        method = request.headers.get("Access-Control-Request-Method")
        if request.method != "OPTIONS" or not origin or method is None:
            return None
        headers = _add_vary(common_headers(True), "Origin, Access-Control-Request-Headers")
        wanted = [
            name.strip()
            for name in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if name.strip()
        ]
        if (
            self.allows(origin)
            and method.strip() in [m.strip() for m in methods.split(",")]
            and all(is_token(name) for name in wanted)
        ):
            headers += [
                *self._allow_headers(origin),
                ("Access-Control-Allow-Methods", methods),
                ("Access-Control-Max-Age", MAX_AGE),
            ]
            if wanted:
                headers.append(("Access-Control-Allow-Headers", ", ".join(wanted)))
        return Decision(204, headers)
