"""The test app of :mod:`tests.apps.app` with the upload endpoint on, for real servers.

``tests.apps.uploads_app:create_app()`` reads the same ``DFC_APP_*``
environment (``tests.support.app_env``, offload included); its service takes
uploads (``UploadPolicy()``) at ``/cached-data/uploads``.
"""

from __future__ import annotations

import os
from typing import Any

import dash_file_cache as dfc
from tests.apps.app import build_app, service_from_env


def create_app() -> Any:
    """The app a real server runs: the test app, taking uploads."""
    service = service_from_env(os.environ, uploads=dfc.UploadPolicy())
    return build_app(service, os.environ.get("DFC_APP_BACKEND", "flask"))
