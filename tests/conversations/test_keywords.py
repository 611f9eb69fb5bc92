"""The compliance keyword rules (compliance.md section 1), on the shared vectors and other phrasings."""

import pytest

from conversations.sms.keywords import HELP, OPT_IN, OPT_OUT, classify, is_reserved, normalize
from tests.conftest import load_data

VECTORS = load_data("keywords.json")


def kind(text):
    match = classify(text)
    return match.kind if match else None


@pytest.mark.parametrize("text", VECTORS["opt_out"])
def test_shared_opt_outs(text):
    assert kind(text) == OPT_OUT


@pytest.mark.parametrize("text", VECTORS["not_opt_out"])
def test_shared_not_opt_outs(text):
    assert kind(text) != OPT_OUT


@pytest.mark.parametrize("text", VECTORS["help"])
def test_shared_help(text):
    assert kind(text) == HELP


@pytest.mark.parametrize("text", VECTORS["opt_in_after_opt_out"])
def test_shared_opt_ins(text):
    assert kind(text) == OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "STOPALL",
        "Stop All!",
        "unsubscribe.",
        "Opt Out",
        "opt_out",
        "REVOKE!!",
        "Quit.",
        "end 🙏",
        "  cancel  ",
        "please stop",
        "pls stop",
        "Stop please!",
        "STOP STOP",
        "stop msgs",
        "opt me out",
        "Remove me please",
        "take me off your list",
        "dont text me",
        "Never message me again",
        "no more messages",
        "stop contacting me",
        "no mas mensajes",
        "NO MÁS",
        "Wrong person",
        "ＳＴＯＰ",
        "stop\u2019",
        "Stop sending these",
    ],
)
def test_other_ways_of_saying_stop(text):
    assert kind(text) == OPT_OUT, text


@pytest.mark.parametrize(
    "text",
    [
        "stop by the store tomorrow",
        "Can I stop by later?",
        "don't stop the sale",
        "nonstop",
        "bus stop",
        "the end",
        "weekend deals?",
        "cancel order 55",
        "I want to cancel my order",
        "quit it with the sales lol",
        "unstoppable",
        "help me find a dress",
        "information please about returns",
        "yes",
        "M",
        "start date?",
    ],
)
def test_conversation_is_not_a_stop(text):
    assert kind(text) != OPT_OUT, text


def test_opt_out_wins_and_records_the_rule():
    match = classify("STOP ALL")
    assert (match.kind, match.keyword, match.rule) == (OPT_OUT, "STOPALL", "keyword:STOPALL")
    assert classify("please don't text me").rule == "free_text:do_not_contact"


def test_normalize():
    assert normalize(" Stop!! ") == "stop"
    assert normalize("STOP 🛑") == "stop"
    assert normalize("No  Más") == "no mas"
    assert normalize("Don\u2019t") == "don't"


@pytest.mark.parametrize(
    ("word", "reserved"),
    [("Stop", True), ("opt-out", True), ("HELP", True), ("yes", True), ("M", False), ("Large", False)],
)
def test_reserved_words(word, reserved):
    assert is_reserved(word) is reserved
