"""dash-file-cache with plain Flask: a POST creates a file and answers its address.

``POST /create-file`` registers a small text file (content given in the form field ``text``,
"a simple test" by default) and answers its address, ``/cached-data?uid=...``; a ``GET`` on
that address shows the file, and the same address with ``&download=true`` downloads it as
``test.txt``. The page at ``/`` does both from the browser with a few lines of JavaScript.

Run it and open http://127.0.0.1:5000, or from a shell::

    .venv/bin/python examples/flask_services.py
    python -c "from urllib import request; print(request.urlopen(request.Request(\
'http://127.0.0.1:5000/create-file', method='POST')).read().decode())"
"""

from __future__ import annotations

import io

import flask

import dash_file_cache as dfc

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>dash-file-cache with Flask</title>
</head>
<body style="font-family: sans-serif; margin: 2em">
  <h1>dash-file-cache with Flask</h1>
  <p><input id="text" value="a simple test" size="40">
     <button id="create">Create the file</button></p>
  <p id="address"></p>
  <p><a id="view" hidden>Open it</a> &middot; <a id="download" hidden>Download it</a></p>
  <script>
    document.getElementById("create").addEventListener("click", async () => {
      const body = new URLSearchParams({text: document.getElementById("text").value});
      const answer = await fetch("/create-file", {method: "POST", body});
      const address = await answer.text();
      document.getElementById("address").textContent = address;
      for (const [id, href] of [["view", address], ["download", address + "&download=true"]]) {
        const link = document.getElementById(id);
        link.href = href;
        link.hidden = false;
      }
    });
  </script>
</body>
</html>
"""


def create_app() -> flask.Flask:
    """The Flask app with its service and routes."""
    app = flask.Flask(__name__)
    service = dfc.ServiceData(dfc.CachePlain(16))  # one process serves and registers
    service.serve(app)

    @app.route("/")
    def index() -> str:
        return PAGE

    @app.route("/create-file", methods=["POST"])
    def create_file() -> flask.Response:
        text = flask.request.form.get("text", "a simple test")
        address = service.register(io.StringIO(text), file_name="test.txt", mime_type="text/plain")
        return flask.Response(address, mimetype="text/plain")

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=5000)
