"""B3 and B5 (export): segments on 1,000,000 demo subscribers, events included.

B3: how long the count of a three-condition segment takes, warm, through the segment compiler
(`rules_queryset(rules).count()`, what the API's count does, compiling included), against SQL written by
hand for the same question: size M (the `@>` test the GIN index on attributes serves), an order in the last
30 days (EXISTS on the events index) and not in the segment "Buying a gift". Both must return the same
number; then each runs a few times to warm the cache, and the median of RUNS alternating runs is compared.
The segment is the shape stores build every day, so a slow compiler would be felt on every screen.

B5 (export): the peak memory of streaming a segment's members as CSV (`members_csv_lines`, what the export
view sends) over everyone, 1,000,000 rows, against the same export cut to the first 100,000. Each export runs
in its own process, lines consumed and dropped one by one, and reports its resident-set high-water mark, so
everything counts: Python objects, the database driver's buffers, the cursor. A streamed export stays flat;
one that collects its rows grows tenfold.

The data is `seed_demo --subscribers 1000000` (idempotent: it runs only when the database has fewer).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conversations.db import is_postgresql
from conversations.models import AttributeDefinition, Subscriber
from segments.compiler import rules_queryset
from segments.models import Segment
from segments.selectors import members_csv_lines
from segments.services import rules_check, segment_create

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = 1_000_000
SMALL_EXPORT = 100_000
WARM_UP = 3
RUNS = 15

GIFT_SEGMENT = "Buying a gift"
GIFT_RECIPIENTS = ["partner", "parent", "child", "friend", "other"]
GIFT_RULES = {"attribute": "gift_recipient", "op": "in", "value": GIFT_RECIPIENTS}
EVERYONE = {"status": ["pending", "subscribed", "unsubscribed"]}

# The same question written by hand, the way one would for PostgreSQL: `@>` so the GIN index on attributes
# finds the size-M rows, EXISTS for the recent order (the events' (type, occurred_at) index serves it), and
# `?|`, which holds for a string or a list holding any of the values, for "buying a gift". COALESCE makes a
# missing answer count as "not buying a gift", as the segment does.
HAND_SQL = """
SELECT count(*)
  FROM conversations_subscriber s
 WHERE s.attributes @> '{"size": "M"}'
   AND EXISTS (SELECT 1
                 FROM conversations_event e
                WHERE e.subscriber_id = s.id
                  AND e.type = 'order_placed'
                  AND e.occurred_at >= %(cutoff)s)
   AND NOT coalesce(s.attributes -> 'gift_recipient' ?| %(gift)s, false)
