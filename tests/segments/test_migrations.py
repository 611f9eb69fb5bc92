"""The migration that makes segment names unique in any case keeps every segment of an older database."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_names_taken_in_another_case_are_told_apart_before_the_constraint():
    old = migrate(("segments", "0002_attributes_gin_index"))
    Segment = old.get_model("segments", "Segment")
    for name in ["VIP", "vip", "Vip", "Gift buyers", "x" * 100, "X" * 100]:
        Segment.objects.create(name=name, rules={"tag": "vip"})
    new = migrate(("segments", "0003_segment_name_unique_any_case"))
    names = list(new.get_model("segments", "Segment").objects.order_by("id").values_list("name", flat=True))
    assert names == ["VIP", "vip (2)", "Vip (3)", "Gift buyers", "x" * 100, "X" * 96 + " (2)"]
