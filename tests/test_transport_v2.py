"""Wire version 2, headless: the version a hello settles, class requests, their bounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.protocol import Pause
from simulator.transport import (
    Answer,
    AnswerBody,
    Catalog,
    CatalogRequest,
    ClassRequest,
    ClassRun,
    ClassRuns,
    ConsoleGate,
    Hello,
    PairingCode,
    PairingLimiter,
    Refusal,
    Refused,
    Request,
    SendCommand,
    SignedIn,
    SignedOutAnswer,
    SignIn,
    SignOut,
    Started,
    StartRequest,
    Welcome,
    WireError,
    bounded,
    encode,
    read_console_message,
    read_projector_message,
)
from simulator.transport.gate import FAILED, NEEDS_TLS, NOT_OFFERED, OLDER_CONSOLE


class FakeDesk:
    """The application layer, reduced to what it was asked."""

    accounts = True

    def __init__(self) -> None:
        self.asked: list[ClassRequest] = []
        self.used_times = 0
        self.closed_times = 0

    def answer(self, request: ClassRequest) -> AnswerBody:
        self.asked.append(request)
        if isinstance(request, SignIn):
            return Refused(code="sign_in_failed", detail="wrong user name or password")
        return Catalog(scenarios=[])

    def used(self) -> None:
        self.used_times += 1

    def closed(self) -> None:
        self.closed_times += 1


def a_gate(*, desk: FakeDesk | None = None, private: bool = True,
           versions: frozenset[int] = frozenset({1, 2})
           ) -> tuple[ConsoleGate, PairingCode, list]:
    code = PairingCode()
    applied: list = []
    gate = ConsoleGate(code, applied.append, lambda: None,
                       desk=(lambda _name: desk) if desk is not None else None,
                       private=private, versions=versions)
    return gate, code, applied


def texts(reply) -> list[dict]:
    return [json.loads(t) for t in (reply.text, *reply.then)]


def request(body, request_id: str = "r1") -> str:
    return encode(Request(request_id=request_id, request=body))


def test_a_version_2_console_is_welcomed_with_what_the_projector_offers():
    desk = FakeDesk()
    gate, code, _ = a_gate(desk=desk)
    (welcome,) = texts(gate.receive(Hello(code=str(code), console="laptop").model_dump_json()))
    assert welcome == {"v": 2, "type": "welcome", "snapshot": None,
                       "features": ["live", "class", "sign_in"], "accounts": True}
    answer = read_projector_message(gate.receive(request(CatalogRequest())).text)
    assert isinstance(answer, Answer) and answer.request_id == "r1"
    assert answer.answer == Catalog(scenarios=[]) and desk.asked == [CatalogRequest()]

    plain, code, _ = a_gate()  # `branchpoint project --listen`: no class to set up
    (welcome,) = texts(plain.receive(Hello(code=str(code)).model_dump_json()))
    assert welcome["features"] == ["live"] and welcome["accounts"] is False
    answer = read_projector_message(plain.receive(request(CatalogRequest())).text)
    assert answer.answer == Refused(code="not_offered", detail=NOT_OFFERED)
    assert "branchpoint console --listen" in NOT_OFFERED


def test_a_version_1_console_gets_version_1_only_and_is_told_what_it_cannot_do():
    desk = FakeDesk()
    gate, code, applied = a_gate(desk=desk)
    hello = json.dumps({"v": 1, "type": "hello", "code": str(code), "console": "old laptop"})
    welcome, told = texts(gate.receive(hello))
    # Exactly today's version 1 welcome: nothing it does not know.
    assert welcome == {"v": 1, "type": "welcome", "snapshot": None}
    assert told == {"v": 1, "type": "error", "code": "version", "detail": OLDER_CONSOLE}
    assert gate.version == 1 and gate.welcome(None) == json.dumps(welcome,
                                                                   separators=(",", ":"))
    assert gate.receive(json.dumps({"v": 1, "type": "command",
                                    "command": {"type": "pause"}})) is None
    assert applied == [Pause()]
    # A request is not version 1; nor is any version 2 message on this connection.
    malformed = json.loads(gate.receive(json.dumps(
        {"v": 1, "type": "request", "request_id": "r1", "request": {"type": "catalog"}})).text)
    assert (malformed["v"], malformed["code"]) == (1, "malformed")
    assert "needs wire version 2" in malformed["detail"]
    other = json.loads(gate.receive(SendCommand(command=Pause()).model_dump_json()).text)
    assert other["code"] == "version" and "the one its `hello` carried" in other["detail"]
    assert applied == [Pause()] and not desk.asked

    # With no class on the projector, an older console misses nothing and is told nothing.
    plain, code, _ = a_gate()
    assert len(texts(plain.receive(encode(Hello(code=str(code)), 1)))) == 1


def test_an_older_projector_refuses_a_version_2_hello_as_it_always_has():
    gate, code, _ = a_gate(versions=frozenset({1}))
    (refusal,) = texts(gate.receive(Hello(code=str(code)).model_dump_json()))
    assert refusal == {"v": 1, "type": "error", "code": "version",
                       "detail": "message version 2; this end speaks version 1: run the same "
                                 "Branchpoint release on both PCs"}
    assert not gate.paired
    (welcome,) = texts(gate.receive(encode(Hello(code=str(code)), 1)))
    assert welcome["type"] == "welcome" and welcome["v"] == 1 and gate.paired


def test_a_password_crosses_only_a_connection_nobody_else_can_read():
    desk = FakeDesk()
    gate, code, _ = a_gate(desk=desk, private=False)
    sign_in = request(SignIn(username="diaz", password="correct horse battery staple"))
    assert json.loads(gate.receive(sign_in).text)["code"] == "unauthenticated"
    (welcome,) = texts(gate.receive(Hello(code=str(code)).model_dump_json()))
    # The welcome says that no sign-in is possible here, so a console asks for no password.
    assert welcome["features"] == ["live", "class"]
    answer = read_projector_message(gate.receive(sign_in).text)
    assert answer.answer == Refused(code="needs_tls", detail=NEEDS_TLS)
    assert not desk.asked
    private, code, _ = a_gate(desk=desk, private=True)
    private.receive(Hello(code=str(code)).model_dump_json())
    private.receive(sign_in)
    assert [r.type for r in desk.asked] == ["sign_in"]
    assert "correct horse" not in repr(desk.asked)


def test_guessing_passwords_hangs_up_and_is_limited_across_connections():
    desk = FakeDesk()
    limiter = PairingLimiter(what="failed sign-ins", then="then sign in again")
    code = PairingCode()

    def connect(peer: str) -> ConsoleGate:
        gate = ConsoleGate(code, lambda _c: None, lambda: None, desk=lambda _name: desk,
                           private=True, peer=peer, sign_ins=limiter)
        gate.receive(Hello(code=str(code)).model_dump_json())
        return gate

    gate = connect("10.0.0.9")
    guess = request(SignIn(username="diaz", password="guess"))
    for _ in range(4):
        reply = gate.receive(guess)
        assert not reply.close
        assert read_projector_message(reply.text).answer.code == "sign_in_failed"
    fifth = gate.receive(guess)
    assert fifth.close  # hung up, as on a wrong pairing code
    assert "too many failed sign-ins" in read_projector_message(fifth.text).answer.detail
    # Coming back at once does not reset the count, and no password is checked at all.
    again = connect("10.0.0.9").receive(guess)
    assert again.close and len(desk.asked) == 5
    assert "wait 60 s" in read_projector_message(again.text).answer.detail
    # Another PC still signs in; other requests are not limited.
    assert not connect("10.0.0.7").receive(guess).close
    assert read_projector_message(gate.receive(request(CatalogRequest())).text).answer == (
        Catalog(scenarios=[]))


def test_every_request_is_answered_even_when_the_desk_fails_unexpectedly(caplog):
    desk = FakeDesk()
    desk.answer = lambda _request: {}["no such key"]  # type: ignore[method-assign]
    gate, code, _ = a_gate(desk=desk)
    gate.receive(Hello(code=str(code)).model_dump_json())
    answer = read_projector_message(gate.receive(request(CatalogRequest(), "r9")).text)
    assert isinstance(answer, Answer) and answer.request_id == "r9"
    assert answer.answer == Refused(code="failed", detail=FAILED)
    assert "a remote console's catalog failed" in caplog.text and "KeyError" in caplog.text


def test_steering_counts_as_use_and_the_desk_hears_when_the_connection_ends():
    desk = FakeDesk()
    gate, code, applied = a_gate(desk=desk)
    gate.receive(Hello(code=str(code)).model_dump_json())
    gate.receive(SendCommand(command=Pause()).model_dump_json())
    assert applied == [Pause()] and desk.used_times == 1
    gate.closed()
    assert desk.closed_times == 1


@pytest.mark.parametrize(("body", "where"), [
    ({"type": "start", "scenario_id": "s", "trainees": []}, "request.trainees"),
    ({"type": "start", "scenario_id": "s", "trainees": ["x"] * 51}, "request.trainees"),
    ({"type": "start", "scenario_id": "s", "trainees": ["x" * 201]}, "request.trainees.0"),
    ({"type": "start", "scenario_id": "s", "trainees": ["Officer\u202eReyes"]},
     "request.trainees.0"),
    ({"type": "start", "scenario_id": "s", "trainees": ["A"], "instructor": "Sgt.\x1b[2J"},
     "request.instructor"),
    ({"type": "start", "scenario_id": "s" * 201, "trainees": ["A"]}, "request.scenario_id"),
    ({"type": "sign_in", "username": "u" * 65, "password": "p"}, "request.username"),
    ({"type": "sign_in", "username": "u", "password": "p" * 1025}, "request.password"),
    ({"type": "catalog", "everything": True}, "request.everything"),
    ({"type": "launch"}, "request.type"),
])
def test_a_request_out_of_bounds_is_refused_naming_its_field(body, where):
    text = json.dumps({"v": 2, "type": "request", "request_id": "r1", "request": body})
    with pytest.raises(WireError) as caught:
        read_console_message(text)
    assert caught.value.code == "malformed"
    assert f"field `{where}`" in str(caught.value)
    if "\u202e" in text or "\\u202e" in text:
        assert "text-direction" in str(caught.value)


def test_a_request_id_is_bounded_and_answers_round_trip():
    long_id = json.dumps({"v": 2, "type": "request", "request_id": "r" * 65,
                          "request": {"type": "catalog"}})
    with pytest.raises(WireError, match="field `request_id`"):
        read_console_message(long_id)
    start = StartRequest(scenario_id="corner", trainees=["Officer Reyes", "Officer Byrne"],
                         variant_id=None)
    assert read_console_message(request(start)).request == start
    runs = ClassRuns(runs=[ClassRun(run_id="9c2e", scenario_id="corner", variant_id="a",
                                    trainees=["Officer Reyes"], status="ended",
                                    outcome="resolved_peacefully",
                                    started_utc=datetime(2026, 12, 3, 9, tzinfo=UTC))])
    for body in (runs, Started(run_id="9c2e", scenario_id="corner", variant_id="b",
                               names={"t1": "Officer Reyes"}),
                 Refused(code="busy", detail="a run is still on the projector")):
        back = read_projector_message(encode(Answer(request_id="r7", answer=body)))
        assert isinstance(back, Answer) and back.answer == body


def test_version_1_is_written_and_read_without_anything_version_2_added():
    with pytest.raises(ValueError, match="no `answer` message"):
        encode(Answer(request_id="r1", answer=Refused(code="busy", detail="")), 1)
    with pytest.raises(WireError, match="field `features`: needs wire version 2"):
        read_projector_message(json.dumps({"v": 1, "type": "welcome", "snapshot": None,
                                           "features": ["live"]}))
    # An older projector's welcome offers live control only.
    older = read_projector_message(json.dumps({"v": 1, "type": "welcome", "snapshot": None}))
    assert isinstance(older, Welcome) and older.features == ("live",) and not older.accounts
    refusal = read_projector_message(encode(Refusal(code="version", detail="x"), 1))
    assert isinstance(refusal, Refusal) and refusal.v == 1
    with pytest.raises(WireError) as caught:
        read_console_message(json.dumps({"v": 3, "type": "hello", "code": "x"}))
    assert caught.value.code == "version" and "versions 1 and 2" in str(caught.value)


def test_long_answers_are_cut_to_their_bounds_and_say_how_much_was_left_out():
    lines = [f"problem {n}" for n in range(80)] + ["x" * 5000]
    cut = bounded(lines)
    assert len(cut) == 50 and cut[-1] == "… and 32 more"
    assert bounded(["y" * 5000]) == ["y" * 1999 + "…"]
    assert bounded(["a", "b"]) == ["a", "b"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
REQUEST_TYPES = st.sampled_from(["sign_in", "sign_out", "catalog", "trainees", "preflight", "start",
                                 "class_runs", "end_class", "nonsense"])


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(kind=REQUEST_TYPES, fields=st.dictionaries(
    st.sampled_from(["username", "password", "scenario_id", "trainees", "variant_id",
                     "instructor", "extra"]), JSON, max_size=5),
    request_id=JSON, version=st.sampled_from([1, 2, 3, "2", None]))
def test_any_request_is_answered_or_refused_never_raised(kind, fields, request_id, version):
    desk = FakeDesk()
    gate, code, _ = a_gate(desk=desk)
    gate.receive(Hello(code=str(code)).model_dump_json())
    text = json.dumps({"v": version, "type": "request", "request_id": request_id,
                       "request": {"type": kind, **fields}})
    reply = gate.receive(text)
    assert reply is not None and not reply.close
    message = read_projector_message(reply.text)
    # What reached the desk passed every bound of the wire.
    assert isinstance(message, (Answer, Refusal))
    assert len(desk.asked) == (1 if isinstance(message, Answer)
                               and (not isinstance(message.answer, Refused)
                                    or message.answer.code == "sign_in_failed") else 0)


def test_a_sign_out_and_the_idle_time_cross_the_wire_bounded():
    assert read_console_message(request(SignOut())).request == SignOut()
    with pytest.raises(WireError, match=r"field `request\.why`: Extra inputs"):
        read_console_message(json.dumps({"v": 2, "type": "request", "request_id": "r1",
                                         "request": {"type": "sign_out", "why": "x"}}))
    for body in (SignedIn(username="diaz", role="instructor", name=None, idle_seconds=600),
                 SignedIn(username="diaz", role="instructor"), SignedOutAnswer()):
        back = read_projector_message(encode(Answer(request_id="r2", answer=body)))
        assert isinstance(back, Answer) and back.answer == body
    # An idle time no agency has is refused, not run as a timer.
    for idle in (0, -1, 1e12, "NaN"):
        text = json.dumps({"v": 2, "type": "answer", "request_id": "r2", "answer": {
            "type": "signed_in", "username": "diaz", "role": "instructor",
            "idle_seconds": idle}})
        with pytest.raises(WireError, match=r"field `answer\.idle_seconds`"):
            read_projector_message(text)
