"""What the tus decisions know: the endpoint's policy and one upload's state.

Both are immutable values. The I/O layer stores an :class:`UploadState`
(:meth:`UploadState.to_record` is JSON-safe), passes it to a decision, and
stores the new state a ``finish_*`` function returns; nothing here changes
a state in place.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

from ..uid import is_valid_uid
from .checksum import ALGORITHMS
from .fields import MAX_SIZE

__all__ = ["EXTENSIONS", "OPTIONAL_EXTENSIONS", "TusPolicy", "UploadState"]

#: Every extension spoken here, in the order ``Tus-Extension`` lists them.
EXTENSIONS: Tuple[str, ...] = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "expiration",
    "checksum",
    "concatenation",
)
#: The extensions switched by :attr:`TusPolicy.extensions` (``expiration`` is
#: on exactly when :attr:`TusPolicy.expires` is set).
OPTIONAL_EXTENSIONS: FrozenSet[str] = frozenset(EXTENSIONS) - {"expiration"}
#: Extensions that only make sense on top of ``creation``.
_NEEDS_CREATION = ("creation-with-upload", "creation-defer-length", "concatenation")


@dataclass(frozen=True)
class TusPolicy:
    """How the endpoint behaves: limits and the extensions it speaks.

    - ``max_size``: the largest upload in bytes (``Tus-Max-Size``; a larger
      declared length gets 413), ``None`` for no limit.
    - ``extensions``: the switchable extensions on (default: all of them).
    - ``expires``: seconds an unfinished upload is kept after its creation or
      its last accepted ``PATCH`` (``Upload-Expires``); ``None`` keeps it
      until it is finished or terminated, and does not advertise ``expiration``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``max_size`` is negative or over 2**63-1, ``expires`` is
            not positive, ``extensions`` names an unknown extension (or
            ``expiration``), or one that needs ``creation`` without it.
    """

    max_size: Optional[int] = None
    extensions: FrozenSet[str] = OPTIONAL_EXTENSIONS
    expires: Optional[float] = None

    def __post_init__(self) -> None:
        if self.max_size is not None:
            if isinstance(self.max_size, bool) or not isinstance(self.max_size, int):
                raise TypeError(f"max_size must be an int or None, got {self.max_size!r}.")
            if not 0 <= self.max_size <= MAX_SIZE:
                raise ValueError(f"max_size must be between 0 and {MAX_SIZE}: {self.max_size}.")
        if self.expires is not None:
            if isinstance(self.expires, bool) or not isinstance(self.expires, (int, float)):
                raise TypeError(f"expires must be a number of seconds or None: {self.expires!r}.")
            if not 0 < self.expires < float("inf"):
                raise ValueError(f"expires must be a positive number of seconds: {self.expires}.")
        if isinstance(self.extensions, str) or not all(
            isinstance(name, str) for name in self.extensions
        ):
            raise TypeError("extensions must be a set of extension names.")
        object.__setattr__(self, "extensions", frozenset(self.extensions))
        unknown = self.extensions - OPTIONAL_EXTENSIONS
        if unknown:
            raise ValueError(
                f"extensions: unknown {sorted(unknown)}; choose among {sorted(OPTIONAL_EXTENSIONS)}"
                " ('expiration' is on exactly when 'expires' is set)."
            )
        needing = [name for name in _NEEDS_CREATION if name in self.extensions]
        if needing and "creation" not in self.extensions:
            raise ValueError(f"extensions: {needing} need 'creation' too.")

    @property
    def advertised(self) -> Tuple[str, ...]:
        """The extensions on, in ``Tus-Extension`` order."""
        return tuple(name for name in EXTENSIONS if self.speaks(name))

    @property
    def checksum_algorithms(self) -> Tuple[str, ...]:
        """The checksum algorithms accepted (none when ``checksum`` is off)."""
        return ALGORITHMS if "checksum" in self.extensions else ()

    def speaks(self, extension: str) -> bool:
        """Whether ``extension`` is on."""
        if extension == "expiration":
            return self.expires is not None
        return extension in self.extensions

    def expires_at(self, now: float) -> Optional[float]:
        """When an unfinished upload touched at ``now`` expires (``None``: never)."""
        return None if self.expires is None else now + self.expires


@dataclass(frozen=True)
class UploadState:
    """One upload, as stored between requests.

    - ``offset``: bytes received and kept so far (bytes past it in storage
      are leftovers of a refused request, to be overwritten).
    - ``length``: the declared size, ``None`` while deferred.
    - ``metadata``: the client's ``Upload-Metadata``, decoded (read-only).
    - ``expires_at``: POSIX time after which an unfinished upload is gone
      (``None``: never).
    - ``is_partial``: created with ``Upload-Concat: partial``.
    - ``partial_ids``: for a final concatenation, its partial uploads in order.

    Raises:
        ValueError: the fields contradict each other (an id not of the uid
            form, an offset past the length, partial and final at once...).
    """

    upload_id: str
    offset: int = 0
    length: Optional[int] = None
    metadata: Mapping[str, bytes] = field(default_factory=dict)
    expires_at: Optional[float] = None
    is_partial: bool = False
    partial_ids: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_valid_uid(self.upload_id):
            raise ValueError(f"upload_id must have the uid form: {self.upload_id!r}.")
        if not _is_size(self.offset):
            raise ValueError(f"offset must be an int in [0, 2**63-1]: {self.offset!r}.")
        if self.length is not None and not (_is_size(self.length) and self.offset <= self.length):
            raise ValueError(f"length must be an int >= offset ({self.offset}): {self.length!r}.")
        if self.is_partial and self.partial_ids:
            raise ValueError("An upload cannot be partial and final at once.")
        if not all(is_valid_uid(uid) for uid in self.partial_ids):
            raise ValueError("partial_ids must all have the uid form.")
        if self.partial_ids and not self.completed:
            raise ValueError("A final upload is stored once concatenated (offset == length).")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        object.__setattr__(self, "partial_ids", tuple(self.partial_ids))

    @property
    def is_final(self) -> bool:
        return bool(self.partial_ids)

    @property
    def is_deferred(self) -> bool:
        return self.length is None

    @property
    def completed(self) -> bool:
        """Whether every byte has arrived."""
        return self.length is not None and self.offset == self.length

    @property
    def ready(self) -> bool:
        """Whether the content is whole and final: complete and not a partial upload.

        A partial upload is only a piece of a final one: never an item of its own.
        """
        return self.completed and not self.is_partial

    def is_expired(self, now: float) -> bool:
        """Whether this unfinished upload has expired at ``now`` (a finished one never does)."""
        return not self.completed and self.expires_at is not None and now >= self.expires_at

    def advanced(
        self, stored: int, length: Optional[int], expires_at: Optional[float]
    ) -> UploadState:
        """The state after ``stored`` more bytes (and ``length`` set, if it was deferred)."""
        offset = self.offset + stored
        done = length is not None and offset == length
        return replace(self, offset=offset, length=length, expires_at=None if done else expires_at)

    def to_record(self) -> Dict[str, Any]:
        """A JSON-safe ``dict`` of the state (metadata values in base64)."""
        return {
            "upload_id": self.upload_id,
            "offset": self.offset,
            "length": self.length,
            "metadata": {k: base64.b64encode(v).decode("ascii") for k, v in self.metadata.items()},
            "expires_at": self.expires_at,
            "is_partial": self.is_partial,
            "partial_ids": list(self.partial_ids),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> UploadState:
        """The state :meth:`to_record` gave.

        Raises:
            ValueError: the record is not one :meth:`to_record` makes.
        """
        try:
            metadata = {
                str(key): base64.b64decode(value, validate=True)
                for key, value in dict(record["metadata"]).items()
            }
            expires_at = record["expires_at"]
            return cls(
                upload_id=record["upload_id"],
                offset=record["offset"],
                length=record["length"],
                metadata=metadata,
                expires_at=None if expires_at is None else float(expires_at),
                is_partial=record["is_partial"] is True,
                partial_ids=tuple(record["partial_ids"]),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"Not an upload state record: {exc}") from None


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIZE
