"""Take uploads from signed-in users only, and only real PNG images: ``authorize`` and ``validate``.

``dfc.CachedUpload`` sends files with the tus protocol to the service's upload endpoint
(``UploadPolicy``). Two checks of the application guard it, on the server:

- ``authorize(request)`` runs before **every** tus request (the creation, each ``PATCH``, a
  ``HEAD`` to resume, a ``DELETE`` to cancel), so an upload started while signed in stops at the
  next request once the token is gone or has expired. Here, "Sign in" gives the page a signed,
  timed token (``itsdangerous``, which Flask uses for its own session cookie), which the
  component sends as an ``Authorization`` header with each request (its ``headers`` prop);
  ``authorize`` checks its signature and age. Without it every request gets 403.
- ``validate(file, info)`` runs once the last byte has arrived, with the content as a file: it
  reads the first 8 bytes and raises ``ValueError`` unless they are the PNG signature. The client
  gets 422 with that message, and nothing stays in the cache. A file's name or the type the
  browser reports proves nothing (the component's ``accept`` prop can filter the file picker,
  but a renamed file passes it), so the content is checked.

Refused files stay in the component's list, with the server's message and HTTP status; the PNGs
accepted are shown by their addresses with ``dfc.CachedImage``.

Run: ``.venv/bin/python examples/upload_png.py``, then open http://127.0.0.1:8050.
"""

from __future__ import annotations

import secrets
from typing import IO, Any, Dict, List, Optional

import dash
from dash import Input, Output, ctx, html
from itsdangerous import BadSignature, URLSafeTimedSerializer

import dash_file_cache as dfc

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIZE = 16 << 20  # bytes
TOKEN_MAX_AGE = 3600  # seconds a sign-in lasts


def is_png(file: IO[bytes], info: Dict[str, Any]) -> None:
    """``validate``: accept only content that starts with the 8-byte PNG signature.

    Raises:
        ValueError: it does not (its message is what the client shows).
    """
    if file.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise ValueError(f"{info['name']} is not a PNG image: only PNG files are accepted.")


class Tokens:
    """Signed, timed sign-in tokens, given by the app and checked on each upload request."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="upload-png")

    def header(self, user: str) -> Dict[str, str]:
        """The request headers that sign ``user`` in."""
        return {"Authorization": f"Bearer {self._serializer.dumps(user)}"}

    def user_of(self, request: dfc.UploadRequest) -> Optional[str]:
        """``authorize``: the signed-in user of a request, or ``None`` (refused with 403)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return None
        try:
            return str(self._serializer.loads(token, max_age=TOKEN_MAX_AGE))
        except BadSignature:  # forged, altered or expired
            return None


def create_app(secret: Optional[str] = None) -> dash.Dash:
    """The app; ``secret`` signs the tokens (by default a new random one per process)."""
    tokens = Tokens(secret or secrets.token_hex(32))
    service = dfc.ServiceData(
        dfc.CachePlain(32),
        uploads=dfc.UploadPolicy(
            max_size=MAX_SIZE, expires=600, authorize=tokens.user_of, validate=is_png
        ),
    )
    app = dash.Dash(__name__, title="PNG uploads for signed-in users")
    service.serve(app)

    app.layout = html.Div(
        [
            html.H3("PNG images, from signed-in users only"),
            html.Div(
                [
                    html.Button("Sign in", id="sign-in"),
                    html.Button("Sign out", id="sign-out", style={"marginLeft": "8px"}),
                    html.Span(id="who", style={"marginLeft": "12px"}),
                ],
                style={"marginBottom": "12px"},
            ),
            dfc.CachedUpload(
                id="upload",
                endpoint=service.upload_address,
                multiple=True,
                max_size=MAX_SIZE,  # checked in the browser too, before anything is sent
                children=html.Span(["Drop PNG images here, or ", html.U("choose them")]),
            ),
            html.Div(id="images", style={"display": "flex", "flexWrap": "wrap", "gap": "12px"}),
        ],
        style={"maxWidth": "760px", "margin": "24px auto", "fontFamily": "sans-serif"},
    )

    @app.callback(
        Output("upload", "headers"),
        Output("who", "children"),
        Input("sign-in", "n_clicks"),
        Input("sign-out", "n_clicks"),
    )
    def sign_in_or_out(_in: Optional[int], _out: Optional[int]) -> Any:
        if ctx.triggered_id == "sign-in":
            return tokens.header("demo-user"), "Signed in as demo-user."
        return {}, "Not signed in: uploads are refused."

    @app.callback(Output("images", "children"), Input("upload", "files"))
    def show(files: Optional[List[Dict[str, Any]]]) -> List[Any]:
        # Each accepted file is a PNG item of the cache, shown by its address.
        return [
            html.Figure(
                [
                    dfc.CachedImage(src=f["address"], alt=f["name"], style={"maxWidth": "220px"}),
                    html.Figcaption(f["name"]),
                ],
                style={"margin": 0},
            )
            for f in files or []
        ]

    return app


if __name__ == "__main__":
    create_app().run(debug=False)
