#!/usr/bin/env python3
"""The lab's alert receiver, outside the fleet: keeps every notification Alertmanager posts.

    webhook.py ADDRESS PORT     POST any path: a notification, kept in memory
                                GET /: every notification so far, as a JSON list
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        body = json.dumps(received).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Receiver).serve_forever()
