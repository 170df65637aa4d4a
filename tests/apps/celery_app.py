"""``tests/apps/background_app.py``'s app with its background callbacks on Celery.

``DFC_REDIS_URL`` is the broker and result backend; ``DFC_CACHE_KIND`` the cache
(``plain`` or ``file``); ``DFC_WORK_DIR`` a folder for ``CacheFile``. Run::

    celery -A tests.apps.celery_app:celery_app worker --pool=solo
    python -m tests.apps.celery_app PORT
"""

from __future__ import annotations

import os
import sys

import dash
from celery import Celery

from tests.apps.background_app import create_app

REDIS_URL = os.environ["DFC_REDIS_URL"]
celery_app = Celery(__name__, broker=REDIS_URL, backend=REDIS_URL)
celery_app.conf.update(broker_connection_retry_on_startup=True)
app = create_app(
    os.environ.get("DFC_CACHE_KIND", "plain"),
    os.environ["DFC_WORK_DIR"],
    manager=dash.CeleryManager(celery_app),
)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
