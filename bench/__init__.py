"""Benchmarks of dash-file-cache against ``flask.send_file`` and ``dcc.Download``.

Run by hand (not part of the test suite)::

    .venv/bin/python -m bench.run            # the full run (several minutes)
    .venv/bin/python -m bench.run --quick    # tiny smoke run

Results are printed as a Markdown table and written as JSON to
``bench/results/`` (git-ignored).
"""
