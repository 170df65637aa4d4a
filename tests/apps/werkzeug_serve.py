"""Run a WSGI app on werkzeug's threaded server: ``python -m tests.apps.werkzeug_serve APP PORT``.

``APP`` is written as for gunicorn: ``module:name`` or ``module:factory()``.
"""

from __future__ import annotations

import importlib
import sys

from werkzeug.serving import run_simple


def load(target: str) -> object:
    """The app named by ``module:name`` or ``module:factory()``."""
    module_name, _, attribute = target.partition(":")
    call = attribute.endswith("()")
    value = getattr(importlib.import_module(module_name), attribute.removesuffix("()"))
    return value() if call else value


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[2]), load(sys.argv[1]), threaded=True)  # type: ignore[arg-type]
