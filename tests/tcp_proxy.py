"""A loopback TCP relay that a test can cut and restore, to take a real server "down".

The database really disappears from the API's point of view (connections refused and
existing ones reset) while the shared MariaDB other tests use keeps running.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from sqlalchemy import make_url


class TcpRelay:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.port = 0

    def start(self) -> TcpRelay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening and reset every relayed connection."""
        if self._listener is not None:
            # close() alone does not wake a thread blocked in accept() on Linux, and the
            # socket would keep listening: shutdown() first.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._connections.clear()

    def restore(self) -> None:
        self.start()


@contextlib.contextmanager
def relayed_mariadb(url: str) -> Iterator[tuple[str, str, TcpRelay]]:
    """(direct_url, proxied_url, relay) for the MariaDB database at `url`: the proxied URL
    reaches it through a relay on loopback that the test can cut; cut again on exit."""
    direct = make_url(url)
    relay = TcpRelay(direct.host or "127.0.0.1", direct.port or 3306).start()
    proxied = direct.set(host="127.0.0.1", port=relay.port)
    try:
        yield url, proxied.render_as_string(hide_password=False), relay
    finally:
        relay.cut()
