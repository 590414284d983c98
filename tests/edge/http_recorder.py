"""A real HTTP server on loopback that records what the edge sends and answers with a
chosen status: the cloud's stand-in for the edge-only tests (the spool, the client's
error mapping). It can be stopped and started again on the same port, like a cloud
that goes away and comes back.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.live_api import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    files: dict[str, list[bytes]]


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, list[bytes]]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, list[bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename() is not None:
            files.setdefault(name, []).append(payload)
        else:
            fields[name] = payload.decode()
    return fields, files


@dataclass
class RecordingServer:
    """`status` (and `body`) answer every POST; `received` lists the 2xx-answered ones."""

    port: int = field(default_factory=free_port)
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"model_version": "test", "faces": []})
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    delay_s: float = 0.0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingServer:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                recorder.attempts += 1
                if recorder.delay_s:
                    threading.Event().wait(recorder.delay_s)
                if recorder.status < 300:
                    fields, files = parse_multipart(self.headers["Content-Type"], body)
                    recorder.received.append(Received(self.path, dict(self.headers), fields, files))
                    payload = recorder.body
                else:
                    payload = {"code": "TEST_ERROR", "message": f"status {recorder.status}"}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(recorder.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (its timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