"""


def run_count() -> list[dict]:
    """B3."""
    ensure_demo_data()
    rules = rules_check(
        rules={
            "all": [
                {"attribute": "size", "op": "eq", "value": "M"},
                {"event": "order_placed", "op": "happened", "within_days": 30},
                {"not": {"segment": _gift_segment().pk}},
            ]
        }
    )
    now = timezone.now()
    orm_count, hand_count = rules_queryset(rules, now=now).count(), _hand_count(now)
    assert orm_count == hand_count, f"the compiler counts {orm_count:,}, the hand-written SQL {hand_count:,}"

    def orm() -> int:
        return rules_queryset(rules).count()

    def hand() -> int:
        return _hand_count(timezone.now())

    for _ in range(WARM_UP):
        orm(), hand()
    orm_times, hand_times = [], []
    for _ in range(RUNS):  # alternating, so drift on a shared machine hits both alike
        orm_times.append(_seconds(orm))
        hand_times.append(_seconds(hand))
    orm_ms, hand_ms = statistics.median(orm_times) * 1000, statistics.median(hand_times) * 1000
    ratio = orm_ms / hand_ms
    return [
        {
            "id": "B3",
            "what": f"count of a 3-condition segment on {Subscriber.objects.count():,} subscribers, warm",
            "measured": f"{orm_ms:.1f} ms (count {orm_count:,})",
            "baseline": f"{hand_ms:.1f} ms hand-written SQL",
            "ratio": ratio,
            "must": "≤ 1.25×, < 300 ms",
            "aim": "≤ 1.05×, < 100 ms",
            "pass": ratio <= 1.25 and orm_ms < 300,  # the warm limit on this 2-core machine
            "orm_ms": round(orm_ms, 2),
            "hand_ms": round(hand_ms, 2),
            "runs": RUNS,
            "count": orm_count,
        }
    ]


def run_export() -> list[dict]:
    """B5, the export half: one process per export, peak memory of 1,000,000 rows over 100,000."""
    ensure_demo_data()
    last_small = Subscriber.objects.order_by("pk").values_list("pk", flat=True)[SMALL_EXPORT - 1]
    small = _export_in_child(last_small)
    full = _export_in_child(None)
    assert small["rows"] == SMALL_EXPORT, small
    assert full["rows"] == Subscriber.objects.count(), full
    ratio = full["peak_mb"] / small["peak_mb"]
    return [
        {
            "id": "B5",
            "what": f"CSV export peak memory, {full['rows']:,} vs {small['rows']:,} rows",
            "measured": _memory(full),
            "baseline": _memory(small),
            "ratio": ratio,
            "must": "≤ 1.5×",
            "aim": "≤ 1.1×",
            "pass": ratio <= 1.5,
            "large": full,
            "small": small,
        }
    ]


def _memory(export: dict) -> str:
    growth, rate = export["peak_mb"] - export["before_mb"], export["rows"] / export["seconds"]
    return f"{export['peak_mb']:.1f} MB peak RSS (+{growth:.1f} streaming), {rate:,.0f} rows/s"


def ensure_demo_data() -> None:
    """Seed 1,000,000 demo subscribers when the database has fewer; vacuum and analyze, as autovacuum would.

    VACUUM sets the visibility map (index-only scans depend on it) and ANALYZE the planner's statistics, so the
    plans measured are those of a settled database rather than of one just bulk-loaded.
    """
    have = Subscriber.objects.count()
    if have < SUBSCRIBERS:
        print(f"  {have:,} subscribers; seeding {SUBSCRIBERS:,} (seed_demo, a few minutes)…", flush=True)
        call_command("seed_demo", "--subscribers", str(SUBSCRIBERS), stdout=sys.stdout)
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) conversations_subscriber, conversations_event")


def _gift_segment() -> Segment:
    segment = Segment.objects.filter(name=GIFT_SEGMENT).first()
    if segment is None:
        print(f"  creating the segment {GIFT_SEGMENT!r}", flush=True)
        return segment_create(name=GIFT_SEGMENT, rules=GIFT_RULES)
    if segment.rules != rules_check(rules=GIFT_RULES):
        raise RuntimeError(f"{GIFT_SEGMENT!r} has other rules than the hand-written SQL assumes: {segment.rules}")
    return segment


def _hand_count(now) -> int:
    with connection.cursor() as cursor:
        cursor.execute(HAND_SQL, {"cutoff": now - timedelta(days=30), "gift": GIFT_RECIPIENTS})
        return cursor.fetchone()[0]


def _seconds(query) -> float:
    start = time.perf_counter()
    query()
    return time.perf_counter() - start


def _export_in_child(last_pk: int | None) -> dict:
    code = (
        "import django, json; django.setup(); from benchmarks.segments import export; "
        f"print(json.dumps(export({last_pk!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=os.environ, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the export process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export(last_pk: int | None) -> dict:
    """In the child process: stream everyone (up to `last_pk`) as CSV, dropping each line; the peak RSS."""
    definitions = list(AttributeDefinition.objects.all())
    members = rules_queryset(rules_check(rules=EVERYONE))
    if last_pk is not None:
        members = members.filter(pk__lte=last_pk)
    before = _peak_rss_mb()
    rows, characters = -1, 0  # the first line is the header
    start = time.perf_counter()
    for line in members_csv_lines(members, definitions):
        rows += 1
        characters += len(line)
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    return {"rows": rows, "characters": characters, "seconds": round(seconds, 2), "peak_mb": peak, "before_mb": before}


def _peak_rss_mb() -> float:
    """This process's resident-set high-water mark.

    On Linux, VmHWM: getrusage's ru_maxrss would do, but it carries the parent's peak over fork and exec, so the
    child would report the benchmark runner's memory.
    """
    status = Path("/proc/self/status")
    if status.exists():
        (line,) = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        return round(int(line.split()[1]) / 1024, 1)  # kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024), 1)  # bytes on macOS
