"""Check the live API against its own OpenAPI schema with schemathesis.

Starts a throwaway server on a fresh database (SQLite unless DATABASE_URL is
set), seeds a few demo subscribers, makes an API token and runs every
schemathesis check on every operation. Exits with schemathesis's exit code.

    .venv/bin/python scripts/api_contract.py [--max-examples N]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", default="40")
    parser.add_argument("--seed", default="1")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="parley-contract-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "PARLEY_VAR_DIR": str(workdir),
        "DEBUG": "false",
        "SMS_PROVIDER": "console",
    }
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{base}/parley_contract"
        subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", "parley_contract"], check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "parley_contract"], check=True)
    else:
        env.pop("DATABASE_URL", None)

    manage(env, "migrate", "--no-input")
    manage(env, "seed_demo", "--subscribers", "20")
    manage(env, "ensure_admin")
    token = manage(env, "create_api_token", "admin", "--name", "api contract").strip()

    port = free_port()
    server_log = workdir / "server.log"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=server_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        command = [
            str(BIN / "schemathesis"),
            "run",
            f"http://127.0.0.1:{port}/api/schema/",
            "--checks",
            "all",
            # The schema cannot say which strings are real phone numbers, which
            # values an attribute's definition allows or which cursors exist, so
            # "schema-valid request rejected" would flag correct 400 answers.
            "--exclude-checks",
            "positive_data_acceptance",
            "--header",
            f"Authorization: Token {token}",
            "--max-examples",
            options.max_examples,
            "--seed",
            options.seed,
            "--workers",
            "1",
            "--generation-deterministic",
        ]
        print("$", " ".join(command).replace(token, "<token>"), flush=True)
        return subprocess.run(command, cwd=workdir).returncode
    finally:
        server.terminate()
        server.wait(timeout=20)
        log = server_log.read_text()
        if "Traceback" in log:
            print("The server logged errors:\n" + log[-6000:], file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
