"""Account names told apart as people read them; always an enabled administrator left.

`username_key` holds each account's name in NFKC, case-folded (`Chief`, `ＣＨＩＥＦ` ->
`chief`), under a unique index: Branchpoint signs in by it and refuses a second account
under it. Older records may already hold two names that differ only by case. The upgrade
must not fail on them, since an agency could then not open its record at all to fix them,
nor strand either account: the older keeps the name in every case, and the later one keeps
no key (NULL, which a unique index allows any number of times) and signs in only as it is
spelled, as before. A name whose folded form would not fit is left the same way.

The database refuses an UPDATE (a disable, a change of role) that would leave no enabled
administrator where there was one, so two administrators disabling each other at the same
moment cannot lock everyone out of managing the accounts. On SQLite one transaction writes
at a time, and the trigger reads the accounts under that write lock. On PostgreSQL, under
READ COMMITTED, each of two concurrent updates would still see the other administrator as
enabled; so a statement-level trigger first takes a transaction-scoped advisory lock, before
the statement locks any row (taking it later, with each transaction holding its own row,
would deadlock), and the row-level check then reads the committed state with FOR SHARE on
the other administrators, which also makes a REPEATABLE READ transaction fail with a
serialisation error rather than pass on an old snapshot.

SQLite's REPLACE conflict resolution deletes a row that conflicts on any unique key without
firing DELETE triggers, so the refusal of 0005 now covers `username_key` too, and a second
trigger refuses the same on UPDATE OR REPLACE (renaming an account onto another's name would
otherwise delete that account, the last administrator included). A record that lacks
0005's refusal (the trace of a tampering, which the open names) is upgraded without it:
failing on it would leave the record unopenable even to be read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

KEY_LENGTH = 256
# Any constant, the same for every Branchpoint: the lock two administrator changes queue on.
ADMINISTRATORS_LOCK = 4_207_007
REFUSED = "accounts keep an enabled administrator"
REPLACE_0005 = ("CREATE TRIGGER accounts_refuse_replace BEFORE INSERT ON accounts "
                "WHEN EXISTS (SELECT 1 FROM accounts WHERE {same}) "
                "BEGIN SELECT RAISE(ABORT, 'accounts are never deleted: REPLACE refused'); END")


def canonical_name(username: str) -> str:
    """simulator.access.accounts.canonical_name as of this revision (a migration keeps its
    own copy, so that a later change there does not change what this upgrade did)."""
    typed = unicodedata.normalize("NFKC", username).strip()
    return unicodedata.normalize("NFKC", typed.casefold())


def upgrade() -> None:
    # In place on SQLite: a batch copy would drop and recreate the table and its triggers.
    op.add_column('accounts', sa.Column('username_key', sa.String(length=KEY_LENGTH),
                                        nullable=True))
    bind = op.get_bind()
    accounts = sa.table('accounts', sa.column('id'), sa.column('username'),
                        sa.column('username_key'), sa.column('created_utc'))
    held: set[str] = set()
    for account_id, username in bind.execute(
            sa.select(accounts.c.id, accounts.c.username)
            .order_by(accounts.c.created_utc, accounts.c.id)).all():
        key = canonical_name(username)
        if key in held or len(key) > KEY_LENGTH:
            continue
        held.add(key)
        bind.execute(sa.update(accounts).where(accounts.c.id == account_id)
                     .values(username_key=key))
    op.create_index(op.f('ix_accounts_username_key'), 'accounts', ['username_key'],
                    unique=True)
    if bind.dialect.name == "postgresql":
        _keep_an_administrator_postgresql()
    else:
        _keep_an_administrator_sqlite()


def _keep_an_administrator_sqlite() -> None:
    if op.get_bind().execute(sa.text(
            "SELECT 1 FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'accounts_refuse_replace'")).first() is not None:
        op.execute("DROP TRIGGER accounts_refuse_replace")
        op.execute(REPLACE_0005.format(same="(id = NEW.id) OR (username = NEW.username) "
                                            "OR (username_key = NEW.username_key)"))
    op.execute("""
        CREATE TRIGGER accounts_refuse_replace_on_update
        BEFORE UPDATE OF id, username, username_key ON accounts
        WHEN EXISTS (SELECT 1 FROM accounts WHERE rowid <> OLD.rowid
                     AND (id = NEW.id OR username = NEW.username
                          OR username_key = NEW.username_key))
        BEGIN SELECT RAISE(ABORT, 'accounts are never deleted: REPLACE refused'); END""")
    op.execute(f"""
        CREATE TRIGGER accounts_keep_an_administrator BEFORE UPDATE OF disabled, role
        ON accounts
        WHEN OLD.role = 'administrator' AND NOT OLD.disabled
            AND (NEW.role IS NOT 'administrator' OR NEW.disabled)
            AND NOT EXISTS (SELECT 1 FROM accounts WHERE role = 'administrator'
                            AND NOT disabled AND id <> OLD.id)
        BEGIN SELECT RAISE(ABORT, '{REFUSED}: UPDATE refused'); END""")


def _keep_an_administrator_postgresql() -> None:
    op.execute(f"""
        CREATE FUNCTION branchpoint_queue_administrator_changes() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({ADMINISTRATORS_LOCK});
            RETURN NULL;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION branchpoint_keep_an_administrator() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.role = 'administrator' AND NOT OLD.disabled
                    AND (NEW.role IS DISTINCT FROM 'administrator' OR NEW.disabled) THEN
                PERFORM 1 FROM accounts WHERE role = 'administrator' AND NOT disabled
                    AND id <> OLD.id FOR SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION '{REFUSED}: % is the last one, UPDATE refused',
                        OLD.username USING ERRCODE = 'check_violation';
                END IF;
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER accounts_queue_administrator_changes "
               "BEFORE UPDATE OF disabled, role ON accounts FOR EACH STATEMENT "
               "EXECUTE FUNCTION branchpoint_queue_administrator_changes()")
    op.execute("CREATE TRIGGER accounts_keep_an_administrator "
               "BEFORE UPDATE OF disabled, role ON accounts FOR EACH ROW "
               "EXECUTE FUNCTION branchpoint_keep_an_administrator()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER accounts_keep_an_administrator ON accounts")
        op.execute("DROP TRIGGER accounts_queue_administrator_changes ON accounts")
        op.execute("DROP FUNCTION branchpoint_keep_an_administrator()")
        op.execute("DROP FUNCTION branchpoint_queue_administrator_changes()")
    else:
        op.execute("DROP TRIGGER accounts_keep_an_administrator")
        op.execute("DROP TRIGGER accounts_refuse_replace_on_update")
        op.execute("DROP TRIGGER IF EXISTS accounts_refuse_replace")
        op.execute(REPLACE_0005.format(same="(id = NEW.id) OR (username = NEW.username)"))
    op.drop_index(op.f('ix_accounts_username_key'), table_name='accounts')
    # In place on SQLite too (3.35 and later), as 0006 drops its column.
    op.drop_column('accounts', 'username_key')
