"""Property tests: no definition and no input crash the engine, and every step leaves the run waiting or
ended, never running on."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from flows import engine
from tests.flows.conftest import NOW, questions_from_attributes

CONTEXT = engine.Context(first_name="Ana", time_zone="America/Chicago", questions=questions_from_attributes())
IDS = [f"n{i}" for i in range(6)]
target = st.one_of(st.none(), st.sampled_from(IDS))
text = st.text(max_size=30)


def node_strategy(node_id):
    return st.one_of(
        st.fixed_dictionaries({"id": st.just(node_id), "type": st.just("send_message"), "text": text, "next": target}),
        st.fixed_dictionaries(
            {
                "id": st.just(node_id),
                "type": st.just("ask_question"),
                "text": text,
                "attribute": st.sampled_from(["size", "diet", "gift_recipient", "age_range"]),
                "next": target,
                "other": st.fixed_dictionaries({"max_retries": st.integers(0, 3), "next": target}),
                "no_reply": st.fixed_dictionaries({"after_minutes": st.integers(1, 3000), "next": target}),
            }
        ),
        st.fixed_dictionaries(
            {"id": st.just(node_id), "type": st.just("wait"), "minutes": st.integers(0, 600), "next": target}
        ),
        st.fixed_dictionaries(
            {
                "id": st.just(node_id),
                "type": st.just("wait_for_event"),
                "event": st.just("order_placed"),
                "within_minutes": st.integers(1, 600),
                "next": target,
                "timeout_next": target,
            }
        ),
        st.fixed_dictionaries(
            {"id": st.just(node_id), "type": st.just("add_tag"), "tag": st.just("t"), "next": target}
        ),
        st.fixed_dictionaries(
            {
                "id": st.just(node_id),
                "type": st.just("split_random"),
                "branches": st.lists(
                    st.fixed_dictionaries({"percent": st.integers(0, 100), "next": st.sampled_from(IDS)}),
                    min_size=1,
                    max_size=3,
                ),
            }
        ),
        st.fixed_dictionaries({"id": st.just(node_id), "type": st.just("end")}),
    )


definitions = st.tuples(*[node_strategy(node_id) for node_id in IDS]).map(lambda nodes: {"nodes": list(nodes)})
inputs = st.lists(
    st.one_of(
        st.builds(lambda t, m: engine.Reply(t, NOW + timedelta(minutes=m)), text, st.integers(0, 5000)),
        st.builds(lambda m: engine.Timeout(NOW + timedelta(minutes=m)), st.integers(0, 5000)),
        st.builds(lambda m: engine.Event("order_placed", NOW + timedelta(minutes=m)), st.integers(0, 5000)),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(definitions, inputs, st.floats(0, 0.999))
def test_no_input_crashes_and_every_step_waits_or_ends(definition, given_inputs, random):
    outcome = engine.step(definition, None, engine.Start(NOW, random=random), CONTEXT)
    state = outcome.state
    for given_input in [*given_inputs]:
        assert state["status"] in (engine.WAITING, engine.COMPLETED, engine.EXPIRED, engine.INTERRUPTED)
        outcome = engine.step(definition, state, given_input, CONTEXT)
        state = outcome.state
        steps_taken = sum(1 for e in outcome.effects if isinstance(e, engine.Send | engine.SetAttribute))
        assert steps_taken <= engine.MAX_STEPS * 2
    assert state["status"] in (engine.WAITING, engine.COMPLETED, engine.EXPIRED, engine.INTERRUPTED)
    if state["status"] == engine.WAITING:
        assert state["waiting_for"] in ("reply", "time", "event")
