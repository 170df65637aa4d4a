"""The checksum algorithms of the tus ``checksum`` extension, and their hashers.

A client may send ``Upload-Checksum: <algorithm> <base64 digest>`` with a
``PATCH``; the I/O layer feeds every byte it takes from that body to
:func:`new_hasher`'s object and reports the digest, and the decision
compares it. Algorithm names are lowercase ASCII, as the extension requires.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, Tuple, Union

__all__ = ["ALGORITHMS", "Hasher", "digest_size", "new_hasher"]

#: Supported algorithms, in the order ``Tus-Checksum-Algorithm`` lists them
#: (``sha1`` is the one every tus server must support).
ALGORITHMS: Tuple[str, ...] = ("sha1", "sha256", "md5")


class Hasher(Protocol):
    """An incremental hash: feed it the bytes, then ask for the digest."""

    def update(self, data: Union[bytes, memoryview], /) -> None: ...

    def digest(self) -> bytes: ...


def new_hasher(algorithm: str) -> Hasher:
    """A fresh incremental hasher for one of :data:`ALGORITHMS`.

    The hash checks integrity, not secrets (``usedforsecurity=False``: md5
    and sha1 stay available on FIPS-restricted systems).

    Raises:
        ValueError: ``algorithm`` is not one of :data:`ALGORITHMS`.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unsupported checksum algorithm {algorithm!r}; use one of {ALGORITHMS}.")
    return hashlib.new(algorithm, usedforsecurity=False)


def digest_size(algorithm: str) -> int:
    """The digest length in bytes of one of :data:`ALGORITHMS`.

    Raises:
        ValueError: ``algorithm`` is not one of :data:`ALGORITHMS`.
    """
    return len(new_hasher(algorithm).digest())
