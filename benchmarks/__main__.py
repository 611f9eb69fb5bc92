"""Run the benchmarks: `make bench` (or `python -m benchmarks [--only B1,B4]`).

Every figure is a ratio against a baseline measured in the same run on the same database, because the
machines are shared and noisy; absolute numbers are printed for information only. Results go to the
terminal as a table and to benchmarks/results/latest.json.
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/parley_bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only", default="B1,B2,B3,B4,B5", help="comma-separated benchmark ids (default: B1,B2,B3,B4,B5)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each B1 measurement")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a figure misses its target")
    options = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    sys.path.insert(0, str(ROOT))
    import django

    from benchmarks import setup_database

    setup_database.prepare()
    django.setup()

    from benchmarks import campaigns, inbound, segments, send_rate

    runners = {
        "B1": lambda: inbound.run(seconds=options.seconds),
        "B2": campaigns.run_fanout,
        "B3": segments.run_count,
        "B4": send_rate.run,
        # B2 and B5 share the fan-out to everyone subscribed: it runs once when both are asked for.
        "B5": lambda: [*segments.run_export(), *campaigns.run_memory()],
    }
    results = []
    for bench_id in [item.strip().upper() for item in options.only.split(",") if item.strip()]:
        if bench_id not in runners:
            parser.error(f"unknown benchmark {bench_id}; these exist: {', '.join(runners)}")
        print(f"running {bench_id}…", flush=True)
        results.extend(runners[bench_id]())

    print_table(results)
    out = ROOT / "benchmarks" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"measured_at": datetime.now(UTC).isoformat(), "database": _vendor(), "results": results}, indent=2)
        + "\n"
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")
    missed = [result["id"] for result in results if not result["pass"]]
    if missed:
        print(f"missed the target: {', '.join(dict.fromkeys(missed))}")
    return 1 if missed and options.strict else 0


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def print_table(results: list[dict]) -> None:
    header = ["id", "what", "measured", "baseline", "ratio", "must reach", "aim", "pass"]
    rows = [
        [
            r["id"],
            r["what"],
            r["measured"],
            r["baseline"],
            f"{r['ratio']:.3f}",
            r["must"],
            r["aim"],
            "yes" if r["pass"] else "NO",
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
