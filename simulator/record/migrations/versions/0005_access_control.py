"""Access control: accounts, the access log, agency settings, and append-only enforcement.

The database itself refuses to change or remove what must not change: events and the access
log take INSERT only, accounts are never deleted. On SQLite by triggers; on PostgreSQL by
triggers too, for every role including the tables' owner, and for TRUNCATE as well (which
row triggers do not see). Only the owner can drop a trigger, which is why the application
should connect as a role that owns nothing (docs/security.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Table -> the operations refused on it.
GUARDED = {"events": ("UPDATE", "DELETE"), "access_log": ("UPDATE", "DELETE"),
           "accounts": ("DELETE",)}
# SQLite's INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers, so
# an insert onto an existing key (any unique one) of these tables is refused as well.
KEYS = {"events": [("run_id", "seq")], "access_log": [("id",)],
        "accounts": [("id",), ("username",)]}
RULE = {"events": "is append-only", "access_log": "is append-only",
        "accounts": "are never deleted"}


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('agency_id', sa.String(length=36), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_utc', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_accounts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_accounts_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_accounts_username'))
    )
    op.create_table('access_log',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_utc'), ['utc'], unique=False)
    op.create_table('agency_settings',
    sa.Column('agency_key', sa.String(length=36), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=True),
    sa.Column('idle_minutes', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('agency_key', name=op.f('pk_agency_settings'))
    )
    if op.get_bind().dialect.name == "postgresql":
        _guard_postgresql()
    else:
        _guard_sqlite()


def _guard_sqlite() -> None:
    for table, operations in GUARDED.items():
        for operation in operations:
            op.execute(
                f"CREATE TRIGGER {table}_refuse_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} {RULE[table]}: {operation} refused'); END")
    for table, keys in KEYS.items():
        same = " OR ".join("(" + " AND ".join(f"{column} = NEW.{column}" for column in key) + ")"
                           for key in keys)
        op.execute(
            f"CREATE TRIGGER {table}_refuse_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {same}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} {RULE[table]}: REPLACE refused'); END")


def _guard_postgresql() -> None:
    op.execute("""
        CREATE FUNCTION branchpoint_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% %: % refused', TG_TABLE_NAME, TG_ARGV[0], TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    for table, operations in GUARDED.items():
        op.execute(f"CREATE TRIGGER {table}_refuse_change BEFORE {' OR '.join(operations)} "
                   f"ON {table} FOR EACH ROW "
                   f"EXECUTE FUNCTION branchpoint_refuse_change('{RULE[table]}')")
        op.execute(f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION branchpoint_refuse_change('{RULE[table]}')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {table}_refuse_change ON {table}")
            op.execute(f"DROP TRIGGER {table}_refuse_truncate ON {table}")
        op.execute("DROP FUNCTION branchpoint_refuse_change()")
    else:
        for table, operations in GUARDED.items():
            for operation in operations:
                op.execute(f"DROP TRIGGER {table}_refuse_{operation.lower()}")
        for table in KEYS:
            op.execute(f"DROP TRIGGER {table}_refuse_replace")
    op.drop_table('agency_settings')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_utc'))
    op.drop_table('access_log')
    op.drop_table('accounts')
