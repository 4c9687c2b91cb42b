"""communities unique per street, estates per community

Two streets of one district may each have a community of the same name, and two
communities may each have an estate of the same name: a name is unique only
within its street (communities) or its community (estates).

Revision ID: a953ddcd8c50
Revises: ab573d967c28
Create Date: 2026-11-24 06:44:23.906285

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a953ddcd8c50'
down_revision = 'ab573d967c28'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_community_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_community_street_id_name'), ['street_id', 'name'])

    with op.batch_alter_table('estate', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_estate_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_estate_community_id_name'), ['community_id', 'name'])


def downgrade():
    # fails, as it should, once two streets hold a community (or two communities an
    # estate) of the same name: the old global uniqueness cannot be restored then
    with op.batch_alter_table('estate', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_estate_community_id_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_estate_name'), ['name'])

    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_community_street_id_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_community_name'), ['name'])
