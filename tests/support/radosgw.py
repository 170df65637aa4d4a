"""A real S3 server: Ceph's ``radosgw`` on a single-node cluster, all of it in one temporary folder.

The cluster is the smallest one Ceph runs: one monitor, one OSD on the
``memstore`` objectstore (objects live in the OSD's memory), and ``radosgw``
with its beast frontend, each on 127.0.0.1 and a free port, authentication off
inside the cluster (S3 requests are still signed and checked by radosgw
against the user made with ``radosgw-admin``). No ``mgr`` is needed.

Bucket lifecycle rules are applied on demand (:meth:`RadosGateway.apply_lifecycle`,
``radosgw-admin lc process``) on a short clock: there a "day" is
:data:`LIFECYCLE_DAY` seconds (``rgw_lc_debug_interval``). The gateway itself
keeps the real clock: with the short one its lifecycle thread makes it take
up to 10 s to stop.

What can be stopped and started again: only the gateway
(:meth:`RadosGateway.stop` / :meth:`RadosGateway.start`), on the same port,
with every bucket and object kept (they live in the OSD). That is what "the
store is unreachable, then back" tests need. The OSD is never restarted: a
``memstore`` OSD starts empty and the cluster's maps would then point at
objects it no longer has.

Every daemon runs in its own process group (``start_new_session``) with its
logs in ``<folder>/log``; :meth:`RadosGateway.close` sends SIGTERM to each, in
the order gateway, OSD, monitor (the gateway waits on the cluster to end
cleanly), waits, kills what is left, and removes the folder.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import psutil
import pytest
import requests

from tests.support.polling import wait_until
from tests.support.processes import free_port, stop_processes

#: The programs the cluster needs (Debian: ``radosgw ceph-mon ceph-osd``, with ``ceph-common``).
CEPH_PROGRAMS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")
#: Those missing on this machine (the tests that need the cluster are skipped).
MISSING_PROGRAMS = [name for name in CEPH_PROGRAMS if shutil.which(name) is None]

#: The S3 region the clients sign for (radosgw's default zone group accepts it).
REGION = "us-east-1"
#: The OSD's memory for objects (``memstore_device_bytes``): what the store can hold.
DEFAULT_MEMORY = 1 << 30
#: Seconds in a lifecycle "day" when :meth:`RadosGateway.apply_lifecycle` applies the rules.
LIFECYCLE_DAY = 5

_CONF = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
# With authentication off there is no session key: "secure" connections cannot be made.
ms mon client mode = crc
ms bind ipv6 = false
ms bind msgr1 = false
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
pid file = {dir}/run/$name.pid
log file = {dir}/log/$name.log
mon data = {dir}/mon/$cluster-$id
osd data = {dir}/osd/$cluster-$id
# One copy of everything, on the one OSD; few placement groups (little work for 2 cores).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 4
osd pool default pgp num = 4
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# A full test disk must not stop the monitor (it stops below mon_data_avail_crit percent).
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = {memory}
osd op num shards = 1
osd op num threads per shard = 2
rgw thread pool size = 16

[client.admin]
# radosgw-admin (not the gateway, which then stops slowly): a lifecycle "day" is this many
# seconds when ``radosgw-admin lc process`` applies the rules.
rgw lc debug interval = {lifecycle_day}
"""


class CephError(RuntimeError):
    """A Ceph program failed or a daemon did not come up (the message ends with its log)."""


