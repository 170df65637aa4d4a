"""HTTP services. :class:`ServiceData` registers files and streams them by address."""

from .data import ServiceData

__all__ = ["ServiceData"]
