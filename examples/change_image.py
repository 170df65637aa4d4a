"""Change an image from a callback: each click draws a new PNG and shows it by address.

The callback writes the PNG into an ``io.BytesIO``, registers it with ``service.register``
and returns the address, which ``dfc.CachedImage`` loads like any image URL: the bytes never
travel through the callback's JSON. ``CachedImage`` reports what happened in ``status``
(shown under the image) and shows its ``fallback`` if the address has expired.

Run: ``.venv/bin/python examples/change_image.py``, then open http://127.0.0.1:8050.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import Callable, Dict, Optional, Tuple

import dash
from dash import Input, Output, dcc, html

import dash_file_cache as dfc

Pixel = Tuple[int, int, int]

PATTERNS: Dict[str, Callable[[float, float, int], Pixel]] = {
    # (x, y) in [0, 1), seed -> (r, g, b)
    "rings": lambda x, y, k: (
        int(127 + 127 * math.sin((k + 4) * 9 * math.hypot(x - 0.5, y - 0.5))),
        90,
        200,
    ),
    "stripes": lambda x, y, k: (230, int(127 + 127 * math.sin((k + 2) * 6 * (x + y))), 60),
    "checks": lambda x, y, k: (
        (40, 160, 90) if (int(x * (k + 4)) + int(y * (k + 4))) % 2 else (240, 240, 240)
    ),
}


def png(width: int, height: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """Encode an RGB image as PNG (signature, IHDR, one IDAT, IEND)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    raw = bytearray()
    for row in range(height):
        raw.append(0)  # filter type "None" for every scanline
        for col in range(width):
            raw.extend(pixel(col / width, row / height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(bytes(raw), 6)),
            chunk(b"IEND", b""),
        ]
    )


def create_app() -> dash.Dash:
    """The app: a pattern picker, a button, and the image."""
    app = dash.Dash(__name__, title="Change an image")
    service = dfc.ServiceData(dfc.CachePlain(8))  # keeps the 8 latest images
    service.serve(app)

    app.layout = html.Div(
        [
            html.H1("Change an image"),
            dcc.RadioItems(id="pattern", options=list(PATTERNS), value="rings", inline=True),
            html.Button("Another one", id="next"),
            html.Div(
                dfc.CachedImage(
                    id="image",
                    alt="a generated pattern",
                    fallback="This image is no longer cached: draw another one.",
                ),
                style={"margin": "1em 0"},
            ),
            html.P(id="status"),
        ],
        style={"fontFamily": "sans-serif", "margin": "2em"},
    )

    @app.callback(Output("image", "src"), Input("pattern", "value"), Input("next", "n_clicks"))
    def draw(pattern: str, n_clicks: Optional[int]) -> str:
        shade = PATTERNS[pattern]
        seed = n_clicks or 0
        data = io.BytesIO(png(240, 160, lambda x, y: shade(x, y, seed)))
        return service.register(data, file_name=f"{pattern}-{seed}.png", mime_type="image/png")

    @app.callback(Output("status", "children"), Input("image", "status"))
    def show_status(status: Optional[dict]) -> str:
        if not status:
            return ""
        if status.get("state") == "loaded":
            return f"loaded: {status['natural_width']} x {status['natural_height']} px"
        return f"{status.get('state')} (HTTP {status.get('http_code')})"

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=8050, debug=False)
