"""A small closed-loop HTTP load generator: N threads, each sending one request after another."""

import http.client
import json
import threading
import time
from collections.abc import Callable


def hammer(
    host: str,
    port: int,
    path: str,
    make_body: Callable[[int], dict],
    headers: dict,
    seconds: float,
    concurrency: int = 8,
) -> dict:
    """POST JSON to `path` from `concurrency` threads for `seconds`; return requests/s and error count."""
    counter = iter(range(10**12))
    lock = threading.Lock()
    done, errors = [0], [0]
    first_error: list[str] = []
    stop_at = time.monotonic() + seconds

    def worker():
        while time.monotonic() < stop_at:
            with lock:
                number = next(counter)
            body = json.dumps(make_body(number))
            connection = http.client.HTTPConnection(host, port, timeout=30)
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json", **headers})
                response = connection.getresponse()
                payload = response.read()
                ok = 200 <= response.status < 300
            except OSError as error:
                ok, payload = False, str(error).encode()
            finally:
                connection.close()
            with lock:
                if ok:
                    done[0] += 1
                else:
                    errors[0] += 1
                    if not first_error:
                        first_error.append(payload[:300].decode(errors="replace"))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"rps": done[0] / elapsed, "requests": done[0], "errors": errors[0], "first_error": first_error}
