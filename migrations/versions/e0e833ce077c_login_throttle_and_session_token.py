"""login throttle and session token

Failed logins are counted per login name and per client address in ``login_throttle``
(shared by every app server); ``app_user.session_token`` is carried by every session
cookie and replaced at logout. Existing accounts start without a token, so sessions
opened before this migration end and users log in once more.

Revision ID: e0e833ce077c
Revises: 31960b3452e7
Create Date: 2026-11-24 08:00:24.963529

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e0e833ce077c'
down_revision = '31960b3452e7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(), nullable=True),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttle')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_login_throttle_kind_key'))
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_token')

    op.drop_table('login_throttle')
