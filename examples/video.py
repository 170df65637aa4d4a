"""Play and seek a video served by address: ``<video>`` and HTTP ``Range`` requests.

A callback registers a video file by its path (it is served from where it is, not copied)
and sets the address as the ``src`` of an ``html.Video``. The browser's player asks for the
parts it needs with ``Range`` requests, which the service answers with ``206 Partial
Content``: playback starts before the whole file is sent, and seeking jumps straight to
the right bytes. Do not use ``one_time_service=True`` for a video: the player makes several
requests for one address.

The default clip, ``examples/media/clip.webm`` (8 s, 320 x 180, VP8, 166 kB), was made with::

    ffmpeg -f lavfi -i "testsrc2=size=320x180:rate=24:duration=8" \\
        -c:v libvpx -b:v 160k -crf 30 -g 24 -auto-alt-ref 0 -an clip.webm

Run: ``.venv/bin/python examples/video.py [a-video-file]``, then open http://127.0.0.1:8050.
"""

from __future__ import annotations

import mimetypes
import os
import sys
from pathlib import Path
from typing import Optional, Union

import dash
from dash import Input, Output, html

import dash_file_cache as dfc

CLIP = Path(__file__).resolve().parent / "media" / "clip.webm"


def create_app(video: Union[str, os.PathLike] = CLIP) -> dash.Dash:
    """The app: one ``<video>`` whose source is registered when the page loads."""
    video = Path(video).resolve()
    mime_type = mimetypes.guess_type(video.name)[0] or "video/webm"
    app = dash.Dash(__name__, title="Video by address")
    service = dfc.ServiceData(dfc.CachePlain(8))
    service.serve(app)

    app.layout = html.Div(
        [
            html.H1("Video by address"),
            html.Video(
                id="video",
                controls=True,
                muted=True,
                preload="auto",
                style={"width": "640px", "maxWidth": "100%", "background": "#000"},
            ),
            html.P(id="info"),
        ],
        style={"fontFamily": "sans-serif", "margin": "2em"},
    )

    @app.callback(Output("video", "src"), Output("info", "children"), Input("video", "id"))
    def load(_: Optional[str]) -> tuple[str, str]:
        # A path item: the service streams the file itself, in ranges when asked.
        address = service.register(video, mime_type=mime_type)
        return address, f"{video.name}, {video.stat().st_size:,} bytes, at {address}"

    return app


if __name__ == "__main__":
    create_app(sys.argv[1] if len(sys.argv) > 1 else CLIP).run(
        host="127.0.0.1", port=8050, debug=False
    )
