"""Who may do what: staff accounts and roles, and the log of who saw personal data."""

from simulator.access.accounts import Account, Accounts, SignInError
from simulator.access.log import AccessEntry, AccessLog, AccessLogUnwritable
from simulator.access.roles import AccessDenied, Permission, Role

__all__ = [
    "AccessDenied",
    "AccessEntry",
    "AccessLog",
    "AccessLogUnwritable",
    "Account",
    "Accounts",
    "Permission",
    "Role",
    "SignInError",
]
