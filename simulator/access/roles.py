"""Roles and what each may do.

Instructors run classes and debrief their own sessions. Coordinators review every session,
score, audit and export. Administrators keep the accounts, the retention periods and the
backups, and see no training data through Branchpoint: an agency can keep the person who
manages logins apart from the people who read performance. Trainees are recorded, never
signed in.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a staff account is."""

    instructor = "instructor"
    coordinator = "coordinator"
    administrator = "administrator"


class Permission(StrEnum):
    """Something a command or a console action needs."""

    run = "run a class"
    debrief = "review, score and export runs"
    coordinate = "read every session, the training records and the bias audit"
    administer = "manage accounts, retention and backups"
    verify = "verify the record's hash chains"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.run: frozenset({Role.instructor, Role.coordinator}),
    Permission.debrief: frozenset({Role.instructor, Role.coordinator}),
    Permission.coordinate: frozenset({Role.coordinator}),
    Permission.administer: frozenset({Role.administrator}),
    Permission.verify: frozenset(Role),
}


class AccessDenied(Exception):
    """A signed-in account asked for something its role does not allow."""
