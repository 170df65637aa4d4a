"""nginx in front: the shipped site config, templated for a test, under a real nginx."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tests.support.polling import wait_http
from tests.support.processes import ROOT, stop_processes

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
DEPLOY = ROOT / "docs" / "deploy"
#: The values of the shipped site config that a deployment (and a test) adapts.
SITE_DEFAULTS = {
    "app": "127.0.0.1:8050",
    "listen": "listen 80;",
    "cache": "/var/cache/dash-file-cache/",
    "files": "/srv/dash-app/files/",
}

_NGINX_MAIN = """\
{user}daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def nginx_site(app: str, port: int, cache: Path, files: Path, extra: str = "") -> str:
    """The shipped site config (``docs/deploy/``), templated only for ports and paths.

    ``extra`` is added to the ``server`` block (a bench's static location).
    """
    site = (DEPLOY / "nginx-dash-file-cache.conf").read_text()
    values = {
        "app": app,
        "listen": f"listen 127.0.0.1:{port};",
        "cache": f"{cache}/",
        "files": f"{files}/",
    }
    snippet = str(DEPLOY / "dash-file-cache-offload.conf")
    for key, default in SITE_DEFAULTS.items():
        if default not in site:
            raise ValueError(f"the shipped nginx site no longer has {default!r}")
        site = site.replace(default, values[key])
    site = site.replace("snippets/dash-file-cache-offload.conf", snippet)
    if extra:
        site = site.rstrip().rstrip("}") + extra + "\n}\n"
    return site


class Nginx:
    """A real nginx (master + workers) on 127.0.0.1 with a given site, in its own group."""

    def __init__(self, site: str, port: int, workers: int = 1) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not installed")
        self.tmp = Path(tempfile.mkdtemp(prefix="dfc-nginx-"))
        (self.tmp / "site.conf").write_text(site)
        conf = self.tmp / "nginx.conf"
        # Workers of a root master run as nobody, who cannot read pytest's 0700 directories.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(_NGINX_MAIN.format(user=user, tmp=self.tmp, workers=workers))
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.tmp), "-c", str(conf), "-e", str(self.tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_processes([self.proc])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def running_nginx(
    site: str, port: int, ready_path: str = "/stats", workers: int = 1
) -> Iterator[Nginx]:
    """nginx serving ``site`` on ``port``, once it answers ``ready_path``; stopped on exit."""
    started = Nginx(site, port, workers)
    try:
        try:
            wait_http(started.url + ready_path, timeout=20, proc=started.proc, status=200)
        except BaseException:
            print(started.error_log()[-3000:])
            raise
        yield started
    finally:
        started.stop()
