"""The remote console's wire format and gate, headless: who may send what, and what it costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from simulator.protocol import ChooseBranch, Command, Pause, RunStarted
from simulator.scenario import outline, parse_scenario
from simulator.transport import (
    MAX_MESSAGE_BYTES,
    ConsoleGate,
    EventMessage,
    Hello,
    PairingCode,
    SendCommand,
    Snapshot,
    WireError,
    certificate_fingerprint,
    read_console_message,
    read_projector_message,
)


@pytest.fixture
def snapshot(doorway_text) -> Snapshot:
    started = RunStarted(run_id="r", seq=1, t_ns=0, utc=datetime(2026, 1, 1, tzinfo=UTC),
                         session_id="s", scenario_id="doorway", scenario_hash="h",
                         variant_id="a", trainee_ids=["t"], instructor_id=None,
                         player_backend="pyav", timing_mode="frame_exact")
    return Snapshot(run_id="r", events=[started], default_in_ms=1234,
                    outline=outline(parse_scenario(doorway_text).scenario),
                    names={"t": "Officer Reyes"}, force_options=["presence", "firearm"],
                    verbal_tactics=["rapport"])


def gate(snapshot: Snapshot) -> tuple[ConsoleGate, list[Command], PairingCode]:
    applied: list[Command] = []
    code = PairingCode()
    return ConsoleGate(code, applied.append, lambda: snapshot), applied, code


def test_a_pairing_code_is_read_forgivingly_and_compared_exactly():
    code = PairingCode("ABCDEFGH")
    assert str(code) == "ABCD-EFGH"
    assert code.matches("abcd-efgh") and code.matches(" ABCD EFGH ")
    assert not code.matches("ABCD-EFGX") and not code.matches("") and not code.matches("ABCD")
    codes = {PairingCode().secret for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 8 and set(c) <= set("ABCDEFGHJKMNPQRSTUVWXYZ"
                                                                   "23456789") for c in codes)


def test_nothing_reaches_the_run_before_the_right_code(snapshot):
    the_gate, applied, code = gate(snapshot)
    command = SendCommand(command=Pause()).model_dump_json()
    refusal = json.loads(the_gate.receive(command).text)
    assert refusal["code"] == "unauthenticated" and not applied
    wrong = the_gate.receive(Hello(code="ZZZZ-ZZZZ").model_dump_json())
    assert wrong.close and json.loads(wrong.text)["code"] == "wrong_code"
    assert not the_gate.paired
    welcome = read_projector_message(the_gate.receive(Hello(code=str(code)).model_dump_json())
                                     .text)
    assert welcome.type == "welcome" and welcome.snapshot == snapshot
    assert the_gate.receive(command) is None and applied == [Pause()]


@pytest.mark.parametrize(("text", "code", "says"), [
    ("", "malformed", "not JSON"),
    ("[1, 2]", "malformed", "JSON object"),
    ('{"type": "hello", "code": "x"}', "version", "version None"),
    ('{"v": 3, "type": "hello", "code": "x"}', "version", "same Branchpoint release"),
    ('{"v": 1, "type": "hello"}', "malformed", "field `code`: Field required"),
    ('{"v": 1, "type": "launch"}', "malformed", "field `type`"),
    ('{"v": 1, "type": "command", "command": {"type": "choose_branch", "branch_id": "x"}}',
     "malformed", "field `command.offer_seq`: Field required"),
    ('{"v": 1, "type": "command", "command": {"type": "pause", "extra": 1}}', "malformed",
     "extra"),
    ('{"v": 1, "type": "hello", "code": "' + "x" * 40 + '"}', "malformed", "code"),
])
def test_malformed_messages_are_refused_with_the_field_and_the_fix(snapshot, text, code, says):
    with pytest.raises(WireError) as caught:
        read_console_message(text)
    assert caught.value.code == code and says in str(caught.value)
    the_gate, applied, _ = gate(snapshot)
    reply = json.loads(the_gate.receive(text).text)
    assert reply["code"] == code and not applied


def test_an_oversized_message_is_refused_before_it_is_parsed():
    text = json.dumps({"v": 1, "type": "hello", "code": "x", "console": "y" * MAX_MESSAGE_BYTES})
    with pytest.raises(WireError) as caught:
        read_console_message(text)
    assert caught.value.code == "too_large"


def test_commands_and_events_round_trip_through_the_wire(snapshot):
    choose = ChooseBranch(branch_id="calm", offer_seq=3, command_id="c1")
    sent = read_console_message(SendCommand(command=choose).model_dump_json())
    assert sent.command == choose
    event = snapshot.events[0]
    back = read_projector_message(EventMessage(event=event).model_dump_json())
    assert back.event == event


def test_a_certificate_fingerprint_is_sha256_in_pairs():
    print_ = certificate_fingerprint(b"certificate")
    assert len(print_.split(":")) == 32
    assert print_.startswith("03:D6:6D:D0:88:35:")  # sha256(b"certificate") = 03d66dd08835...


def test_guessing_the_code_is_limited_per_address_and_for_the_whole_network(snapshot):
    from simulator.transport import PairingLimiter

    now = [1000.0]
    limiter = PairingLimiter(clock=lambda: now[0])
    code = PairingCode()

    def hello(peer: str, given: str) -> dict:
        the_gate = ConsoleGate(code, lambda _c: None, lambda: snapshot, limiter=limiter,
                               peer=peer)
        reply = the_gate.receive(Hello(code=given).model_dump_json())
        assert reply.close or the_gate.paired
        return json.loads(reply.text)

    for _ in range(5):
        assert hello("10.0.0.9", "ZZZZ-ZZZZ")["code"] == "wrong_code"
    # The sixth try from that address is not even compared, right code or not.
    limited = hello("10.0.0.9", str(code))
    assert limited["code"] == "rate_limited" and "wait 60 s" in limited["detail"]
    assert hello("10.0.0.7", str(code))["type"] == "welcome"  # another PC still pairs
    now[0] += 61
    assert hello("10.0.0.9", str(code))["type"] == "welcome"
    # Many addresses together: after 20 wrong codes in a minute nobody pairs for a while.
    for i in range(20):
        assert hello(f"10.0.1.{i}", "ZZZZ-ZZZZ")["code"] == "wrong_code"
    blocked = hello("10.0.0.7", str(code))
    assert blocked["code"] == "rate_limited" and "someone on the network" in blocked["detail"]
    now[0] += 61
    assert hello("10.0.0.7", str(code))["type"] == "welcome"


def test_the_pairing_limiter_forgets_every_address_whose_failures_are_a_minute_old():
    from simulator.transport import PairingLimiter

    now = [0.0]
    limiter = PairingLimiter(clock=lambda: now[0])
    for number in range(50):
        limiter.failed(f"10.0.0.{number}")
    assert limiter.refusal("10.0.0.1") is not None  # 50 from the network: refused
    now[0] = 61.0
    assert limiter.refusal("10.0.9.9") is None
    assert len(limiter._by_peer) == 0  # nobody who failed once and never came back
