"""The send gate and quiet hours: pure unit tests (compliance.md, section 3)."""

from datetime import UTC, datetime, time, timedelta

import pytest

from conversations.sms import gate, windows

NY = ("America/New_York",)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def recipient(**overrides):
    values = {
        "phone": "+12125550100",
        "status": "subscribed",
        "opted_out_at": None,
        "last_inbound_at": None,
        "zones": NY,
        "marketing_sent_at": (),
    }
    return gate.Recipient(**{**values, **overrides})


def decide(purpose="marketing", now="2026-11-24T15:00:00", rules=gate.DEFAULT_RULES, **overrides):
    return gate.decide(purpose=purpose, recipient=recipient(**overrides), now=at(now), rules=rules)


def test_marketing_inside_the_window_goes():
    assert decide(now="2026-11-24T15:00:00").action == gate.SEND  # 10:00 in New York


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        ("2026-11-24T13:30:00", "2026-11-24T14:00:00"),  # 08:30 New York: at 09:00
        ("2026-11-25T01:30:00", "2026-11-25T14:00:00"),  # 20:30 New York: next morning
        ("2026-11-25T00:59:00", "2026-11-25T00:59:00"),  # 19:59: still open
    ],
)
def test_marketing_is_held_until_the_window_opens(now, opens):
    decision = decide(now=now)
    if opens == now:
        assert decision.action == gate.SEND
    else:
        assert (decision.action, decision.until) == (gate.HOLD, at(opens))
        assert "quiet hours" in decision.reason


def test_a_number_in_two_zones_waits_for_both():
    # 08:30 in Los Angeles is 09:30 in Boise: only when both are open.
    decision = decide(now="2026-11-24T16:30:00", zones=("America/Boise", "America/Los_Angeles"))
    assert (decision.action, decision.until) == (gate.HOLD, at("2026-11-24T17:00:00"))


def test_texas_numbers_wait_until_noon_on_sunday():
    sunday_10am_chicago = "2026-11-22T16:00:00"
    texas = decide(now=sunday_10am_chicago, phone="+12145550100", zones=("America/Chicago",))
    assert (texas.action, texas.until) == (gate.HOLD, at("2026-11-22T18:00:00"))
    illinois = decide(now=sunday_10am_chicago, phone="+13125550100", zones=("America/Chicago",))
    assert illinois.action == gate.SEND


def test_stores_may_narrow_the_window_but_never_widen_it():
    narrow = gate.Rules(window=windows.Window(time(10, 0), time(18, 0)))
    assert decide(now="2026-11-24T14:30:00", rules=narrow).until == at("2026-11-24T15:00:00")
    with pytest.raises(ValueError, match="within 09:00-20:00"):
        windows.Window(time(8, 0), time(20, 0))
    with pytest.raises(ValueError):
        windows.Window(time(9, 0), time(21, 0))


def test_unknown_zone_uses_the_store_default():
    rules = gate.Rules(default_zone="America/Los_Angeles")
    decision = decide(now="2026-11-24T15:00:00", zones=(), rules=rules)  # 07:00 in Los Angeles
    assert decision.until == at("2026-11-24T17:00:00")


def test_the_daily_cap_holds_the_fourth_marketing_text():
    sent = tuple(at(t) for t in ("2026-11-23T16:00:00", "2026-11-24T14:05:00", "2026-11-24T14:10:00"))
    decision = decide(now="2026-11-24T15:00:00", marketing_sent_at=sent)
    # Three in the last 24 h: the fourth waits until the oldest is 24 h old.
    assert (decision.action, decision.until) == (gate.HOLD, at("2026-11-24T16:00:00"))
    assert "frequency cap" in decision.reason
    two = decide(now="2026-11-24T15:00:00", marketing_sent_at=sent[1:])
    assert two.action == gate.SEND


