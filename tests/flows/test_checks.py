"""The flow editor's checks (pure): errors block publishing, warnings say what may go wrong."""

import pytest

from conversations.sms.encoding import count_segments
from flows.checks import ERROR, WARNING, flow_checks
from tests.conftest import load_data

ATTRIBUTES = {item["key"]: item for item in load_data("attributes.json")}


def segments(text: str) -> int:
    return count_segments(text).segments


def checks(nodes, **options):
    return [
        (check.level, check.node, check.message)
        for check in flow_checks({"nodes": nodes}, attributes=ATTRIBUTES, segments_of=segments, **options)
    ]


QUESTION = {
    "id": "ask",
    "type": "ask_question",
    "attribute": "size",
    "text": "What size? Reply S, M, L or XL",
    "other": {"nudge": "S, M, L or XL?", "max_retries": 1, "next": "end"},
    "no_reply": {"after_minutes": 60, "next": "end"},
    "next": "end",
}
END = {"id": "end", "type": "end"}


def test_a_sound_flow_has_nothing_to_say():
    assert checks([QUESTION, END], trigger="opt_in") == []


def test_a_question_without_other_or_no_reply_paths_is_flagged():
    bare = {key: value for key, value in QUESTION.items() if key not in ("other", "no_reply")}
    found = checks([bare, END], trigger="opt_in")
    assert (WARNING, "ask", "no path for an answer that matches nothing (other)") in found
    assert (WARNING, "ask", "no path for when they do not reply (no_reply)") in found


def test_a_text_question_needs_no_other_path():
    loved = {"id": "loved", "type": "ask_question", "answer_type": "text", "text": "What did you love?", "next": "end"}
    found = checks([loved, END], trigger="opt_in")
    assert [message for _, _, message in found] == ["no path for when they do not reply (no_reply)"]


def test_a_node_no_path_reaches_is_flagged():
    lost = {"id": "lost", "type": "send_message", "text": "Hello?", "next": "end"}
    assert (WARNING, "lost", "no path leads to this node: it can never run") in checks([QUESTION, END, lost])


def test_a_node_with_nothing_after_it_is_flagged():
    found = checks([{"id": "hi", "type": "send_message", "text": "Hi!"}], trigger="opt_in")
    assert found == [(WARNING, "hi", "nothing comes after this node: the flow ends here without an end node")]


def test_a_long_text_is_flagged_with_its_segment_count():
    long = {"id": "hi", "type": "send_message", "text": "Great news! " * 30, "next": "end"}
    assert (WARNING, "hi", "the text is 3 SMS segments; keep it to 2 or fewer") in checks([long, END], trigger="opt_in")


def test_an_unknown_variable_is_an_error_and_errors_come_first():
    typo = {"id": "hi", "type": "send_message", "text": "Hi {{ frist_name }}", "next": "end"}
    found = checks([typo, END], trigger="opt_in")
    assert found[0][0] == ERROR and found[0][1] == "hi" and "frist_name" in found[0][2]


def test_a_keyword_another_active_flow_uses_is_an_error():
    found = checks([QUESTION, END], trigger="keyword", keywords=["Gift"], keywords_in_use={"gift": "Gift finder"})
    assert found == [(ERROR, "", "the keyword GIFT already starts the active flow 'Gift finder'")]


@pytest.mark.parametrize(
    "trigger, text, flagged",
    [
        ("event", "You left something in your cart: https://shop.example.com/cart", True),
        ("event", "You left something in your cart. Reply STOP to opt out", False),
        ("manual", "New arrivals are in! Text STOP to unsubscribe", False),
        ("opt_in", "Welcome! What size do you wear?", False),  # answers their START: the confirmation said STOP
        ("keyword", "Happy to help! Who is the gift for?", False),  # answers their keyword
    ],
)
def test_the_first_text_of_a_flow_the_store_starts_needs_the_way_out(trigger, text, flagged):
    wait = {"id": "wait", "type": "wait", "minutes": 60, "next": "hi"}
    first = {"id": "hi", "type": "send_message", "text": text, "next": "end"}
    found = checks([wait, first, END], trigger=trigger)
    assert any("add how to opt out" in message for _, _, message in found) is flagged


def test_a_flow_that_starts_itself_is_an_error():
    loop = [
        {"id": "hi", "type": "send_message", "text": "Hi", "next": "again"},
        {"id": "again", "type": "start_flow", "flow": "Loop"},
    ]
    found = checks(loop, trigger="opt_in", flow_id=9, flow_name="Loop")
    assert (ERROR, "again", "this node starts the flow it is in: it would start itself forever") in found
