"""``branchpoint accounts``, ``access-log``, ``settings``, ``erase``, ``backup``, ``restore``.

An administrator's commands. The first account of a record, an administrator, is added
without signing in; everything after that needs an administrator's sign-in.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simulator.access import Permission, Role
from simulator.access.accounts import check_password
from simulator.access.privacy import RecordingNotDeleted
from simulator.cli.common import (
    DbOption,
    err,
    fail,
    gate_for,
    names_or_exit,
    open_gate,
    open_record,
    out_console,
    said_no,
    shown,
)
from simulator.cli.review import SinceOption, moment
from simulator.paths import recordings_dir
from simulator.record import DatabaseFailed
from simulator.record.backup import BackupError, scratch_folder, staged
from simulator.training import COMMAND_LINE, AccountChange, Administering, Gate, SettingsChange

accounts_app = typer.Typer(help="Staff accounts: instructors, coordinators, administrators.",
                           no_args_is_help=True)

NEW_PASSWORD_ENV = "BRANCHPOINT_NEW_PASSWORD"  # noqa: S105 - the variable's name
NameArgument = Annotated[str, typer.Argument(help="The account's user name.")]


def _new_password() -> str:
    """A new password from BRANCHPOINT_NEW_PASSWORD, or typed twice at a hidden prompt."""
    password = os.environ.get(NEW_PASSWORD_ENV) or typer.prompt(
        "new password (12 characters or more)", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except ValueError as exc:
        fail(str(exc))
    return password


@accounts_app.command("add")
def add(
    name: NameArgument,
    role: Annotated[Role, typer.Option("--role", help="What the account may do.")],
    display_name: Annotated[str | None, typer.Option(
        "--display-name", help="For an instructor: the name their sessions show (default: "
        "the user name).")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="The account's agency.")]
    = None,
    db: DbOption = None,
) -> None:
    """Add an account; the password comes from BRANCHPOINT_NEW_PASSWORD or a prompt.

    The first account of a record must be an administrator, and needs no sign-in.
    """
    names_or_exit("--display-name", display_name)
    names_or_exit("--agency", agency)
    gate = Gate(open_record(db), None, COMMAND_LINE)
    if gate.guarded:
        gate = gate_for(gate.record, Permission.administer)
    with said_no():
        added = Administering(gate).add_account(name, role, _new_password,
                                                display_name=display_name, agency=agency)
    err.print(f"added {shown(added.username)} ({role.value})")


@accounts_app.command("list")
def list_accounts(db: DbOption = None) -> None:
    """Every account, its role, and whether it is locked or disabled."""
    accounts = Administering(open_gate(db, Permission.administer)).accounts()
    table = Table(title="Accounts")
    for column in ("user", "role", "state"):
        table.add_column(column)
    now = datetime.now(UTC)
    for a in accounts:
        locked = a.locked_until is not None and a.locked_until > now
        state = "disabled" if a.disabled else (
            f"locked until {a.locked_until:%H:%M} UTC" if locked else "active")
        table.add_row(shown(a.username), a.role.value, state)
    out_console().print(table)


def _change(db: str | None, name: str, change: AccountChange, what: str) -> None:
    administering = Administering(open_gate(db, Permission.administer))
    with said_no():
        name = administering.change_account(name, change, _new_password)
    err.print(f"{shown(name)}: {what}")


@accounts_app.command("disable")
def disable(name: NameArgument, db: DbOption = None) -> None:
    """Stop an account from signing in (accounts are never deleted: the log names them)."""
    _change(db, name, AccountChange.disable, "disabled")


@accounts_app.command("enable")
def enable(name: NameArgument, db: DbOption = None) -> None:
    """Let a disabled account sign in again."""
    _change(db, name, AccountChange.enable, "enabled")


@accounts_app.command("unlock")
def unlock(name: NameArgument, db: DbOption = None) -> None:
    """Lift a lockout after repeated wrong passwords."""
    _change(db, name, AccountChange.unlock, "unlocked")


@accounts_app.command("password")
def password(name: NameArgument, db: DbOption = None) -> None:
    """Set a new password (from BRANCHPOINT_NEW_PASSWORD or a prompt)."""
    _change(db, name, AccountChange.password, "password changed")


def access_log(
    since: SinceOption = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this account.")] = None,
    db: DbOption = None,
) -> None:
    """Who viewed or exported personal data, signed in, or changed an account, and when."""
    administering = Administering(open_gate(db, Permission.administer))
    entries = administering.access_log(since=moment(since, "--since"), user=user,
                                       since_given=since)
    table = Table(title=f"Access log: {len(entries)} entries")
    for column in ("when (UTC)", "user", "action", "target", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for e in entries:
        table.add_row(f"{e.utc:%Y-%m-%d %H:%M:%S}", shown(e.username), shown(e.action),
                      shown(e.target), shown(", ".join(f"{k}={v}" for k, v in e.detail.items()
                                                       if v is not None)))
    out_console().print(table)


def settings(
    agency: Annotated[str | None, typer.Option(
        "--agency", help="The agency (default: people and sessions of no agency).")] = None,
    retention_days: Annotated[int | None, typer.Option(
        "--retention-days", min=1, help="Erase a trainee's personal data this many days "
        "after their last session (`branchpoint erase --expired`).")] = None,
    keep_forever: Annotated[bool, typer.Option(
        "--keep-forever", help="No retention period.")] = False,
    idle_minutes: Annotated[int | None, typer.Option(
        "--idle-minutes", min=1, max=240, help="Sign the console out after this many idle "
        "minutes (never during a live run; default 10).")] = None,
    record_trainees: Annotated[bool | None, typer.Option(
        "--record-trainees/--no-record-trainees", help="Allow the agency's classes to "
        "record the trainee with the room camera and microphone (off until allowed).")]
    = None,
    recordings_store: Annotated[str | None, typer.Option(
        "--recordings-store", help="Keep the recordings in this absolute folder (the "
        "agency's storage) instead of the data folder's `recordings`.")] = None,
    default_recordings_store: Annotated[bool, typer.Option(
        "--default-recordings-store", help="Keep new recordings in the data folder "
        "again.")] = False,
    db: DbOption = None,
) -> None:
    """Show an agency's settings, or change them."""
    administering = Administering(open_gate(db, Permission.administer))
    change = SettingsChange(retention_days, keep_forever, idle_minutes, record_trainees,
                            recordings_store, default_recordings_store)
    with said_no():
        if change != SettingsChange():
            current = administering.change_settings(agency, change)
        else:
            current = administering.settings(agency)
    store = current.recordings_store or str(recordings_dir())
    err.print(f"{shown(agency or 'no agency')}: personal data "
              + (f"kept {current.retention_days} days after a trainee's last session"
                 if current.retention_days else "kept until erased")
              + f"; the console signs out after {current.idle_seconds / 60:g} idle minutes"
              + ("; trainees may be recorded, into " + shown(store)
                 if current.may_record_trainees else "; trainees are not recorded"))


