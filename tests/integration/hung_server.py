"""A TCP server that accepts every connection and never answers: a frozen dependency."""

from __future__ import annotations

import socket
import threading


class HungServer:
    """Listens on 127.0.0.1 (a free port), accepts connections and holds them, reading nothing
    and answering nothing, until :meth:`stop`.

    A client's connect succeeds at once (so its connect timeout is never what stops it) and its
    request lands in the kernel's buffer; only a read timeout gets it out. ``accepted`` counts
    the connections, so a test can tell that its client reached the server (rather than being
    refused, which fails fast and would prove nothing about timeouts).
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so the accept loop sees stop() promptly
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hung-server", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._held)

    def start(self) -> HungServer:
        """Start accepting in a daemon thread; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every held connection (the clients see a reset)."""
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._held.append(conn)
