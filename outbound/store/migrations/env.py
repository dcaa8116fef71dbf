"""Alembic environment: runs on the connection handed over by outbound.store.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `outbound db upgrade`, which passes a connection")
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
