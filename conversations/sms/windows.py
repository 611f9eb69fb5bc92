"""When a marketing text may reach a recipient: quiet hours in their own time zones.

Pure code (compliance.md, section 3): the store's window (09:00-20:00 local by
default, which satisfies every state rule Monday to Saturday), Texas numbers
on Sunday from 12:00, and, when a number spans several zones, only the times
that are inside the window in every one of them.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The widest window the product allows; a store may narrow it, never widen it.
EARLIEST = time(9, 0)
LATEST = time(20, 0)

# State rules that narrow the product window, as data so that counsel can add rows.
# Texas (Tex. Bus. & Com. Code 301.051, texts included since 2025-09-01): Sunday 12:00-21:00.
TEXAS_AREA_CODES = frozenset(
    "210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 817 830 832 903 915 936 940 945 956 "
    "972 979".split()
)
SUNDAY = 6


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    def __post_init__(self):
        if not EARLIEST <= self.start < self.end <= LATEST:
            raise ValueError(
                f"the send window must lie within {EARLIEST:%H:%M}-{LATEST:%H:%M} and start before it ends "
                f"(got {self.start:%H:%M}-{self.end:%H:%M})"
            )


DEFAULT_WINDOW = Window(EARLIEST, LATEST)


def us_state_rules_for(phone: str) -> set[str]:
    """The states whose extra rules apply to this E.164 number, from its area code."""
    if phone.startswith("+1") and phone[2:5] in TEXAS_AREA_CODES:
        return {"TX"}
    return set()


def local_window(day: date, window: Window, states: set[str]) -> tuple[time, time]:
    start, end = window.start, window.end
    if "TX" in states and day.weekday() == SUNDAY:
        start = max(start, time(12, 0))
    return start, end


def _open_intervals(zone: str, around: datetime, window: Window, states: set[str]) -> list[tuple[datetime, datetime]]:
    tz = ZoneInfo(zone)
    today = around.astimezone(tz).date()
    intervals = []
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        start, end = local_window(day, window, states)
        if start < end:
            intervals.append(
                (
                    datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
                    datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
                )
            )
    return intervals


def _intersect(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]):
    result = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return sorted(result)


def _open_everywhere(now: datetime, zones: list[str], window: Window, states: set[str]):
    """The stretches of time, around `now`, when the window is open in every one of the zones."""
    intervals = None
    for zone in zones:
        zone_intervals = _open_intervals(zone, now, window, set(states))
        intervals = zone_intervals if intervals is None else _intersect(intervals, zone_intervals)
    return intervals or []


def next_open(now: datetime, zones: list[str], window: Window = DEFAULT_WINDOW, states: set[str] = frozenset()):
    """`now` if the window is open in every zone, else when it next opens in all of them (None if never)."""
    for start, end in _open_everywhere(now, zones, window, states):
        if end > now:
            return max(start, now)
    return None


def closes_at(now: datetime, zones: list[str], window: Window = DEFAULT_WINDOW, states: set[str] = frozenset()):
    """When the window that is open at `now` closes in one of the zones, or None if it is closed."""
    for start, end in _open_everywhere(now, zones, window, states):
        if start <= now < end:
            return end
    return None
