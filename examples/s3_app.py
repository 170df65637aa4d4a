"""Keep the files of a Dash app in an S3 bucket with ``dfc.CacheS3``, for apps on several hosts.

Every page load registers a small PNG in the bucket and shows it with
``dfc.CachedImage``; the button writes a CSV report straight into the bucket (a writer) and
saves it with ``dfc.CachedDownload``. Any process started the same way, on any host reaching
the bucket, serves the addresses any other one made: nothing is kept on the app's disk.

Configuration is the standard AWS one, from the environment:

- ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (or ``~/.aws/credentials``, an instance role);
- ``AWS_ENDPOINT_URL`` for a store other than AWS (MinIO, Ceph, R2...), ``AWS_DEFAULT_REGION``;
- ``DFC_S3_BUCKET``: the bucket (default ``dash-file-cache``; it must exist);
- ``PORT``: the port to listen on (default 8050).

Run, against a local MinIO for instance::

    export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin
    export AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_DEFAULT_REGION=us-east-1
    .venv/bin/python examples/s3_app.py

then open http://127.0.0.1:8050.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import IO, Any, Optional

import dash
from dash import Input, Output, html

import dash_file_cache as dfc

BUCKET = os.environ.get("DFC_S3_BUCKET", "dash-file-cache")


def gradient_png(size: int, seed: int) -> bytes:
    """A ``size`` x ``size`` grey-level PNG: a diagonal gradient shifted by ``seed``."""
    rows = b"".join(
        b"\x00" + bytes((3 * (x + y) + 37 * seed) % 256 for x in range(size)) for y in range(size)
    )

    def part(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit grey levels
    parts = [part(b"IHDR", head), part(b"IDAT", zlib.compress(rows)), part(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


def write_report(out: IO[Any], rows: int) -> None:
    """Write a CSV of ``rows`` lines into ``out`` (the cache's writer: straight to the bucket)."""
    out.write("row,square,cube\n")
    for i in range(rows):
        out.write(f"{i},{i * i},{i * i * i}\n")


def create_app(bucket: str = BUCKET) -> dash.Dash:
    """The app: an image registered at each page load, and a button saving a report."""
    app = dash.Dash(__name__, title="Files in object storage")
    # Credentials and endpoint: the AWS variables. One CacheS3 per process, same bucket.
    service = dfc.ServiceData(dfc.CacheS3(bucket))
    service.serve(app)

    def layout() -> html.Div:
        # Registered at each page load: an address lives ``ttl`` seconds (an hour by default).
        address = service.register(
            io.BytesIO(gradient_png(160, 0)), file_name="gradient.png", mime_type="image/png"
        )
        return html.Div(
            [
                html.H1("Files in object storage"),
                dfc.CachedImage(id="image", src=address, alt="a gradient"),
                html.P(html.Button("Save a report", id="save")),
                dfc.CachedDownload(id="saver"),
                html.P(id="status"),
            ],
            style={"fontFamily": "sans-serif", "margin": "2em"},
        )

    app.layout = layout

    @app.callback(Output("saver", "url"), Input("save", "n_clicks"), prevent_initial_call=True)
    def save(n_clicks: int) -> str:
        return service.register(
            lambda out: write_report(out, 1000 * n_clicks),
            file_name=f"report-{n_clicks}.csv",
            download=True,
        )

    @app.callback(Output("status", "children"), Input("saver", "status"))
    def show_status(status: Optional[dict]) -> str:
        if not status:
            return ""
        if status.get("state") == "done":
            return f"Saved {status.get('file_name')}."
        return str(status.get("state"))

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "8050")), debug=False)
