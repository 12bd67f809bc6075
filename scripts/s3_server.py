"""The local S3 stand-in: moto's S3 application alone, on 127.0.0.1.

    python -m scripts.s3_server PORT

`python -m moto.server` serves every AWS service moto implements and works out
from each request's host which one it is for. With 300 phones a profile put
about a fifth of its CPU in that look-up and in logging each request. The
project only talks S3, so this serves moto's S3 app directly, with moto's own
request handler (it keeps header names that contain underscores) and without
the per-request log.
"""

from __future__ import annotations

import argparse
import logging

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer, run_simple

# Werkzeug listens with a backlog of 128 connections. A thousand phones
# uploading within seconds overflow it and wait out their connect timeout.
LISTEN_BACKLOG = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    arguments = parser.parse_args()
    # Werkzeug logs one line per request at INFO. Errors still reach the log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ThreadedWSGIServer.request_queue_size = LISTEN_BACKLOG
    run_simple(
        "127.0.0.1",
        arguments.port,
        create_backend_app("s3"),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
