"""audit trail append-only and hash-chained

Every entry of ``audit_log`` gets the hash of the entry before it and its own
(``models.kernel.audit.chain_hash``); existing entries are chained here, from the first, so
``flask audit verify`` passes on an upgraded database. Triggers then refuse UPDATE,
DELETE (and on PostgreSQL TRUNCATE) of the trail. ``user_id`` loses ON DELETE SET NULL:
deleting an account would have rewritten its entries; an account that has acted is
deactivated instead (``User.clean_delete``).

Revision ID: ad3973cf587b
Revises: db7edb28488f
Create Date: 2026-12-04 23:23:23.527900

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ad3973cf587b'
down_revision = 'db7edb28488f'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))

    chain_existing(op.get_bind())

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_audit_log_user_id_app_user'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_audit_log_user_id_app_user'), 'app_user', ['user_id'], ['id'])

    from models.kernel.audit import ensure_append_only

    ensure_append_only(op.get_bind())


def chain_existing(connection):
    """Hash the entries already there, in id order, with the form verification uses."""
    from models.kernel.audit import GENESIS, chain_hash

    trail = sa.table('audit_log', sa.column('id', sa.Integer), sa.column('at', sa.DateTime),
                     sa.column('user_id', sa.Integer), sa.column('actor', sa.String),
                     sa.column('action', sa.String), sa.column('model', sa.String),
                     sa.column('row_id', sa.String), sa.column('row_label', sa.String),
                     sa.column('changes', sa.JSON), sa.column('note', sa.Text),
                     sa.column('prev_hash', sa.String), sa.column('row_hash', sa.String))
    update = trail.update().where(trail.c.id == sa.bindparam('key')).values(
        prev_hash=sa.bindparam('prev'), row_hash=sa.bindparam('hash'))
    prev, after = GENESIS, 0
    while True:
        rows = connection.execute(sa.select(trail).where(trail.c.id > after)
                                  .order_by(trail.c.id).limit(BATCH)).mappings().all()
        if not rows:
            return
        hashed = []
        for row in rows:
            own = chain_hash(prev, row)
            hashed.append({'key': row['id'], 'prev': prev, 'hash': own})
            prev = own
        connection.execute(update, hashed)
        after = rows[-1]['id']


def downgrade():
    from models.kernel.audit import drop_append_only

    drop_append_only(op.get_bind())
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_log_user_id_app_user'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_audit_log_user_id_app_user'), 'app_user', ['user_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
