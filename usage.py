"""dash-file-cache demo: an image created by a callback, served by address.

Run: bash scripts/demo.sh   (then open http://127.0.0.1:8050)
"""

from __future__ import annotations

import io
import math

import dash
from dash import Input, Output, dcc, html

import dash_file_cache as dfc

app = dash.Dash("demo")
service = dfc.ServiceData(dfc.CachePlain(16))
service.serve(app)

app.layout = html.Div(
    [
        html.H1("dash-file-cache demo"),
        html.P("Move the slider: a callback draws an SVG, registers it, and returns its address."),
        dcc.Slider(id="waves", min=1, max=12, step=1, value=3),
        html.Img(id="image", style={"width": "480px", "border": "1px solid #ccc"}),
        html.P(html.A("Download this picture", id="link", href="")),
    ],
    style={"fontFamily": "sans-serif", "margin": "2em"},
)


def draw(waves: int) -> io.StringIO:
    """An SVG of a sine curve with ``waves`` periods."""
    points = " ".join(
        f"{x},{100 - 80 * math.sin(2 * math.pi * waves * x / 480):.1f}" for x in range(0, 481, 4)
    )
    return io.StringIO(
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="200">'
        f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="3"/></svg>'
    )


@app.callback(Output("image", "src"), Output("link", "href"), Input("waves", "value"))
def update(waves: int) -> tuple[str, str]:
    svg = draw(waves)
    src = service.register(svg, mime_type="image/svg+xml")
    link = service.register(
        svg, file_name=f"waves-{waves}.svg", mime_type="image/svg+xml", download=True
    )
    return src, link


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8050, debug=False)
