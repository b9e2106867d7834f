"""The record on SQLite and a real PostgreSQL: durable events, chained, verifiable, resumable."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import drop_append_only_guard
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from simulator.headless.player import HeadlessPlayer
from simulator.ports import JournalEntry
from simulator.protocol import ChooseBranch, RaiseFlag, RecordDecision, canonical_json
from simulator.record import Record, RecordError, verify_all, verify_run
from simulator.record.schema import metadata
from simulator.runtime import ManualClock
from simulator.training.runs import begin_run, reopen_run


def play_some(record: Record, loaded, clock, *, finish: bool = True):
    trainee = record.people.add("trainee", "Officer Dana Reyes", external_ref="B-1042")
    instructor = record.people.add("instructor", "Sgt. Lee")
    session = record.sittings.open([trainee], instructor_id=instructor, label="class 3")
    player = HeadlessPlayer(clock)
    run = begin_run(record, loaded, session_id=session, variant_id="b", trainee_ids=[trainee],
                    variant_assignment="chosen",
                    instructor_id=instructor, clock=clock, player=player)
    run.start()
    run.poll()
    clock.advance(4.2)
    run.poll()
    run.handle(RecordDecision(trainee_id=trainee, action="verbal_direction"))
    run.handle(RaiseFlag(note="Dana kept her distance", trainee_id=trainee))
    run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    if finish:
        for _ in range(4):
            clock.advance(2.0)
            run.poll()
        assert run.ended
    return run, trainee


def test_events_are_stored_exactly_as_emitted(record, doorway, clock):
    heard = []
    run, _ = play_some(record, doorway, clock, finish=False)
    run.subscribe(heard.append)
    for _ in range(4):
        clock.advance(2.0)
        run.poll()
    stored = record.runs.events(run.state.run_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [canonical_json(e) for e in stored[-len(heard):]] == [canonical_json(e) for e in heard]
    summary = record.runs.get(run.state.run_id)
    assert (summary.status, summary.outcome_kind, summary.event_count) == (
        "ended", "force_used", len(stored))
    assert summary.variant_id == "b" and summary.scenario_hash == doorway.content_hash
    assert record.scenario_versions.get(summary.scenario_hash).text == doorway.text


def test_events_hold_no_names_or_note_text(record, doorway, clock):
    run, trainee = play_some(record, doorway, clock)
    with record.engine.connect() as c:
        payloads = " ".join(c.execute(text("select payload from events")).scalars())
    assert trainee in payloads
    for secret in ("Dana", "Reyes", "B-1042", "Lee", "distance"):
        assert secret not in payloads
    flag = next(e for e in record.runs.events(run.state.run_id) if e.type == "flag_raised")
    assert record.runs.note(run.state.run_id, flag.seq) == "Dana kept her distance"
    assert record.people.display_names([trainee]) == {trainee: "Officer Dana Reyes"}


def test_run_records_its_clips_and_backend(record, doorway, clock):
    run, _ = play_some(record, doorway, clock)
    with record.engine.connect() as c:
        clips = c.execute(text("select clip_id, path, content_hash from run_clips "
                               "order by clip_id")).all()
    assert [r.clip_id for r in clips] == ["calm", "door", "knife"]
    assert all(r.path.endswith(f"b/{r.clip_id}.mp4") and r.content_hash is None for r in clips)
    assert record.runs.get(run.state.run_id).player_backend == "headless"


def _swap(c, run_id, a, b):
    c.execute(text("update events set seq = -1 where run_id = :r and seq = :a"),
              {"r": run_id, "a": a})
    c.execute(text("update events set seq = :a where run_id = :r and seq = :b"),
              {"r": run_id, "a": a, "b": b})
    c.execute(text("update events set seq = :b where run_id = :r and seq = -1"),
              {"r": run_id, "b": b})


TAMPERING = {
    "edit a payload": (
        lambda c, r, n: c.execute(text(
            "update events set payload = replace(payload, 'verbal_direction', 'firearm') "
            "where run_id = :r"), {"r": r}),
        {"edited"}),
    "edit a column": (
        lambda c, r, n: c.execute(text(
            "update events set type = 'paused' where run_id = :r and seq = 3"), {"r": r}),
        {"mismatch"}),
    "delete a row": (
        lambda c, r, n: c.execute(text("delete from events where run_id = :r and seq = 4"),
                                  {"r": r}),
        {"missing", "edited"}),
    "reorder two rows": (lambda c, r, n: _swap(c, r, 3, 4), {"edited", "mismatch"}),
    "cut the tail": (
        lambda c, r, n: c.execute(text("delete from events where run_id = :r and seq > :k"),
                                  {"r": r, "k": n - 2}),
        {"tail_cut"}),
    "append a row": (
        lambda c, r, n: c.execute(text(
            "insert into events (run_id, seq, type, t_ns, utc, payload, hash) "
            "select run_id, :k, type, t_ns, utc, payload, hash from events "
            "where run_id = :r and seq = 1"), {"r": r, "k": n + 1}),
        {"extra", "edited", "mismatch"}),
    "insert in the middle": (
        lambda c, r, n: [
            c.execute(text("update events set seq = seq + 1000 where run_id = :r and seq >= 3"),
                      {"r": r}),
            c.execute(text("update events set seq = seq - 999 where run_id = :r and seq >= 1003"),
                      {"r": r}),
            c.execute(text(
                "insert into events (run_id, seq, type, t_ns, utc, payload, hash) "
                "select run_id, 3, type, t_ns, utc, payload, hash from events "
                "where run_id = :r and seq = 2"), {"r": r})],
        {"edited", "mismatch", "extra"}),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_verify_reports_tampering(record, doorway, clock, how):
    run, _ = play_some(record, doorway, clock)
    run_id = run.state.run_id
    assert verify_run(record, run_id).ok
    tamper, expected = TAMPERING[how]
    with record.engine.begin() as c:
        drop_append_only_guard(c)
        tamper(c, run_id, run.state.seq)
    result = verify_run(record, run_id)
    assert not result.ok
    assert {f.kind for f in result.findings} <= expected | {"missing"}
    assert {f.kind for f in result.findings} & expected


def test_verify_all_passes_untouched_runs(record, doorway, clock):
    play_some(record, doorway, clock)
    play_some(record, doorway, clock)
    results = verify_all(record)
    assert len(results) == 2 and all(r.ok for r in results)


def test_reopened_run_continues_the_same_chain(record, doorway, clock):
    run, _ = play_some(record, doorway, clock, finish=False)
    run_id, seq = run.state.run_id, run.state.seq
    del run  # the process "dies" here
    new_clock = ManualClock(start_ns=5)
    again = reopen_run(record, run_id, clock=new_clock, player=HeadlessPlayer(new_clock))
    assert again.state.seq == seq and again.state.segment_id == "knife"
    again.recover()
    for _ in range(4):
        new_clock.advance(2.0)
        again.poll()
    assert again.ended
    events = record.runs.events(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert "run_recovered" in [e.type for e in events]
    assert verify_run(record, run_id).ok


def test_out_of_order_event_is_refused(record, doorway, clock):
    run, _ = play_some(record, doorway, clock, finish=False)
    journal = record.runs.reopen(run.state.run_id)[1]
    stale = record.runs.events(run.state.run_id)[-1]
    with pytest.raises(ValueError, match="out of order"):
        journal.commit([JournalEntry(stale)], run.state)


def test_migrations_build_exactly_the_declared_schema(record):
    with record.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    assert diff == []


def test_database_from_a_newer_release_is_refused(db_url):
    Record.open(db_url).close()
    opened = Record.open(db_url)
    with opened.engine.begin() as c:
        c.execute(text("update alembic_version set version_num = '9999_future'"))
    opened.close()
    with pytest.raises(RecordError, match="newer Branchpoint"):
        Record.open(db_url)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_sqlite_file_is_owner_only(tmp_path):
    path = tmp_path / "deep" / "record.sqlite3"
    Record.open(f"sqlite:///{path}").close()
    assert os.stat(path).st_mode & 0o077 == 0


def test_bad_urls_say_what_to_use():
    with pytest.raises(RecordError, match="not a database URL"):
        Record.open("record.sqlite3")
    with pytest.raises(RecordError, match="SQLite or PostgreSQL"):
        Record.open("mysql://x@localhost/db")


def test_verify_sees_deleted_events_even_with_the_count_reset(record, doorway, clock):
    run, _ = play_some(record, doorway, clock)
    with record.engine.begin() as c:
        drop_append_only_guard(c)
        c.execute(text("delete from notes"))
        c.execute(text("delete from events"))
        c.execute(text("update runs set event_count = 0"))
    assert {f.kind for f in verify_run(record, run.state.run_id).findings} == {"head_mismatch"}


def test_verify_sees_an_edited_timestamp_and_an_edited_note(record, doorway, clock):
    run, _ = play_some(record, doorway, clock)
    with record.engine.begin() as c:
        drop_append_only_guard(c)
        c.execute(text("update events set utc = :u where seq = 2"),
                  {"u": datetime(2020, 1, 1, tzinfo=UTC)})
        c.execute(text("update notes set text = 'Dana froze'"))
    kinds = {f.kind for f in verify_run(record, run.state.run_id).findings}
    assert kinds == {"mismatch", "note_edited"}


def test_erasing_a_note_keeps_the_chain_valid(record, doorway, clock):
    run, _ = play_some(record, doorway, clock)
    with record.engine.begin() as c:
        c.execute(text("delete from notes"))
        c.execute(text("delete from person_identities"))
    assert verify_run(record, run.state.run_id).ok


def test_id_prefixes_are_not_patterns(record, doorway, clock):
    play_some(record, doorway, clock)
    assert record.runs.ids_starting("%") == [] and record.sittings.ids_starting("_") == []


@pytest.mark.postgres
def test_a_dropped_connection_is_replaced_without_losing_the_run(postgres_server, doorway,
                                                                  clock):
    url = postgres_server.create_database(f"drop_{os.getpid()}")
    record = Record.open(url)
    run, _ = play_some(record, doorway, clock, finish=False)
    killer = create_engine(url, poolclass=NullPool)
    with killer.connect() as c:
        # Every pooled connection of the record dies, as in a server restart.
        killed = c.exec_driver_sql(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()").scalar()
    assert killed >= 1
    for _ in range(4):
        clock.advance(2.0)
        run.poll()
    assert run.ended
    assert verify_run(record, run.state.run_id).ok
    record.close()


def test_schema_heads_match_the_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from media_index import database as media_database
    from simulator.record import database as record_database

    for location, head in (("simulator.record:migrations", record_database.SCHEMA_HEAD),
                           ("media_index:migrations", media_database.SCHEMA_HEAD)):
        config = Config()
        config.set_main_option("script_location", location)
        assert ScriptDirectory.from_config(config).get_current_head() == head


def test_cohorts_hold_each_member_once_and_answer_within_an_agency(record):
    north = record.agencies.ensure("North PD")
    a = record.people.add("trainee", "Officer A", agency_id=north)
    b = record.people.add("trainee", "Officer B")
    record.cohorts.add(" Academy 26-1 ", [a, b, a])
    record.cohorts.add("Academy 26-1", [a])  # a roster read twice
    record.cohorts.add("Night shift", [b])
    assert record.cohorts.members("Academy 26-1") == {a, b}
    assert record.cohorts.members("Academy 26-1", agency_id=north) == {a}
    assert record.cohorts.members("academy 26-1") == set()
    assert record.cohorts.names() == ["Academy 26-1", "Night shift"]
    with pytest.raises(ValueError, match="1 to 100 characters"):
        record.cohorts.add("  ", [a])


def test_a_person_recorded_before_any_agency_joins_the_first_agency_that_names_them(record):
    loose = record.people.add("trainee", "Officer Poe")
    metro = record.agencies.ensure("Metro PD")
    assert record.people.find("trainee", "Officer Poe", agency_id=metro) == loose
    assert record.people.find_or_add("trainee", "Officer Poe", agency_id=metro) == loose
    # Now Metro's: another agency's officer of that name is another person.
    other = record.agencies.ensure("Other PD")
    assert record.people.find("trainee", "Officer Poe", agency_id=other) is None
    assert record.people.find_or_add("trainee", "Officer Poe", agency_id=other) != loose


@pytest.mark.parametrize("statement", [
    "update events set payload = '{}' where seq = 2",
    "delete from events where seq = 2",
    "update access_log set action = 'nothing'",
    "delete from access_log",
    "delete from accounts",
])
def test_the_database_refuses_to_change_events_the_access_log_or_remove_accounts(
        record, doorway, clock, statement):
    from sqlalchemy.exc import DBAPIError

    from simulator.access import AccessLog, Accounts, Role

    run, _ = play_some(record, doorway, clock)
    admin = Accounts(record).add("admin", Role.administrator, "correct horse battery")
    AccessLog(record).write(admin, "export", run.state.run_id, {"format": "pdf"})
    before = verify_run(record, run.state.run_id)
    with pytest.raises(DBAPIError, match=r"is append-only|are never deleted"), \
            record.engine.begin() as c:
        c.execute(text(statement))
    assert verify_run(record, run.state.run_id) == before and before.ok
    with record.engine.connect() as c:
        assert c.execute(text("select count(*) from access_log")).scalar() == 1
        assert c.execute(text("select count(*) from accounts")).scalar() == 1


def test_sqlite_refuses_replacing_an_event_or_an_access_log_line(tmp_path, doorway, clock):
    from sqlalchemy.exc import DBAPIError

    from simulator.access import AccessLog, Accounts, Role

    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    run, _ = play_some(record, doorway, clock)
    AccessLog(record).write(None, "export", run.state.run_id)
    Accounts(record).add("admin", Role.administrator, "correct horse battery")
    for statement, rule in (
            ("insert or replace into events select run_id, seq, type, t_ns, utc, '{}', hash "
             "from events where seq = 2", "is append-only"),
            ("replace into access_log select id, utc, account_id, username, 'nothing', "
             "target, detail from access_log", "is append-only"),
            ("replace into accounts select 'another-id', username, role, person_id, "
             "agency_id, password_hash, 0, null, 0, created_utc, password_changed_utc, "
             "username_key from accounts", "are never deleted")):
        with pytest.raises(DBAPIError, match=f"{rule}: REPLACE refused"), \
                record.engine.begin() as c:
            c.execute(text(statement))
    assert verify_run(record, run.state.run_id).ok
    assert [e.action for e in AccessLog(record).entries()] == ["export"]
    assert [a.id for a in Accounts(record).all()] != ["another-id"]
    record.close()


@pytest.mark.postgres
def test_postgresql_refuses_truncating_the_events(postgres_server, doorway, clock):
    from sqlalchemy.exc import DBAPIError

    record = Record.open(postgres_server.create_database("t_truncate"))
    run, _ = play_some(record, doorway, clock)
    with pytest.raises(DBAPIError, match="append-only"), record.engine.begin() as c:
        c.execute(text("truncate events cascade"))
    assert verify_run(record, run.state.run_id).ok
    record.close()


@pytest.mark.postgres
def test_the_application_role_adds_events_and_can_change_none(postgres_server, doorway,
                                                              clock):
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from simulator.record.app_role import grant_application_role

    owner_url = postgres_server.create_database("t_app_role")
    owner = Record.open(owner_url)
    with psycopg.connect(host=postgres_server.host, port=postgres_server.port,
                         user=postgres_server.user, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute("CREATE ROLE branchpoint_app LOGIN")
    grant_application_role(owner, "branchpoint_app")
    owner.close()
    app_url = owner_url.replace(f"//{postgres_server.user}@", "//branchpoint_app@")
    record = Record.open(app_url)  # at the schema's head, so nothing to migrate
    run, _ = play_some(record, doorway, clock)  # a whole run: inserts and run updates
    assert verify_run(record, run.state.run_id).ok
    for statement, refused in (
            ("update events set payload = '{}'", "permission denied"),
            ("delete from events", "permission denied"),
            ("truncate events", "permission denied"),
            ("alter table events disable trigger user", "must be owner"),
            ("delete from access_log", "permission denied")):
        with pytest.raises(DBAPIError, match=refused), record.engine.begin() as c:
            c.execute(text(statement))
    assert verify_run(record, run.state.run_id).ok
    record.close()


def test_a_backup_reads_the_record_at_one_moment_while_a_run_goes_on(record, doorway, clock):
    from simulator.record.backup import _rows, _snapshot
    from simulator.record.schema import events as events_table

    run, _ = play_some(record, doorway, clock, finish=False)
    with _snapshot(record.engine) as c:
        before = len(list(_rows(c, events_table)))
        run.handle(RaiseFlag(note="during the backup"))  # written by the run's connection
        assert len(list(_rows(c, events_table))) == before
    assert len(record.runs.events(run.state.run_id)) > before


@pytest.mark.postgres
def test_a_backup_from_a_server_in_another_time_zone_restores_into_sqlite(
        postgres_server, doorway, clock, tmp_path):
    from simulator.record.backup import backup, restore, staged

    url = postgres_server.create_database("t_backup_zone")
    source = Record.open(url + "?options=-c%20timezone%3DAmerica/New_York")
    run, _ = play_some(record=source, loaded=doorway, clock=clock)
    backup(source, tmp_path / "record.zip")
    (tmp_path / "scratch").mkdir()
    stage, counts = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    restored = restore(stage, target, counts)
    assert restored.runs_verified == 1 and verify_run(target, run.state.run_id).ok
    assert [e.utc for e in target.runs.events(run.state.run_id)] == [
        e.utc for e in source.runs.events(run.state.run_id)]
    for opened in (stage, target, source):
        opened.close()
