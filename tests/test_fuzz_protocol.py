"""Fuzzed console messages against a live run: no crash, no hang, and no effect unless allowed.

Every message goes through the same `ConsoleGate` the projector's server uses, into a real
run recording to SQLite. Before pairing nothing may reach the run. After pairing, only a
well-formed instructor command may; anything refused leaves the run as it was. The run's
hash chain must verify at the end. Brief in the suite; ``make fuzz`` runs 10,000 messages
for each property.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.headless.player import HeadlessPlayer
from simulator.protocol import (
    ChooseBranch,
    Jump,
    Pause,
    RaiseFlag,
    RecordDecision,
    ReportInput,
    RestartSegment,
    Resume,
    Retract,
)
from simulator.record import Record, verify_run
from simulator.runtime import ManualClock
from simulator.training.runs import begin_run
from simulator.transport import (
    MAX_MESSAGE_BYTES,
    ConsoleGate,
    Hello,
    PairingCode,
    SendCommand,
    read_projector_message,
)

pytestmark = pytest.mark.fuzz

SEEDS = [json.loads(m.model_dump_json()) for m in (
    Hello(code="ABCD-EFGH", console="laptop"),
    SendCommand(command=ChooseBranch(branch_id="calm", offer_seq=3)),
    SendCommand(command=RecordDecision(trainee_id="t", action="presence")),
    SendCommand(command=RecordDecision(trainee_id="t", action="cew", source="device",
                                       input_ns=5)),
    SendCommand(command=ReportInput(device="trigger", kind="shot", input_ns=1,
                                    action="firearm")),
    SendCommand(command=RaiseFlag(note="x")),
    SendCommand(command=Retract(entry_seq=2)),
    SendCommand(command=Pause()),
    SendCommand(command=Resume()),
    SendCommand(command=RestartSegment()),
    SendCommand(command=Jump(segment_id="door")),
)]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False), st.text(max_size=60))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=10)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid message with one to three of its fields replaced, removed or added."""
    message = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        target = message
        if isinstance(message.get("command"), dict) and draw(st.booleans()):
            target = message["command"]
        key = draw(st.sampled_from([*target, draw(st.text(max_size=8))]))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(values)
    return json.dumps(message)


messages = st.one_of(
    mutated(),
    values.map(json.dumps),
    st.text(max_size=300),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.integers(MAX_MESSAGE_BYTES - 10, MAX_MESSAGE_BYTES + 50).map(lambda n: "x" * n),
)


@pytest.fixture
def live(tmp_path, doorway):
    """The doorway scenario running on a headless player, recording to SQLite."""
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    trainee = record.people.add("trainee", "Officer Reyes")
    session = record.sittings.open([trainee])
    clock = ManualClock()
    run = begin_run(record, doorway, session_id=session, variant_id="a",
                    variant_assignment="chosen", trainee_ids=[trainee], instructor_id=None,
                    clock=clock,
                    player=HeadlessPlayer(clock))
    run.start()
    clock.advance(1.0)
    run.poll()
    yield run, record
    assert verify_run(record, run.state.run_id).ok
    assert not [e for e in record.runs.events(run.state.run_id)
                if e.type == "trainee_input" or getattr(e, "source", None) == "device"]
    record.close()


FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(messages)
def test_nothing_from_an_unpaired_console_reaches_the_run(live, text):
    run, _ = live
    before = run.state.seq
    gate = ConsoleGate(PairingCode(), run.handle, lambda: None)
    reply = gate.receive(text)
    assert reply is not None
    answer = read_projector_message(reply.text)
    assert answer.type == "error" and not gate.paired
    assert run.state.seq == before


@FUZZ
@given(messages)
def test_a_paired_console_changes_the_run_only_by_allowed_commands(live, text):
    run, _ = live
    code = PairingCode()
    gate = ConsoleGate(code, run.handle, lambda: None)
    gate.receive(Hello(code=str(code)).model_dump_json())
    assert gate.paired
    before = run.state.seq
    reply = gate.receive(text)
    if reply is not None:
        # Refused (or a second hello, welcomed): the run is as it was.
        assert read_projector_message(reply.text).type in ("error", "welcome")
        assert run.state.seq == before
