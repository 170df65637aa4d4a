"""HTTP services. :class:`ServiceData` registers files and streams them by address."""

from .data import ServiceData
from .writer import CachedFileWriter, Writer

__all__ = ["CachedFileWriter", "ServiceData", "Writer"]
