"""The database handle and the columns every row carries: the session, local time,
optimistic locking and timestamps."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from sqlalchemy import DateTime, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Constraint names that say which columns they guard: the engine turns a violated
# constraint back into the Chinese label of its column.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# The table of the accounts people log in with. The kernel's own tables (the audit trail,
# import jobs) say who did what by a key into it; the domain declares the model.
ACCOUNT_TABLE = "app_user"


def now() -> datetime:
    """Local wall-clock time, naive: the office, its clocks and its users are all in
    China Standard Time, and SQLite has no time zones."""
    return datetime.now(LOCAL_TZ).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AppSession(_FlaskSession):
    """Flask-SQLAlchemy's session, except that an explicitly bound connection wins.

    The test suite binds every session to one connection inside an outer transaction
    (rolled back after each test); Flask-SQLAlchemy would otherwise route around it.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": AppSession})


class Versioned:
    """Optimistic locking: every UPDATE says which version it read (``WHERE version = ?``)
    and moves it on, so of two edits made from the same reading the second is refused
    instead of silently overwriting the first. Forms carry the version they showed
    (views.engine), so a form left open while someone else saved is refused too."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1",
                                         info={"internal": True})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}


class TimestampMixin(Versioned):
    created_at: Mapped[datetime] = mapped_column(
        DateTime, default=now, info={"label": "创建时间"})
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=now, onupdate=now, info={"label": "更新时间"})
