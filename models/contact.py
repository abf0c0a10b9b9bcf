from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps
from models.search import trigrams


class ContactList(Base, Timestamps):
    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")


# "first last", as the list's `q` searches it (both columns are NOT NULL), spelled as PostgreSQL
# shows the index's expression (the migrations test compares the two).
FULL_NAME = "(first_name::text || ' '::text) || last_name::text"


class Contact(Base, Timestamps):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("list_id", "mobile", name="uq_contacts_list_mobile"),
        # The interactions list's `q` (api.interactions.service), name and mobile contain
        Index("ix_contacts_name_trigrams", trigrams(text(FULL_NAME)), postgresql_using="gin"),
        Index("ix_contacts_mobile_trigrams", trigrams(text("mobile")), postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
