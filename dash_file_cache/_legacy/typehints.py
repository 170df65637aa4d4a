"""0.2.0's record types of cached content, for code that still annotates with them."""

from __future__ import annotations

import os
from typing import IO, Callable, TypeVar, Union

from typing_extensions import Literal, TypedDict

__all__ = ["CachedBytesIO", "CachedPath", "CachedStringIO", "Deferred"]

T = TypeVar("T")
#: A value made on demand.
Deferred = Callable[[], T]


class CachedPath(TypedDict):
    """A path item: the file is read from where it is."""

    type: Literal["path"]
    path: Union[str, os.PathLike]


class CachedStringIO(TypedDict):
    """Text content."""

    type: Literal["str"]
    data: IO[str]


class CachedBytesIO(TypedDict):
    """Binary content."""

    type: Literal["bytes"]
    data: IO[bytes]
