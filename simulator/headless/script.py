"""Scripted instructors: a YAML list of timed commands that drives a headless run.

```yaml
schema_version: 1
commands:
  - {at: 4.5, choose: calm}                 # the branch on offer at that moment
  - {at: 6.0, decide: verbal_direction, trainee: 1, source: device}
  - {at: 7.0, flag: "Good use of distance"}
  - {at: 7.5, retract: last, reason: mis_keyed}
  - {at: 9.0, pause: true}
  - {at: 12.0, resume: true}
```

``at`` counts seconds from the start of the run. ``trainee`` is a 1-based position in
the run's trainee list or a trainee's id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.documents import load_document
from simulator.protocol import (
    ChooseBranch,
    Command,
    EndRun,
    Jump,
    Pause,
    RaiseFlag,
    RecordDecision,
    RestartSegment,
    Resume,
    Retract,
)
from simulator.protocol.run_state import RunState

SCRIPT_SCHEMA_VERSION = 1

_ACTIONS = ("choose", "decide", "flag", "retract", "pause", "resume", "restart", "jump", "end")


class ScriptStep(BaseModel):
    """One timed command of a script; exactly one action field is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(ge=0, allow_inf_nan=False)
    choose: str | None = None
    offer: int | None = Field(default=None, description="Answer this offer (default: current).")
    decide: str | None = None
    trainee: int | str = 1
    source: Literal["device", "instructor"] = "instructor"
    flag: str | None = None
    retract: int | Literal["last"] | None = None
    reason: Literal["mis_keyed", "wrong_trainee", "duplicate", "other"] = "mis_keyed"
    pause: bool = False
    resume: bool = False
    restart: bool = False
    jump: str | None = None
    end: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> ScriptStep:
        chosen = [a for a in _ACTIONS if getattr(self, a) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(
                f"each step has exactly one of {', '.join(_ACTIONS)}; this one has "
                f"{', '.join(chosen) or 'none'}"
            )
        return self

    def command(self, index: int, state: RunState, now_ns: int) -> Command:
        """The protocol command this step stands for, given the run as it is now."""
        command_id = f"script:{index}"
        if self.choose is not None:
            offer = self.offer if self.offer is not None else (
                state.offer.offer_seq if state.offer else 0)
            return ChooseBranch(command_id=command_id, branch_id=self.choose, offer_seq=offer)
        if self.decide is not None:
            return RecordDecision(command_id=command_id, trainee_id=self._trainee(state),
                                  action=self.decide, source=self.source,
                                  input_ns=now_ns if self.source == "device" else None)
        if self.flag is not None:
            return RaiseFlag(command_id=command_id, note=self.flag)
        if self.retract is not None:
            entry = (state.entries[-1] if state.entries else 0) if self.retract == "last" \
                else self.retract
            return Retract(command_id=command_id, entry_seq=entry, reason=self.reason)
        if self.jump is not None:
            return Jump(command_id=command_id, segment_id=self.jump)
        if self.end is not None:
            return EndRun(command_id=command_id, note=self.end)
        if self.pause:
            return Pause(command_id=command_id)
        if self.resume:
            return Resume(command_id=command_id)
        return RestartSegment(command_id=command_id)

    def _trainee(self, state: RunState) -> str:
        if isinstance(self.trainee, int) and 1 <= self.trainee <= len(state.trainee_ids):
            return state.trainee_ids[self.trainee - 1]
        return str(self.trainee)


class Script(BaseModel):
    """A scripted instructor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCRIPT_SCHEMA_VERSION
    commands: list[ScriptStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_time_order(self) -> Script:
        times = [step.at for step in self.commands]
        if times != sorted(times):
            raise ValueError("script commands must be in time order (`at` never decreases)")
        return self


def load_script(path: Path) -> Script:
    """Read a script file; errors name the file, line and field."""
    script, _ = load_document(path, Script, kind="script", current=SCRIPT_SCHEMA_VERSION,
                              minimum=SCRIPT_SCHEMA_VERSION)
    return script
