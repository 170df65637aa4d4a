# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated: 0.2.0's ``dash_file_cache.services.reqstream``."""

from .._compat import deprecated_names

__all__ = ["DeferredRequestStream", "ProtocolResponse"]

__getattr__ = deprecated_names(
    __name__,
    {
        "ProtocolResponse": (
            "dash_file_cache._legacy.services:ProtocolResponse",
            "urllib3.HTTPResponse",
        ),
        "DeferredRequestStream": (
            "dash_file_cache._legacy.services:DeferredRequestStream",
            "ServiceData.register_request (the address streams the remote file)",
        ),
    },
)
