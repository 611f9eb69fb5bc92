"""Make sure the benchmark database exists and is migrated (PostgreSQL, as benchmarks.md asks)."""

import os
import subprocess
import sys
from pathlib import Path

import dj_database_url

ROOT = Path(__file__).resolve().parent.parent


def prepare() -> None:
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if config["ENGINE"].endswith("postgresql"):
        import psycopg

        admin = psycopg.connect(
            host=config["HOST"] or "127.0.0.1",
            port=config["PORT"] or 5432,
            user=config["USER"],
            password=config["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
        admin.close()
    else:
        print("warning: benchmarks.md asks for PostgreSQL; this run uses", config["ENGINE"], file=sys.stderr)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings"},
    )
