"""Saved searches: a user's named interactions-list queries (filters, `conditions`, sort), as
Chatwoot's custom filters. Each is its owner's alone; deleting the user deletes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps


class SavedSearch(Base, Timestamps):
    __tablename__ = "saved_searches"
    __table_args__ = (
        Index("uq_saved_searches_user_name_lower", "user_id", text("lower(name)"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # The list's query parameters as `InteractionFilters` dumps them (JSON mode, defaults left out).
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
