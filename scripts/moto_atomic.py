#!/usr/bin/env python3
"""moto's server with one request at a time.

`moto_server` serves requests on several threads, and moto's DynamoDB backend does not lock an
item between evaluating a ConditionExpression and applying the update: two concurrent
conditional writes can both succeed, which real DynamoDB never allows (seen here: two 200s in
the race test). Serialising requests restores DynamoDB's per-item atomicity; connections stay
threaded (keep-alive works), only the backend work is one at a time.

  moto_atomic.py -H 127.0.0.1 -p 5000
"""
import argparse
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
