"""The exact text of every scenario version a run played, named by its content hash."""

from __future__ import annotations

from contextlib import suppress

from sqlalchemy import insert, select

from simulator.record.database import Conflict, RecordError
from simulator.record.rows import now
from simulator.record.schema import scenario_versions
from simulator.record.unit import UnitOfWork
from simulator.scenario import LoadedScenario, parse_scenario


class ScenarioVersions:
    """The scenario versions of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit
        self._parsed: dict[str, LoadedScenario] = {}

    def store(self, loaded: LoadedScenario) -> str:
        """Keep the exact text of a scenario version; returns its content hash."""
        with self._unit.reading() as c:
            exists = c.execute(select(scenario_versions.c.content_hash).where(
                scenario_versions.c.content_hash == loaded.content_hash)).scalar()
        if not exists:
            # Another process may store the same text at the same moment: same hash, no harm.
            with suppress(Conflict), self._unit.attempt() as c:
                c.execute(insert(scenario_versions).values(
                    content_hash=loaded.content_hash, scenario_id=loaded.scenario.id,
                    title=loaded.scenario.title, schema_version=loaded.scenario.schema_version,
                    source=loaded.source, text=loaded.text, first_seen_utc=now()))
        return loaded.content_hash

    def get(self, content_hash: str) -> LoadedScenario:
        """The scenario exactly as a run played it.

        Read and parsed once per record: a version never changes (it is named by its own
        content hash), and reports over many runs ask for the same few again and again.
        """
        if content_hash in self._parsed:
            return self._parsed[content_hash]
        with self._unit.reading() as c:
            row = c.execute(select(scenario_versions).where(
                scenario_versions.c.content_hash == content_hash)).first()
        if row is None:
            raise RecordError(f"no scenario version {content_hash[:12]} in the record")
        self._parsed[content_hash] = parse_scenario(row.text, row.source)
        return self._parsed[content_hash]