def erase(
    trainee: Annotated[str | None, typer.Argument(
        help="The trainee's name as the record holds it, or their id.")] = None,
    expired: Annotated[bool, typer.Option(
        "--expired", help="Every trainee whose agency's retention period has run out.")]
    = False,
    agency: Annotated[str | None, typer.Option("--agency", help="The trainee's agency.")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do it (without it, only say what would "
                                      "be erased).")] = False,
    forget_recordings_elsewhere: Annotated[bool, typer.Option(
        "--forget-recordings-elsewhere", help="Mark erased, deleting nothing, recordings "
        "held in another PC's data folder whose files are gone for good (that PC wiped or "
        "scrapped); otherwise run the erasure on that PC.")] = False,
    db: DbOption = None,
) -> None:
    """Erase a trainee's personal data; their runs stay, pseudonymous, and still verify."""
    if (trainee is None) == (not expired):
        fail("name one trainee, or give --expired")
    administering = Administering(open_gate(db, Permission.administer))
    with said_no():
        names = administering.trainees_to_erase(None if expired else trainee, agency)
    who = ", ".join(f"{name} ({p})" for p, name in names.items()) or "nobody"
    if not yes:
        err.print(f"would erase the personal data of {len(names)} trainee(s): "
                  f"{shown(who)}; add --yes")
        return
    try:
        with said_no():
            erased = administering.erase(list(names), expired=expired,
                                         forget_elsewhere=forget_recordings_elsewhere)
    except RecordingNotDeleted as exc:
        fail(str(exc))
    forgotten = sum(e.recordings_forgotten for e in erased)
    err.print(f"erased the personal data of {len(names)} trainee(s), and the recordings of "
              "their runs; their runs remain, pseudonymous, and `branchpoint verify` still "
              "passes"
              + (f"; {forgotten} recording(s) held on another PC were marked erased without "
                 "deleting anything (--forget-recordings-elsewhere): if any file of them "
                 "turns up, delete it by hand" if forgotten else ""))


