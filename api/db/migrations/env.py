"""Alembic's environment: runs on the connection `api.db.migrations` hands it.

No alembic.ini and no URL here: the service, `python -m api.data migrate` and the tests
all go through `api.db.migrations.upgrade_schema`, which takes the lock first.
"""

from __future__ import annotations

from alembic import context

from api.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
