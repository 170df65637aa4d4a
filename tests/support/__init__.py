"""The test harness, by job: one place for caches, servers, polling and response checks.

- :mod:`tests.support.caches`: :data:`CACHE_KINDS` and :func:`make_cache`, the
  one factory used by unit tests, in-process apps and the apps that real
  servers run; reading items back.
- :mod:`tests.support.redis`: :class:`RedisServer`, a real ``redis-server``.
- :mod:`tests.support.radosgw`: :class:`RadosGateway`, a real S3 server (Ceph's
  radosgw on a single-node cluster), and its fixtures ``radosgw_session`` and
  ``radosgw`` (a pytest plugin: ``pytest_plugins = ("tests.support.radosgw",)``).
- :mod:`tests.support.servers`: :func:`start_server` (a real server in its own
  process group) and :func:`serve_in_thread` (a server thread of this process).
- :mod:`tests.support.nginx`: the shipped nginx site under a real nginx.
- :mod:`tests.support.proxy`: :func:`cutting_proxy`, a TCP proxy that cuts a
  connection in the middle of a ``PATCH`` body.
- :mod:`tests.support.polling`: :func:`wait_until`, :func:`wait_for`, :func:`wait_http`.
- :mod:`tests.support.http`: :func:`assert_json_error`, :func:`check_headers`,
  :func:`parse_content_range`, :func:`uid_of`, :func:`raw_request`.
- :mod:`tests.support.processes`: :data:`ROOT`, :func:`free_port`,
  :func:`stop_processes`, :func:`run_python`.

The names most tests use are importable from the package itself.
"""

from __future__ import annotations

from tests.support.caches import (
    CACHE_KINDS,
    DATA,
    PAYLOAD,
    SHARED_KINDS,
    close_cache,
    copies_paths,
    is_redis,
    item_count,
    item_info,
    make_cache,
    read_item,
    read_loaded,
)
from tests.support.http import (
    assert_json_error,
    body_of,
    check_headers,
    parse_content_range,
    raw_request,
    uid_of,
)
from tests.support.nginx import NGINX, Nginx, nginx_site, running_nginx
from tests.support.polling import wait_for, wait_http, wait_until
from tests.support.processes import ROOT, free_port, run_python, stop_processes
from tests.support.proxy import CuttingProxy, cutting_proxy
from tests.support.redis import REDIS_SERVER, RedisServer, redis_server, shared_redis
from tests.support.servers import (
    APP_TARGET,
    BACKEND_SERVERS,
    BACKENDS,
    DEFAULT_SERVER,
    Server,
    app_env,
    running_server,
    serve_in_thread,
    start_server,
)

__all__ = [
    "APP_TARGET",
    "BACKENDS",
    "BACKEND_SERVERS",
    "CACHE_KINDS",
    "DATA",
    "DEFAULT_SERVER",
    "NGINX",
    "PAYLOAD",
    "REDIS_SERVER",
    "ROOT",
    "SHARED_KINDS",
    "CuttingProxy",
    "Nginx",
    "RedisServer",
    "Server",
    "app_env",
    "assert_json_error",
    "body_of",
    "check_headers",
    "close_cache",
    "copies_paths",
    "cutting_proxy",
    "free_port",
    "is_redis",
    "item_count",
    "item_info",
    "make_cache",
    "nginx_site",
    "parse_content_range",
    "raw_request",
    "read_item",
    "read_loaded",
    "redis_server",
    "run_python",
    "running_nginx",
    "running_server",
    "serve_in_thread",
    "shared_redis",
    "start_server",
    "stop_processes",
    "uid_of",
    "wait_for",
    "wait_http",
    "wait_until",
]