class RadosGateway:
    """A single-node Ceph cluster and its S3 gateway on 127.0.0.1 (see the module's docstring).

    Attributes:
        endpoint_url: ``http://127.0.0.1:PORT``, the S3 endpoint.
        access_key, secret_key: the S3 user's credentials.
        dir: the folder holding the cluster's configuration, data and logs.
    """

    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        if MISSING_PROGRAMS:
            raise CephError(f"not installed: {', '.join(MISSING_PROGRAMS)}")
        self.dir = Path(tempfile.mkdtemp(prefix="dfc-ceph-"))
        self.conf = self.dir / "ceph.conf"
        self.port = free_port()
        self.mon_port = free_port()
        self.memory = memory
        #: Seconds in a lifecycle "day" on this cluster.
        self.lifecycle_day = LIFECYCLE_DAY
        self.access_key = "DFC" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_hex(20)
        self.procs: Dict[str, subprocess.Popen[bytes]] = {}
        #: Seconds the first :meth:`start` took (the whole cluster) and the last one.
        self.cluster_start_seconds = 0.0
        self.start_seconds = 0.0
        self._made = False

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # -- starting ---------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        """Start what is not running: the whole cluster the first time, later only the gateway.

        Raises:
            CephError: a program failed, or a daemon exited or did not answer in ``timeout`` s.
        """
        started, first = time.monotonic(), not self._made
        if first:
            self._make_cluster()
        self._start_gateway(timeout)
        if first:
            self._ceph(
                "radosgw-admin", "user", "create", "--uid=dfc", "--display-name=dfc",
                f"--access-key={self.access_key}", f"--secret-key={self.secret_key}",
            )  # fmt: skip
            self._made = True
        self.start_seconds = time.monotonic() - started
        if first:
            self.cluster_start_seconds = self.start_seconds

    def _make_cluster(self) -> None:
        """Write the configuration, make and start the monitor, then make and start the OSD."""
        for name in ("mon", "osd/ceph-0", "run", "log", "rgw"):
            (self.dir / name).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(
            _CONF.format(
                fsid=fsid,
                mon_port=self.mon_port,
                dir=self.dir,
                memory=self.memory,
                lifecycle_day=self.lifecycle_day,
            )
        )
        monmap = str(self.dir / "monmap")
        self._ceph("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                   f"[v2:127.0.0.1:{self.mon_port}]", monmap, conf=False)  # fmt: skip
        self._ceph("ceph-mon", "--mkfs", "-i", "a", "--monmap", monmap)
        self._spawn("mon", "ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        # ``ceph`` waits for the monitor to answer (up to --connect-timeout).
        self._ceph("ceph", "--connect-timeout", "30", "osd", "new", osd_uuid)
        self._ceph("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd", "ceph-osd", "-i", "0")

    def _start_gateway(self, timeout: float) -> None:
        """Start radosgw; wait until it answers (it first makes its pools, once the OSD is up)."""
        self._spawn("rgw", "radosgw", "-n", "client.rgw", "--rgw_data", str(self.dir / "rgw"),
                    "--rgw_frontends", f"beast endpoint=127.0.0.1:{self.port}")  # fmt: skip

        def answers() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise CephError(f"{name} exited with {proc.returncode}{self._log_tail(name)}")
            try:
                return requests.get(self.endpoint_url, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        if not wait_until(answers, timeout, 0.2):
            raise CephError(f"radosgw did not answer within {timeout} s{self._log_tail('rgw')}")

    def _spawn(self, name: str, program: str, *args: str) -> None:
        """Start a daemon in the foreground, in its own process group, logging into the folder."""
        with open(self.dir / "log" / f"{name}.out", "ab") as out:  # the child has its own copy
            self.procs[name] = subprocess.Popen(
                [program, "-c", str(self.conf), "-f", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
            )

    def _ceph(self, program: str, *args: str, conf: bool = True) -> str:
        """Run a Ceph program to completion; return its output.

        Raises:
            CephError: it failed or took more than a minute.
        """
        cmd = [program, *(["-c", str(self.conf)] if conf else []), *args]
        try:
            done = subprocess.run(
                cmd, cwd=self.dir, capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise CephError(f"{' '.join(cmd)}: no answer in 60 s") from exc
        if done.returncode != 0:
            raise CephError(f"{' '.join(cmd)} exited with {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def _log_tail(self, name: str) -> str:
        """The last lines of a daemon's output and log, for an error message."""
        daemon = {"mon": "mon.a", "osd": "osd.0", "rgw": "client.rgw"}[name]
        lines: List[str] = []
        for path in (self.dir / "log" / f"{name}.out", self.dir / "log" / f"{daemon}.log"):
            with contextlib.suppress(OSError):
                lines += path.read_text(errors="replace").splitlines()[-15:]
        return "\n" + "\n".join(lines) if lines else ""

    # -- stopping ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the gateway process is alive."""
        proc = self.procs.get("rgw")
        return proc is not None and proc.poll() is None

    def stop(self) -> None:
        """Stop the gateway only (SIGTERM, then SIGKILL): the store becomes unreachable.

        The objects stay in the OSD; :meth:`start` brings the gateway back on the same port.
        """
        self._stop("rgw")

    def close(self) -> None:
        """Stop every daemon (gateway, OSD, monitor, in that order) and remove the folder."""
        for name in ("rgw", "osd", "mon"):
            self._stop(name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop_processes([proc], timeout=10.0)

    # -- using it ---------------------------------------------------------------------------
    def client(
        self, access_key: Optional[str] = None, secret_key: Optional[str] = None, **config: Any
    ) -> Any:
        """A boto3 S3 client of the gateway (path-style addressing, short timeouts).

        ``config`` overrides :class:`botocore.config.Config` options (defaults:
        ``connect_timeout=5``, ``read_timeout=30``, at most 2 attempts per call).
        """
        import boto3
        from botocore.config import Config

        from dash_file_cache.caches.s3 import _botocore_session

        options: Dict[str, Any] = {
            "s3": {"addressing_style": "path"},
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"total_max_attempts": 2, "mode": "standard"},
        }
        options.update(config)
        session = boto3.session.Session(botocore_session=_botocore_session())
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(**options),
        )

    def apply_lifecycle(self) -> None:
        """Apply every bucket's lifecycle rules now, a "day" being :attr:`lifecycle_day` seconds.

        Raises:
            CephError: ``radosgw-admin lc process`` failed.
        """
        self._ceph("radosgw-admin", "lc", "process")

    def rss(self) -> Dict[str, int]:
        """The resident memory of each running daemon, in bytes (``mon``, ``osd``, ``rgw``)."""
        found = {}
        for name, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                found[name] = psutil.Process(proc.pid).memory_info().rss
        return found

    def status(self) -> Dict[str, Any]:
        """``ceph status`` as JSON (for diagnostics)."""
        return dict(json.loads(self._ceph("ceph", "status", "--format", "json")))


@contextlib.contextmanager
def radosgw_cluster(memory: int = DEFAULT_MEMORY) -> Iterator[RadosGateway]:
    """A started :class:`RadosGateway`, closed (every daemon stopped, folder removed) on exit."""
    gateway = RadosGateway(memory)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.close()


@pytest.fixture(scope="session")
def radosgw_session() -> Iterator[RadosGateway]:
    """The session's Ceph cluster and S3 gateway; skipped when Ceph or boto3 is not installed.

    The gateway may be stopped by a test; the ``radosgw`` fixture starts it again.
    """
    if MISSING_PROGRAMS:
        pytest.skip(
            f"Ceph is not installed ({', '.join(MISSING_PROGRAMS)} missing; "
            "Debian: apt-get install radosgw ceph-mon ceph-osd)"
        )
    pytest.importorskip("boto3", reason="boto3 is not installed (the test extra)")
    with radosgw_cluster() as gateway:
        yield gateway


@pytest.fixture
def radosgw(radosgw_session: RadosGateway) -> RadosGateway:
    """The session's gateway, started again if an earlier test stopped it."""
    if not radosgw_session.running:
        radosgw_session.start()
    return radosgw_session
