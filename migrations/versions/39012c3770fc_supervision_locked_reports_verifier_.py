"""supervision: locked reports, verifier links, rate codes

* indicator.rate_code becomes a choice of the rates models/rates.py computes; a code
  that names no rate (it never had a value) and a code on a measured indicator are cleared.
* inspection.returned_reason: why the street sent a report back (退回修改).
* rectification.verifier_member_id / verifier_staff_id: the inspector who verified;
  existing verifier names are linked where they name a member of the estate's group
  or a staff member of its community's supervision group, and kept as text either way.

Revision ID: 39012c3770fc
Revises: a953ddcd8c50
Create Date: 2026-11-24 06:48:01.446816

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '39012c3770fc'
down_revision = 'a953ddcd8c50'
branch_labels = None
depends_on = None


RATE_CODES = ('repair_timely', 'repair_callback', 'complaint_handled', 'complaint_rate', 'fee_collection')


def upgrade():
    codes = ", ".join(f"'{c}'" for c in RATE_CODES)
    op.execute(f"UPDATE indicator SET rate_code = NULL WHERE rate_code NOT IN ({codes}) OR source = 'measured'")
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.alter_column('rate_code',
               existing_type=sa.VARCHAR(length=40),
               type_=sa.String(length=32),
               existing_nullable=True)

    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verifier_member_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('verifier_staff_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_rectification_verifier_member_id'), ['verifier_member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_verifier_staff_id'), ['verifier_staff_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rectification_verifier_member_id_four_in_one_member'), 'four_in_one_member', ['verifier_member_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_rectification_verifier_staff_id_staff_member'), 'staff_member', ['verifier_staff_id'], ['id'], ondelete='SET NULL')

    op.execute("""
        UPDATE rectification SET verifier_member_id = (
            SELECT m.id FROM four_in_one_member m JOIN four_in_one_group g ON g.id = m.group_id
            WHERE g.estate_id = rectification.estate_id AND m.name = rectification.verifier
            ORDER BY m.id LIMIT 1)
        WHERE verifier IS NOT NULL""")
    op.execute("""
        UPDATE rectification SET verifier_staff_id = (
            SELECT s.id FROM staff_member s JOIN org_unit u ON u.id = s.unit_id
            JOIN estate e ON e.community_id = u.community_id
            WHERE e.id = rectification.estate_id AND u.kind = 'supervision_group'
              AND s.name = rectification.verifier
            ORDER BY s.id LIMIT 1)
        WHERE verifier IS NOT NULL AND verifier_member_id IS NULL""")


def downgrade():
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rectification_verifier_staff_id_staff_member'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_rectification_verifier_member_id_four_in_one_member'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rectification_verifier_staff_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_verifier_member_id'))
        batch_op.drop_column('verifier_staff_id')
        batch_op.drop_column('verifier_member_id')

    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('returned_reason')

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.alter_column('rate_code',
               existing_type=sa.String(length=32),
               type_=sa.VARCHAR(length=40),
               existing_nullable=True)
