"""The small grammar every layer checks text against: tokens, control characters,
header values, and units.

One place for rules that were repeated: what an HTTP token is (RFC 9110
5.6.2), which control characters each kind of value must not hold, what a
header value must be to be sent at all (latin-1), and the byte units. Pure
functions, no I/O, no framework; importable from the caches and the services.

Control characters, three rules, each for a reason:

- :func:`breaks_field` (CR, LF, NUL): what RFC 9110 5.5 says a field value must
  never carry, as it would end the field or the message. Checked on values the
  app passes on to another server (a remote item's URL and request headers),
  where other characters are the remote's business.
- :func:`has_control` (CTL, RFC 5234: U+0000-U+001F and DEL): not allowed in a
  header value this app builds from configuration (a ``Content-Security-Policy``,
  an offload prefix).
- :func:`has_control` with ``c1=True`` (also the C1 controls U+0080-U+009F, every
  Unicode ``Cc``): not allowed in, or replaced in, what an app registers for an
  item (its type, its file name), which may come from anywhere.
"""

from __future__ import annotations

import re
from typing import List, Tuple

__all__ = [
    "MB",
    "OWS",
    "TOKEN_PATTERN",
    "HeaderList",
    "breaks_field",
    "check_field_value",
    "has_control",
    "is_latin1",
    "is_token",
    "is_visible_ascii",
    "replace_controls",
]

#: One mebibyte: ``chunk_size`` and the like count in these.
MB = 1 << 20

#: Header fields as ``(name, value)`` pairs, in order, a name possibly repeated.
HeaderList = List[Tuple[str, str]]

#: Optional whitespace around field values and list elements (RFC 9110 5.6.3).
OWS = " \t"
#: A token (RFC 9110 5.6.2): field names, methods, range units, type names.
TOKEN_PATTERN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TOKEN = re.compile(TOKEN_PATTERN)

_LINE_BREAKERS = frozenset("\r\n\x00")
_CTL = re.compile(r"[\x00-\x1f\x7f]")
_CTL_OR_C1 = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_token(value: str) -> bool:
    """Whether ``value`` is exactly one token (not empty, no blanks)."""
    return _TOKEN.fullmatch(value) is not None


def breaks_field(value: str) -> bool:
    """Whether ``value`` holds CR, LF or NUL, which end a header field or message."""
    return not _LINE_BREAKERS.isdisjoint(value)


def has_control(value: str, *, c1: bool = False) -> bool:
    """Whether ``value`` holds a control character: CTL (U+0000-U+001F, DEL), and
    with ``c1`` also U+0080-U+009F."""
    return (_CTL_OR_C1 if c1 else _CTL).search(value) is not None


def replace_controls(value: str, replacement: str) -> str:
    """``value`` with every control character (CTL and C1) replaced."""
    return _CTL_OR_C1.sub(replacement, value)


def is_latin1(value: str) -> bool:
    """Whether ``value`` can be sent as a header value (latin-1 text)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def is_visible_ascii(value: str) -> bool:
    """Whether ``value`` is printable ASCII only (U+0020-U+007E): read alike by any server."""
    return value.isascii() and not has_control(value)


def check_field_value(name: str, value: str, *, c1: bool = False) -> None:
    """Check a header value given by the app as the argument ``name``.

    Raises:
        ValueError: ``value`` has a control character (:func:`has_control`,
            with ``c1`` as given) or is not latin-1 text.
    """
    if has_control(value, c1=c1):
        raise ValueError(f"{name} must not contain control characters: {value!r}.")
    if not is_latin1(value):
        raise ValueError(f"{name} must be latin-1 text, as HTTP header values are: {value!r}.")
