"""login throttle counts refused attempts

Attempts refused while a login name or address is locked (or while its limit's worth
of attempts are still being checked) are counted in ``login_throttle.refused`` instead of
each writing an audit row; the next attempt after the lock reports the number once.

Revision ID: db7edb28488f
Revises: e0e833ce077c
Create Date: 2026-12-04 23:18:08.291849

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'db7edb28488f'
down_revision = 'e0e833ce077c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_column('refused')
