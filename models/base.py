from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are stable so that API errors can name the field a violated constraint guards.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-side values (ids, timestamps) with RETURNING, so nothing lazy-loads after a flush.
    __mapper_args__ = {"eager_defaults": True}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


def enum_column(enum: type[StrEnum]) -> Enum:
    """A VARCHAR column holding the enum's values (what the API shows), checked by the database."""
    return Enum(
        enum,
        name=enum.__name__.lower(),
        native_enum=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        create_constraint=True,
        validate_strings=True,
    )
