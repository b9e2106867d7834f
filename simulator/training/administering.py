"""An administrator's use cases: accounts, the access log, settings, erasure, backups.

Each goes through the `Gate`: the role is checked first, and what was changed is logged
once it is made (what was read, before it is shown). The first account of a record, an
administrator, is added by no one: there is no one to sign in yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from simulator.access import AccessEntry, AccessLog, Account, Accounts, Permission, Role
from simulator.access.privacy import Erasure, due_for_erasure, erase_trainee
from simulator.access.settings import AgencySettings, keep_settings, settings_of
from simulator.record import Record
from simulator.record.app_role import grant_application_role
from simulator.record.backup import BackedUp, Restored, Staged, backup, restore
from simulator.training.gate import Gate


class AccountChange(StrEnum):
    """What an administrator can do to an account (accounts are never deleted)."""

    disable = "disable"
    enable = "enable"
    unlock = "unlock"
    password = "password"  # noqa: S105 - the change's name, not a password


@dataclass(frozen=True)
class SettingsChange:
    """New settings for an agency; None leaves one as it is."""

    retention_days: int | None = None
    keep_forever: bool = False
    idle_minutes: int | None = None
    record_trainees: bool | None = None
    # An absolute folder for the agency's recordings; `default_store`: back to the data
    # folder's.
    recordings_store: str | None = None
    default_store: bool = False


class Administering:
    """The administrator's use cases, for the person at ``gate``."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._record = gate.record
        self._accounts = Accounts(gate.record)

    def add_account(self, name: str, role: Role, new_password: Callable[[], str], *,
                    display_name: str | None = None, agency: str | None = None) -> Account:
        """Add an account; ``new_password`` is asked once the account may be added.

        The first account of a record must be an administrator, and needs no sign-in.

        Raises:
            ValueError: the first account is not an administrator's, or the name,
                password or agency will not do.
        """
        if self._gate.guarded:
            self._gate.check(Permission.administer)
        elif role is not Role.administrator:
            raise ValueError("the first account must be an administrator (--role "
                             "administrator), who then adds the others")
        agency_id = self._record.agencies.ensure(agency) if agency else None
        added = self._accounts.add(name, role, new_password(), display_name=display_name,
                                   agency_id=agency_id)
        self._gate.done("account_added", added.username, {"role": role.value})
        return added

    def accounts(self) -> list[Account]:
        """Every account, with its role and whether it is locked or disabled (logged)."""
        self._gate.enter(Permission.administer, "accounts_list", "accounts")
        return self._accounts.all()

    def change_account(self, name: str, change: AccountChange,
                       new_password: Callable[[], str] | None = None) -> str:
        """Disable, enable or unlock an account, or set its password; its stored name.

        Raises:
            ValueError: no such account, the signed-in account disabling itself, the last
                administrator disabled, or a password that will not do.
        """
        self._gate.check(Permission.administer)
        # The account as it is stored: a name is one name in any case (`Lee` is `lee`).
        target = self._accounts.get(name)
        name = target.username if target is not None else name
        signed_in = self._gate.account
        if change is AccountChange.disable:
            if signed_in is not None and target is not None and target.id == signed_in.id:
                raise ValueError("you cannot disable the account you are signed in with")
            self._accounts.set_disabled(name, True)
        elif change is AccountChange.enable:
            self._accounts.set_disabled(name, False)
        elif change is AccountChange.unlock:
            self._accounts.unlock(name)
        else:
            assert new_password is not None, "a new password is asked for"
            self._accounts.set_password(name, new_password())
        self._gate.done(f"account_{change.value}", name)
        return name

    def access_log(self, *, since: datetime | None = None, user: str | None = None,
                   since_given: str | None = None) -> list[AccessEntry]:
        """The access log's lines from ``since`` (of one account, if given), oldest first.

        ``since_given``: the date as the person typed it, for this view's own line, which
        is written before the lines are returned but is not among them.
        """
        self._gate.check(Permission.administer)
        log = AccessLog(self._record)
        entries = log.entries(since=since, username=user)
        self._gate.enter(Permission.administer, "access_log_view", "access_log",
                         {"since": since_given, "user": user})
        return entries

    def settings(self, agency: str | None) -> AgencySettings:
        """The settings of ``agency`` (None: people and sessions of no agency).

        Raises:
            ValueError: the record has no agency of that name.
        """
        self._gate.check(Permission.administer)
        return settings_of(self._record, self._record.agencies.named(agency))

    def change_settings(self, agency: str | None, change: SettingsChange) -> AgencySettings:
        """Change the settings of ``agency``; the settings now.

        Raises:
            ValueError: the record has no agency of that name; both a retention period and
                keeping forever, or both a store and the default one, were asked for; or a
                store that is not an absolute folder this PC can make.
        """
        if change.keep_forever and change.retention_days is not None:
            raise ValueError("give --retention-days or --keep-forever, not both")
        if change.default_store and change.recordings_store is not None:
            raise ValueError("give --recordings-store or --default-recordings-store, not both")
        current = self.settings(agency)
        changed = AgencySettings(
            None if change.keep_forever else (change.retention_days or current.retention_days),
            change.idle_minutes or current.idle_minutes,
            current.record_trainees if change.record_trainees is None
            else change.record_trainees,
            None if change.default_store
            else (change.recordings_store or current.recordings_store))
        keep_settings(self._record, self._record.agencies.named(agency), changed)
        self._gate.done("settings_changed", agency or "(no agency)",
                        {"retention_days": changed.retention_days,
                         "idle_minutes": changed.idle_minutes,
                         "record_trainees": changed.record_trainees,
                         "recordings_store": changed.recordings_store})
        return changed

    def trainees_to_erase(self, trainee: str | None, agency: str | None = None
                          ) -> dict[str, str]:
        """Name (or "?") by person id of the trainees to erase: ``trainee``, else the expired.

        ``trainee`` is a name as the record holds it (within ``agency``) or a person id;
        None means every trainee whose agency's retention period has run out. Logged, by
        id, before the names are read: it is the erasure's dry run, and its first step.

        Raises:
            ValueError: no trainee, or several, of that name; no agency of that name.
        """
        self._gate.check(Permission.administer)
        people = (due_for_erasure(self._record) if trainee is None
                  else self._trainee(trainee, agency))
        self._gate.enter(Permission.administer, "erasure_preview", "record",
                         {"people": people, "expired": trainee is None, **self._gate.place})
        names = self._record.people.display_names(people)
        return {p: names.get(p, "?") for p in people}

    def _trainee(self, trainee: str, agency: str | None) -> list[str]:
        agency_id = self._record.agencies.named(agency)
        if self._record.people.kind(trainee) == "trainee":
            return [trainee]  # a person id, as the dry run and the access log show them
        found = self._record.people.named("trainee", trainee, agency_id=agency_id)
        if not found:
            raise ValueError(f"no trainee named `{trainee}`"
                              + (f" in {agency}" if agency else "") + " (already erased?)")
        if len(found) > 1:
            raise ValueError(f"{len(found)} trainees are named `{trainee}` "
                              f"({', '.join(found)}); give the id of the one to erase"
                              + ("" if agency else ", or --agency"))
        return found

    def erase(self, people: list[str], *, expired: bool,
              forget_elsewhere: bool = False) -> list[Erasure]:
        """Erase these trainees' personal data; their runs stay, pseudonymous, and verify.

        The recordings of their runs are deleted, files first (see
        ``simulator.access.privacy``); with ``forget_elsewhere``, those held on another
        PC, whose files are gone for good, are marked erased without deleting anything.
        What each erasure did, in order.

        Raises:
            RecordingNotDeleted: a recording's file could not be deleted, is held on
                another PC, or its run may be recording still; the trainees before it are
                erased, that one is not, and running it again goes on.
        """
        self._gate.check(Permission.administer)
        done = []
        for person_id in people:
            erased = erase_trainee(self._record, person_id, forget_elsewhere=forget_elsewhere)
            self._gate.done("erased", person_id,
                            {"cohorts": erased.cohorts, "notes": erased.notes,
                             "score_notes": erased.score_notes,
                             "recordings": erased.recordings,
                             "recordings_forgotten": erased.recordings_forgotten,
                             "expired": expired})
            done.append(erased)
        return done

    def backup(self, file: Path, *, include_recordings: bool = False) -> BackedUp:
        """Write the whole record to ``file`` (the recordings' files if asked); what it holds.

        An export of everything: logged before it is made, so the backup holds its own line.

        Raises:
            BackupError: with the recordings, one of their files is missing or changed.
        """
        self._gate.enter(Permission.administer, "backup", file.name,
                         {"recordings": include_recordings, **self._gate.place})
        return backup(self._record, file, include_recordings=include_recordings)

    def restore_into(self, target: Record, staged: Staged, file_name: str, *,
                     stores: Sequence[Path] = ()) -> Restored:
        """Restore the staged backup this gate is on into the empty record ``target``.

        The backed-up record's own administrators may restore it; the restore is logged in
        ``target``'s access log, which the restore carries over with the rest. Recording
        files go into this PC's data folder, or an agency store named in ``stores``.

        Raises:
            BackupError: the target is not empty, a recording's store was not named, or a
                hash chain does not verify.
        """
        self._gate.check(Permission.administer)
        restored = restore(self._record, target, staged, stores=stores)
        Gate(target, self._gate.account, self._gate.where).done(
            "restore", file_name, {"rows": sum(restored.rows.values()),
                                   "recordings": restored.recordings_included})
        return restored

    def grant_role(self, role: str) -> list[str]:
        """Give the PostgreSQL ``role`` what Branchpoint needs; the statements run.

        Raises:
            ValueError: the record has no roles (SQLite), or the name will not do.
            DatabaseFailed: the role does not exist, or the connection may not grant.
        """
        self._gate.check(Permission.administer)
        statements = grant_application_role(self._record, role)
        self._gate.done("role_granted", role, {"grants": len(statements)})
        return statements
