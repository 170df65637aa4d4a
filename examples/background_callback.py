"""Background callbacks that build a file with a progress bar, then serve it by address.

A Dash background callback (``background=True`` with ``dash.DiskcacheManager``) runs in a
child process. A ``CachePlain`` would store the file in that child's memory, gone when the
child exits, so the callbacks here register in caches whose items leave the child:

- ``CacheQueue(n, queue)``: the item travels through a ``multiprocess`` Manager queue to the
  server process, which keeps it in memory (fast; small and medium files, one server process);
- ``CacheFile(directory)``: the item is written to disk, where every process can read it
  (large files, several server processes, restarts).

Each callback writes a CSV step by step straight into the cache (``service.open``: a file
object whose writes go to the cache as they come, so the file is never held whole in the
child's memory), calls ``set_progress`` after each step to move a ``<progress>`` bar, then
returns the address of the file as the ``href`` of a link. It also
returns the bar's final state, 100%: Dash may drop the last progress report when the job
ends between two polls.

Run: ``.venv/bin/python examples/background_callback.py``, then open http://127.0.0.1:8050.
Stopping it (Ctrl+C or SIGTERM) shuts the Manager down and removes the temporary folder.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Tuple

import dash
import diskcache
from dash import DiskcacheManager, Input, Output, html

import dash_file_cache as dfc

STEPS = 10
Result = Tuple[html.A, int, str]  # the link, and the bar's final value and text


def write_csv(
    out: dfc.CachedFileWriter, set_progress: Callable[[Any], None], rows: int, delay: float
) -> None:
    """Write ``rows`` rows into ``out`` in ``STEPS`` steps, reporting ``(percent, "NN%")``."""
    out.write("step,row,value\n")
    for step in range(STEPS):
        for row in range(rows // STEPS):
            out.write(f"{step},{row},{math.cos(row / 100):.5f}\n")
        time.sleep(delay)  # stands for the real work
        percent = 100 * (step + 1) // STEPS
        set_progress((percent, f"{percent}%"))


def panel(name: str, title: str) -> html.Div:
    return html.Div(
        [
            html.H2(title),
            html.Button("Build the file", id=f"{name}-build"),
            html.Div(
                [
                    html.Progress(id=f"{name}-progress", value="0", max="100"),
                    html.Span(id=f"{name}-percent", style={"marginLeft": "0.5em"}),
                ]
            ),
            html.Div(id=f"{name}-result"),
        ],
        style={"marginBottom": "2em"},
    )


def create_app(work_dir: str, queue: Any, rows: int = 200_000, delay: float = 0.2) -> dash.Dash:
    """The app.

    Arguments:
        work_dir: a folder for the background jobs' state and the ``CacheFile`` items.
        queue: a Manager queue made in this (the serving) process, e.g.
            ``dfc.start_manager().Queue()`` (or ``multiprocess.Manager().Queue()``).
        rows, delay: size of the files and pause of each of the ``STEPS`` steps (seconds).
    """
    jobs = DiskcacheManager(diskcache.Cache(os.path.join(work_dir, "jobs")))
    app = dash.Dash(__name__, title="Background callbacks", background_callback_manager=jobs)
    # Two services on one app need two paths.
    queued = dfc.ServiceData(dfc.CacheQueue(16, queue), service_name="/cached-queue")
    on_disk = dfc.ServiceData(
        dfc.CacheFile(os.path.join(work_dir, "files")), service_name="/cached-file"
    )
    queued.serve(app)
    on_disk.serve(app)

    app.layout = html.Div(
        [
            html.H1("Background callbacks"),
            panel("queue", "CacheQueue: through a Manager queue to the server's memory"),
            panel("file", "CacheFile: through the disk"),
        ],
        style={"fontFamily": "sans-serif", "margin": "2em"},
    )

    def link(address: str, name: str) -> html.A:
        return html.A(f"Download {name}.csv", href=address, id=f"{name}-link")

    @app.callback(
        Output("queue-result", "children"),
        Output("queue-progress", "value", allow_duplicate=True),
        Output("queue-percent", "children", allow_duplicate=True),
        Input("queue-build", "n_clicks"),
        background=True,
        progress=[Output("queue-progress", "value"), Output("queue-percent", "children")],
        running=[(Output("queue-build", "disabled"), True, False)],
        interval=250,
        prevent_initial_call=True,
    )
    def build_for_queue(set_progress: Callable[[Any], None], n_clicks: int) -> Result:
        # In this child process, the item is put on the queue when the block ends; that
        # returns once the Manager holds it, so the address is servable when returned.
        with queued.open(file_name="queue.csv") as out:  # text/csv, inferred from the name
            write_csv(out, set_progress, rows, delay)
        return link(out.address, "queue"), 100, "100%"

    @app.callback(
        Output("file-result", "children"),
        Output("file-progress", "value", allow_duplicate=True),
        Output("file-percent", "children", allow_duplicate=True),
        Input("file-build", "n_clicks"),
        background=True,
        progress=[Output("file-progress", "value"), Output("file-percent", "children")],
        running=[(Output("file-build", "disabled"), True, False)],
        interval=250,
        prevent_initial_call=True,
    )
    def build_on_disk(set_progress: Callable[[Any], None], n_clicks: int) -> Result:
        # Rows go straight into the item's file in the cache's folder; it is indexed
        # (servable) when the block ends.
        with on_disk.open(file_name="file.csv") as out:
            write_csv(out, set_progress, rows, delay)
        return link(out.address, "file"), 100, "100%"

    return app


if __name__ == "__main__":
    # SIGTERM (e.g. `kill`, a container stop) leaves the with-block like Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="dfc-example-") as folder:
        # The Manager stops with this process: at exit, and even if it is killed.
        manager = dfc.start_manager()
        try:
            create_app(folder, manager.Queue()).run(host="127.0.0.1", port=8050, debug=False)
        finally:
            manager.shutdown()
