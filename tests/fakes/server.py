"""What every fake of the outside world shares: a real HTTP server on 127.0.0.1, on a free port, in a thread."""

import threading
from http.server import ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early is part of the tests, not an error to print


class LocalServer:
    """Mixed into a fake: `self.start_server(Handler)` makes the server; `with fake:` runs it."""

    def start_server(self, handler) -> str:
        """Make the server for `handler` and return its base URL."""
        self.server = QuietServer(("127.0.0.1", 0), handler)
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
