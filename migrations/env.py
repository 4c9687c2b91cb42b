import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# keep the application's own loggers working when migrations run inside it
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def render_item(type_, obj, autogen_context):
    """Choice columns are plain strings in the database (models.kernel.declare.ChoiceType)."""
    from models.kernel.declare import ChoiceType

    if type_ == "type" and isinstance(obj, ChoiceType):
        return "sa.String(length=32)"
    return False


def include_object(obj, name, type_, reflected, compare_to):
    """Full-text index objects live outside the models' metadata (models.kernel.search)."""
    from models.kernel.search import is_search_object

    return not is_search_object(name, type_)


def ensure_search_indexes(connection):
    """Restore search triggers a batch table copy dropped (models.kernel.search.ensure_index),
    and the audit trail's append-only triggers (models.kernel.audit.ensure_append_only) once
    the migration that chains the trail has run."""
    from sqlalchemy import inspect

    from models.kernel.audit import ensure_append_only
    from models.kernel.search import ensure_indexes

    ensure_indexes(connection)
    inspector = inspect(connection)
    if "audit_log" in inspector.get_table_names() and "row_hash" in {
            c["name"] for c in inspector.get_columns("audit_log")}:
        ensure_append_only(connection)


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True,
        render_item=render_item, render_as_batch=True, include_object=include_object,
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("render_as_batch", True)  # SQLite alters tables by copying them
    conf_args.setdefault("include_object", include_object)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # batch mode copies a table to alter it; SQLite refuses to drop the old
            # copy while other rows reference it unless FK checks are off (outside any
            # transaction, hence the driver connection)
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()
            if not getattr(config.cmd_opts, 'autogenerate', False):
                ensure_search_indexes(connection)
        if sqlite:
            connection.commit()
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
            if problems:
                raise RuntimeError(f"migration left rows pointing nowhere: {problems[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
