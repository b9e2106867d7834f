"""Signing in for one purpose, as the command line and the console both do."""

from __future__ import annotations

from simulator.access.accounts import Account, Accounts, SignInError
from simulator.access.log import AccessLog
from simulator.access.roles import AccessDenied, Permission


def sign_in_for(accounts: Accounts, log: AccessLog, username: str, password: str,
                permission: Permission, *, where: str) -> Account:
    """The account, signed in and allowed ``permission``.

    A refused sign-in (SignInError) or role (AccessDenied) is logged, then raised.
    """
    try:
        account = accounts.sign_in(username, password)
    except SignInError:
        log.refused_sign_in(accounts, username, where)
        raise
    try:
        account.require(permission)
    except AccessDenied:
        log.write(account, "refused", permission.name, {"role": account.role.value,
                                                        "at": where})
        raise
    return account