def test_a_cap_that_frees_at_night_waits_for_the_morning():
    sent = tuple(at(t) for t in ("2026-11-24T01:00:00", "2026-11-24T14:00:00", "2026-11-24T14:01:00"))
    decision = decide(now="2026-11-24T15:00:00", marketing_sent_at=sent, rules=gate.Rules(daily_cap=2))
    # The cap frees at 14:00 UTC tomorrow (09:00 New York), inside the window.
    assert decision.until == at("2026-11-25T14:00:00")


def test_weekly_cap():
    sent = tuple(at(f"2026-11-{day}T15:00:00") for day in (18, 19, 20))
    decision = decide(now="2026-11-24T15:00:00", marketing_sent_at=sent, rules=gate.Rules(weekly_cap=3))
    assert decision.until == at("2026-11-25T15:00:00")


def test_a_reply_within_24_hours_of_their_text_skips_window_and_cap():
    night = "2026-11-25T03:00:00"  # 22:00 in New York
    sent = tuple(at("2026-11-25T01:00:00") for _ in range(3))
    reply = decide("conversational", now=night, last_inbound_at=at("2026-11-25T02:58:00"), marketing_sent_at=sent)
    assert reply.action == gate.SEND
    stale = decide("conversational", now=night, last_inbound_at=at("2026-11-23T02:58:00"))
    assert stale.action == gate.HOLD


def test_nobody_who_opted_out_gets_anything_but_the_confirmation():
    opted_out = {
        "status": "unsubscribed",
        "opted_out_at": at("2026-11-24T15:00:00"),
        "last_inbound_at": at("2026-11-24T15:00:00"),
    }
    for purpose in ("marketing", "conversational", "system"):
        decision = decide(purpose, now="2026-11-24T15:01:00", **opted_out)
        assert (decision.action, decision.code) == (gate.REFUSE, "opted_out"), purpose
    assert decide("opt_out_confirmation", now="2026-11-24T15:04:59", **opted_out).action == gate.SEND
    late = decide("opt_out_confirmation", now="2026-11-24T15:05:01", **opted_out)
    assert (late.action, late.code) == (gate.REFUSE, "too_late")
    assert decide("opt_out_confirmation").action == gate.REFUSE


def test_pending_subscribers_get_no_marketing_but_may_be_answered():
    assert decide("marketing", status="pending").code == "no_consent"
    recent = at("2026-11-24T14:59:00")
    assert decide("conversational", status="pending", last_inbound_at=recent).action == gate.SEND
    assert decide("system", status="pending", now="2026-11-25T04:00:00").action == gate.SEND


def test_validity_period_ends_when_the_window_closes():
    assert gate.validity_period(at("2026-11-24T23:00:00"), recipient()) == 7200  # 18:00 -> 20:00
    assert gate.validity_period(at("2026-11-24T14:00:00"), recipient()) == 36000  # capped at 10 h
    assert gate.validity_period(at("2026-11-25T03:00:00"), recipient()) is None


def test_dst_change_is_in_local_time():
    # 2026-03-08: clocks go forward in New York; 09:00 EDT is 13:00 UTC.
    assert decide(now="2026-03-08T12:30:00").until == at("2026-03-08T13:00:00")
    assert decide(now="2026-03-07T13:30:00").until == at("2026-03-07T14:00:00")


def test_hold_never_drops():
    decision = decide(now="2026-11-25T04:00:00")
    assert decision.action == gate.HOLD
    assert decision.until - at("2026-11-25T04:00:00") < timedelta(hours=11)


def test_marketing_waits_while_a_person_is_talking_with_them_and_replies_do_not():
    held = decide(now="2026-11-24T15:00:00", talking=True)
    assert held.action == gate.HOLD and held.code == "talking"
    assert held.until == at("2026-11-24T15:00:00") + gate.TALKING_RECHECK  # looked at again, never dropped
    assert decide(
        purpose="conversational", now="2026-11-24T15:00:00", talking=True, last_inbound_at=at("2026-11-24T14:50:00")
    ).allowed
    assert decide(purpose="system", now="2026-11-24T15:00:00", talking=True).allowed
