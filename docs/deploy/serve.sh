#!/bin/sh
# The app servers behind nginx-dash-file-cache.conf (the site's `upstream dash_app`).
# Bind to 127.0.0.1 only: nginx is the one public listener, and X-Accel-Redirect
# must never reach a client directly. `my_app` builds
#   ServiceData(CacheFile("/var/cache/dash-file-cache"), offload="x-accel-redirect",
#               offload_locations={...})   (see the site file's header).

# Flask backend (the default), WSGI: gunicorn with threads. Offloaded files leave
# the thread at once; nginx buffers in-memory items, so slow clients hold no thread.
exec gunicorn -w 4 --threads 4 -k gthread -b 127.0.0.1:8050 my_app:server

# FastAPI backend (Dash(backend="fastapi") or a FastAPI app), ASGI, instead:
#   exec uvicorn --workers 4 --host 127.0.0.1 --port 8050 my_app:server
# or granian:
#   exec granian --interface asgi --workers 4 --host 127.0.0.1 --port 8050 my_app:server
