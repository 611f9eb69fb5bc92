"""The IANA time zone database, read from the pinned `tzdata` package, so every machine knows the same zones.

`zoneinfo.ZoneInfo` looks in the system's zoneinfo folders first and falls back to `tzdata`; the names and the
country table here come from `tzdata` alone, so a zone Parley accepts loads wherever it runs, whatever the OS
ships (a slim container has no /usr/share/zoneinfo at all).
"""

from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every zone a subscriber may have ("America/Chicago", "UTC"), without the tz database's "Factory" placeholder."""
    return frozenset(files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()) - {"Factory"}


@lru_cache(maxsize=1)
def zones_by_country() -> dict[str, tuple[str, ...]]:
    """ISO country code to its zones, in the order of the tz database's zone.tab ("JM": ("America/Jamaica",))."""
    zones: dict[str, list[str]] = {}
    table = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in table.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            if zone not in zones.setdefault(country, []):
                zones[country].append(zone)
    return {country: tuple(names) for country, names in zones.items()}
