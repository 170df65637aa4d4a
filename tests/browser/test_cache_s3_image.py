"""CachedImage of a CacheS3 item with ``redirect=True`` in headless Chromium.

The ``<img>`` load (``Sec-Fetch-Mode: no-cors``) is answered with a 307 and
Chromium follows it to the presigned URL of the real radosgw on 127.0.0.1:
the image renders, and the app read none of its bytes from the store.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, List

import pytest

import dash_file_cache as dfc
from tests.test_cache_s3 import bucket, credentials, make_cache, s3

from .conftest import console_errors
from .test_cached_image import image_app, make_png, wait_status

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

pytest_plugins = ("tests.support.radosgw",)
pytestmark = pytest.mark.browser

__all__ = ["bucket", "credentials", "s3"]


def test_redirected_image_renders(
    browser: Any, radosgw: RadosGateway, bucket: str, credentials: None
) -> None:
    cache = make_cache(radosgw, bucket, redirect=True)
    content_reads: List[str] = []

    def record(request: Any, **_: Any) -> None:
        if "/data/" in request.url:  # the content object, not the sidecar
            content_reads.append(request.url)

    cache.client.meta.events.register("before-send.s3.GetObject", record)
    service = dfc.ServiceData(cache)
    png = make_png(41, 17)
    addresses: List[str] = []

    def make_src() -> str:
        address = service.register(io.BytesIO(png), file_name="g.png", mime_type="image/png")
        addresses.append(address)
        return addresses[-1]

    browser.start_server(image_app(service, make_src))
    browser.find_element("#show").click()
    status = wait_status(browser, "loaded", timeout=20)
    assert (status["natural_width"], status["natural_height"]) == (41, 17)
    img = browser.find_element("#img")
    assert browser.driver.execute_script("return arguments[0].naturalWidth", img) == 41
    assert content_reads == []  # the bytes came from the store, not through the app
    assert console_errors(browser) == []
