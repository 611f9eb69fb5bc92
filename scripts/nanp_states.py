"""Write conversations/data/nanp_states.json: the US state or Canadian province of each North American area code.

libphonenumber's geocoder knows it, but loading the geocoder costs every process about 100 MB; a table of
a few hundred area codes costs nothing. Run again after upgrading phonenumbers:

    .venv/bin/python scripts/nanp_states.py
"""

import json
import sys
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conversations.phones import NORTH_AMERICAN_REGIONS  # noqa: E402

CODES = frozenset(NORTH_AMERICAN_REGIONS.values())


def state_of(description: str) -> str:
    tail = description.rsplit(", ", 1)[-1]
    return tail if tail in CODES else NORTH_AMERICAN_REGIONS.get(description, "")


def main() -> None:
    table = {}
    for area in range(200, 1000):
        for line in ("5550100", "2345678", "4567890", "7654321"):
            number = phonenumbers.parse(f"+1{area}{line}")
            if not phonenumbers.is_valid_number(number):
                continue
            if phonenumbers.region_code_for_number(number) not in ("US", "CA"):
                break
            state = state_of(geocoder.description_for_number(number, "en"))
            if state:
                table[str(area)] = state
                break
    out = ROOT / "conversations" / "data" / "nanp_states.json"
    out.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    print(f"{len(table)} area codes written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
