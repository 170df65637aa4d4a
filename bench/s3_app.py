"""The server of ``bench.s3``: the test app (``tests.apps.app``) on the cache the bench asks for.

``bench.s3_app:create_app()`` reads ``DFC_APP_CACHE``: ``file`` is the test app's ``CacheFile``
(``DFC_APP_DIR``); ``s3`` is a ``CacheS3`` on ``DFC_APP_S3_BUCKET`` at ``DFC_APP_S3_ENDPOINT``
(credentials: the ``AWS_*`` variables) with ``redirect`` set by ``BENCH_S3_REDIRECT`` (``1``
or ``0``, default ``0``). With ``BENCH_UPLOADS=1`` the service also takes tus uploads
(``UploadPolicy()``, at ``/cached-data/uploads``), into either cache. Routes: the service at
``/cached-data``, ``POST /register?path=`` and ``GET /stats`` (the worker's ``pid``), as in the
test app.
"""

from __future__ import annotations

import os
from typing import Any

import dash_file_cache as dfc
from tests.apps.app import build_app, cache_from_env

__all__ = ["create_app"]


def create_app() -> Any:
    """The Flask app of one bench server, configured by the environment."""
    env = os.environ
    cache: dfc.CacheAbstract
    if env.get("DFC_APP_CACHE") == "s3":
        cache = dfc.CacheS3(
            env["DFC_APP_S3_BUCKET"],
            endpoint_url=env["DFC_APP_S3_ENDPOINT"],
            region="us-east-1",
            redirect=env.get("BENCH_S3_REDIRECT", "0") == "1",
            timeout=60,
        )
    else:
        cache = cache_from_env(env)
    uploads = dfc.UploadPolicy() if env.get("BENCH_UPLOADS") == "1" else None
    return build_app(dfc.ServiceData(cache, uploads=uploads))
