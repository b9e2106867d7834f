"""Record: the durable store of agencies, people, scenario versions, sessions, runs and events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from media_index import MediaIndex
from simulator.record.access_log import AccessLogStore
from simulator.record.accounts import AccountStore
from simulator.record.agencies import Agencies, AgencySettingsStore
from simulator.record.append_only import missing_triggers, refuse_writes
from simulator.record.cohorts import Cohorts
from simulator.record.database import (
    RecordError,
    create_record_engine,
    migrate,
    resolve_url,
    why,
)
from simulator.record.notices import Notices
from simulator.record.people import People
from simulator.record.recordings import Recordings
from simulator.record.runs import Runs
from simulator.record.scenario_versions import ScenarioVersions
from simulator.record.scores import Scores
from simulator.record.sittings import Sittings
from simulator.record.trial_imports import TrialImports
from simulator.record.unit import UnitOfWork


class Record:
    """The record of every session. Open one per process; it is safe to share across threads.

    Its repositories, one per concern, are its attributes (``record.people``,
    ``record.runs``...). Each call is its own transaction, unless made inside
    ``with record.transaction():``, where all of them are one.

    ``engine`` is for the record's own modules and for tests that tamper with the database
    underneath it; nothing else uses it (tests/test_architecture.py).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._unit = UnitOfWork(engine)
        self.agencies = Agencies(self._unit)
        self.agency_settings = AgencySettingsStore(self._unit)
        self.people = People(self._unit)
        self.cohorts = Cohorts(self._unit)
        self.scenario_versions = ScenarioVersions(self._unit)
        self.sittings = Sittings(self._unit, self.people)
        self.runs = Runs(self._unit)
        self.scores = Scores(self._unit)
        self.trial_imports = TrialImports(self._unit)
        self.notices = Notices(self._unit)
        self.accounts = AccountStore(self._unit)
        self.access_log = AccessLogStore(self._unit)
        self.recordings = Recordings(self._unit)

    @classmethod
    def open(cls, url: str | None = None) -> Record:
        """Open (creating and migrating as needed) the record at ``url`` or the default.

        Creating or upgrading is whole or not at all, one opener at a time (``migrate``).
        A record missing any of its append-only triggers opens to be read, and refuses
        every write with a RecordError saying so (``simulator.record.append_only``).
        """
        resolved = resolve_url(url)
        engine = create_record_engine(resolved)
        where = engine.url.render_as_string(hide_password=True)
        try:
            migrate(engine)
            with engine.connect() as c:
                missing = missing_triggers(c)
        except RecordError:
            engine.dispose()
            raise
        except (DBAPIError, NoSuchModuleError) as exc:
            engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            advice = why(exc, engine) if isinstance(exc, DBAPIError) else None
            if advice is not None:
                raise RecordError(f"cannot open the record at {where}: {reason}; "
                                  f"{advice}") from exc
            raise RecordError(f"cannot open the record at {where}: {reason}. Check the URL, "
                              "that the server is running, and that the file is a "
                              "Branchpoint record") from exc
        if missing:
            refuse_writes(engine, missing)
        return cls(engine)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every repository call in the block one transaction: all of it, or none.

        Anything raised inside rolls back what the block wrote, and is raised on. Reads in
        the block see its writes. Per thread: another thread's calls meanwhile are their
        own. A run's journal and the media index write on their own connections, so they
        are not used inside the block (on SQLite they would wait for it to end).
        """
        with self._unit.transaction():
            yield

    def media_index(self) -> MediaIndex:
        """The media index kept in the record's database (its tables made if new)."""
        return MediaIndex.open(self.engine)
