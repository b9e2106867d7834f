"""A remote console's class set-up requests, answered by the application layer.

Each paired console gets a `ClassDesk`: its own `Gate` (nobody signed in until it signs in)
over the same class as the projector PC's console (`ClassSitting.seen_by`). A request
becomes one use case of the class, with that use case's own access check; whatever stops
it comes back as a ``refused`` answer, for the console to show, never as an error of the
server. Nothing here knows about sockets or Qt, so it runs headless.

The desk answers on the projector PC's Qt thread, so during a live run it refuses what
would stall the run (`busy`): reading the library, checking a password, the pre-flight.
A sign-in ends after the agency's idle time without a request, a command or a run on the
projector (`used`), when the console locks itself after that time without input there
(`sign_out`), and with the connection; each is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Generic

from simulator.access import AccessDenied, Permission, SignInError
from simulator.agency import AgencyProfile
from simulator.catalog import CatalogEntry
from simulator.names import inert, name_problem
from simulator.record import RecordError
from simulator.training.gate import Gate, SignedOut
from simulator.training.ports import Staged
from simulator.training.sitting import ClassSitting, RunPlan, StartedRun
from simulator.transport.wire import (
    MAX_IDLE_SECONDS,
    MAX_LISTED,
    MAX_NAME,
    AnswerBody,
    AnswerRefusalCode,
    Catalog,
    CatalogItem,
    CatalogRequest,
    ClassEnded,
    ClassRequest,
    ClassRun,
    ClassRuns,
    ClassRunsRequest,
    EndClassRequest,
    Preflight,
    PreflightRequest,
    Refused,
    SignedIn,
    SignedOutAnswer,
    SignIn,
    SignOut,
    Started,
    StartRequest,
    Trainees,
    TraineesRequest,
    VariantItem,
    bounded,
)

log = logging.getLogger(__name__)

# Put a staged run on the screen and start it: the front end's part of a remote start (the
# projector PC also serves it to every console and shows it on its own console).
Launch = Callable[[ClassSitting[Staged], RunPlan], StartedRun[Staged]]

BUSY = "a run is still on the projector; end it first (Ctrl+E twice), then start the next"
PREFLIGHT_BUSY = ("check it once the run on the projector is over: the pre-flight decodes "
                  "video on the projector PC, which would stall the run")
CATALOG_BUSY = ("the library is listed once the run on the projector is over: reading it "
                "would stall the run")
SIGN_IN_BUSY = ("sign in once the run on the projector is over: checking a password would "
                "stall the run")
DROPPED = "the remote console's connection closed"


class ClassDesk(Generic[Staged]):
    """The class, as one remote console's instructor may work it.

    ``console`` is the console's own name for itself, for the access log (``where``).
    ``now`` is the clock of the idle sign-out, in seconds.
    """

    def __init__(self, sitting: ClassSitting[Staged], launch: Launch[Staged], *,
                 console: str, now: Callable[[], float] = time.monotonic) -> None:
        self._sitting = sitting
        self._launch = launch
        self._record = sitting.gate.record
        # The name comes from the other PC: written out inertly before it is logged.
        self.where = f"remote console {inert(console) or '(unnamed)'}"
        self.gate = Gate(self._record, None, self.where)
        self._idle_seconds = self.gate.idle_seconds(sitting.agency_id)
        self._now = now
        self._last_use = now()

    @property
    def accounts(self) -> bool:
        """Whether the record has accounts, so that class requests need a sign-in first."""
        return self.gate.guarded

    @property
    def signed_in(self) -> bool:
        """Whether someone is signed in on this connection."""
        return self.gate.account is not None

    @property
    def _idle_minutes(self) -> str:
        return f"{self._idle_seconds / 60:g} minutes"

    def used(self) -> None:
        """The console steered, or watches, a run: the idle time starts again."""
        self._last_use = self._now()

    def closed(self) -> None:
        """The connection is gone, and with it the sign-in: logged, so every one has an end."""
        account = self.gate.account
        if account is None:
            return
        try:
            self.gate.sign_out(DROPPED)
        except RecordError:
            # Nobody is left to tell; the projector PC's log keeps it.
            log.exception("could not log the end of %s's sign-in", account.username)

    def answer(self, request: ClassRequest) -> AnswerBody:
        """Do what ``request`` asks as this console's instructor; a refusal says why not."""
        now = self._now()
        idle, self._last_use = now - self._last_use, now
        try:
            if isinstance(request, SignOut):
                # The console locked itself after the idle time without input there: the
                # end is logged when it happened, not at some later request.
                self.gate.sign_out(f"signed out at the remote console after "
                                   f"{self._idle_minutes} without input")
                return SignedOutAnswer()
            # Never during a run (a paused one, say): the idle time starts after it.
            if (self.gate.account is not None and idle >= self._idle_seconds
                    and not self._sitting.running()):
                self.gate.idle_sign_out(idle)
                if not isinstance(request, SignIn):
                    return Refused(code="signed_out", detail=f"signed out after "
                                   f"{self._idle_minutes} without use; sign in again")
            if isinstance(request, SignIn):
                if self._sitting.running():
                    return Refused(code="busy", detail=SIGN_IN_BUSY)
                return self._sign_in(request)
            return self._use_case(request, self._sitting.seen_by(self.gate))
        except SignedOut as exc:
            # Signed out (disabled or locked since), or never signed in on this connection.
            code: AnswerRefusalCode = ("signed_out" if self.gate.why_signed_out is not None
                                       else "not_signed_in")
            return Refused(code=code, detail=str(exc))
        except AccessDenied as exc:
            return Refused(code="access_denied", detail=str(exc))
        except ValueError as exc:
            return Refused(code="invalid", detail=bounded([str(exc)])[0])
        except RuntimeError as exc:
            # The record, or the projector PC's player: nothing the console could fix.
            if not isinstance(exc, RecordError):
                log.exception("a remote console's %s failed", request.type)
            return Refused(code="failed", detail=bounded([f"the projector PC could not do "
                                                          f"it: {exc}"])[0])

    def _sign_in(self, request: SignIn) -> AnswerBody:
        try:
            account = self.gate.sign_in_here(request.username, request.password,
                                             Permission.run)
        except SignInError as exc:
            return Refused(code="sign_in_failed", detail=str(exc))
        person = account.person_id
        name = self._record.people.display_names([person]).get(person) if person else None
        return SignedIn(username=account.username, role=account.role.value,
                        name=name if name is None or len(name) <= MAX_NAME else None,
                        idle_seconds=min(self._idle_seconds, MAX_IDLE_SECONDS))

    def _use_case(self, request: ClassRequest, sitting: ClassSitting[Staged]) -> AnswerBody:
        if isinstance(request, CatalogRequest):
            # The library itself is no one's personal data, but set-up is a class's.
            self.gate.check(Permission.run)
            if sitting.running():
                # It lints every scenario (and may decode thumbnails) on the projector PC.
                return Refused(code="busy", detail=CATALOG_BUSY)
            return Catalog(scenarios=[_item(e, sitting.profile)
                                      for e in sitting.catalog()[:MAX_LISTED]])
        if isinstance(request, TraineesRequest):
            names = sitting.recent_trainees(
                own_only=not self.gate.may(Permission.coordinate))
            # Only where nobody signs in does a start continue the open sitting's
            # instructor; on a record with accounts their name is nobody else's business.
            instructor = None if self.gate.guarded else sitting.instructor()
            return Trainees(names=[n for n in names if _pickable(n)][:MAX_LISTED],
                            instructor=instructor if instructor and _pickable(instructor)
                            else None)
        if isinstance(request, PreflightRequest):
            self.gate.check(Permission.run)
            if sitting.running():
                # It decodes every clip on the projector PC, which would stall the run.
                return Refused(code="busy", detail=PREFLIGHT_BUSY)
            problems = sitting.preflight(request.scenario_id)
            return Preflight(scenario_id=request.scenario_id, problems=bounded(problems))
        if isinstance(request, StartRequest):
            return self._start(request, sitting)
        if isinstance(request, ClassRunsRequest):
            return ClassRuns(runs=[
                ClassRun(run_id=r.run_id, scenario_id=r.scenario_id, variant_id=r.variant_id,
                         trainees=[_shown(n) for n in r.trainees], status=r.status,
                         outcome=r.outcome, started_utc=r.started_utc)
                for r in sitting.class_runs()[-MAX_LISTED:]])
        assert isinstance(request, EndClassRequest)
        self.gate.check(Permission.run)
        if sitting.running():
            return Refused(code="busy", detail=BUSY)
        sitting.end_class()
        return ClassEnded()

    def _start(self, request: StartRequest, sitting: ClassSitting[Staged]) -> AnswerBody:
        self.gate.check(Permission.run)
        if sitting.running():
            return Refused(code="busy", detail=BUSY)
        plan = RunPlan(scenario_id=request.scenario_id, trainees=tuple(request.trainees),
                       instructor=request.instructor, variant_id=request.variant_id)
        started = self._launch(sitting, plan)
        state = started.run.state
        return Started(run_id=state.run_id, scenario_id=state.scenario_id,
                       variant_id=state.variant_id, names=started.names)


def _pickable(name: str) -> bool:
    # What a console may send back in a start: a longer name could not be sent whole, and
    # picked cut short it would be a new trainee; one a start refuses would only fail there.
    return len(name) <= MAX_NAME and name_problem(name) is None


def _shown(name: str) -> str:
    # Only for reading: a name picked to start a run is never cut (see `TraineesRequest`).
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def _item(entry: CatalogEntry, profile: AgencyProfile) -> CatalogItem:
    return CatalogItem(
        scenario_id=entry.scenario_id, title=bounded([entry.title])[0],
        summary=bounded([entry.summary])[0],
        focus_areas=list(entry.focus_areas), pledge_areas=list(entry.pledge_areas),
        variants=[VariantItem(id=v.id, description=bounded([v.describe(profile)])[0])
                  for v in entry.variants],
        errors=bounded(list(entry.errors)), warnings=bounded(list(entry.warnings)))
