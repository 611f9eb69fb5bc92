from datetime import UTC, datetime

import pytest

from flows import engine
from flows.matching import Option
from tests.conftest import load_data

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def questions_from_attributes() -> dict[str, engine.Question]:
    return {
        item["key"]: engine.Question(
            item["type"],
            item["label"],
            tuple(Option(o["value"], o["label"], tuple(o["synonyms"])) for o in item["options"]),
        )
        for item in load_data("attributes.json")
    }


@pytest.fixture
def context():
    return engine.Context(
        first_name="Ana",
        phone="+14155550100",
        time_zone="America/New_York",
        store="Acme",
        questions=questions_from_attributes(),
    )