def backup_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The backup file to write "
                                         "(.zip).")],
    include_recordings: Annotated[bool, typer.Option(
        "--include-recordings", help="Put the trainee recordings' files in it too (large; "
        "without them it still holds their hashes).")] = False,
    db: DbOption = None,
) -> None:
    """Write the whole record to one file (it holds everything: keep it as safe)."""
    if file.exists():
        fail(f"{file} exists; choose a new file name, so no backup is overwritten")
    administering = Administering(open_gate(db, Permission.administer))
    try:
        made = administering.backup(file, include_recordings=include_recordings)
    except BackupError as exc:
        fail(str(exc))
    recordings = (f"with {made.recording_files} recording files "
                  f"({made.recording_bytes / 1e6:.1f} MB)" if made.recordings_included
                  else "without the recordings' files (--include-recordings adds them)")
    if made.recordings_elsewhere:
        recordings += (f"; {made.recordings_elsewhere} recordings are held on other PCs, "
                       "whose files are not in it (back them up there)")
    err.print(f"backed up {made.rows.get('runs', 0)} runs, {made.rows.get('events', 0)} "
              f"events to {shown(str(file))}, {recordings}")


def restore_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="A backup written by `branchpoint backup`.")],
    recordings_store: Annotated[list[Path] | None, typer.Option(
        "--recordings-store", help="An agency store (absolute folder) the backup's "
        "recordings may be put back into; repeat it for several. Without it, recording "
        "files go only into this PC's data folder.")] = None,
    db: DbOption = None,
) -> None:
    """Restore a backup into an empty record, verifying every hash chain first.

    Sign in as an administrator of the backed-up record (BRANCHPOINT_USER and
    BRANCHPOINT_PASSWORD, or a prompt).
    """
    with scratch_folder() as scratch:
        try:
            stage, checked = staged(file, Path(scratch))
        except BackupError as exc:
            fail(str(exc))
        try:
            # The backed-up record's own administrators may restore it; the sign-in is
            # logged in its access log, which the restore carries over.
            administering = Administering(gate_for(stage, Permission.administer))
            target = open_record(db)
            try:
                restored = administering.restore_into(target, checked, file.name,
                                                      stores=recordings_store or ())
            except BackupError as exc:
                fail(str(exc))
        finally:
            stage.close()
    recordings = (f"{restored.recording_files} recording files put back" if
                  restored.recordings_included else
                  "the backup holds no recording files: "
                  f"{restored.recordings_not_held} recordings are not held here")
    err.print(f"restored {restored.rows.get('runs', 0)} runs and "
              f"{restored.rows.get('events', 0)} events into {shown(target.url)}; "
              f"{restored.runs_verified} hash chains verified before and after; "
              f"{recordings}")


def grant_role(
    role: Annotated[str, typer.Argument(help="The PostgreSQL role Branchpoint connects as.")],
    db: DbOption = None,
) -> None:
    """Give a PostgreSQL role what Branchpoint needs: it may add events, never change them.

    Run it connected as the tables' owner (--db with the owner's user), after creating the
    role; then connect everything else as that role (docs/security.md).
    """
    administering = Administering(open_gate(db, Permission.administer))
    try:
        with said_no():
            administering.grant_role(role)
    except DatabaseFailed as exc:
        fail(f"cannot grant to {role!r}: {exc.orig}; create the role first, and connect as "
             "the tables' owner")
    err.print(f"{shown(role)} may now read the record, add events and access-log lines, and "
              "change nothing it should not")
