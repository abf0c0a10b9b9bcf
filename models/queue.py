from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, enum_column


class Strategy(StrEnum):
    beepall = "beepall"
    rrmemory = "rrmemory"
    leastrecent = "leastrecent"


class Queue(Base, Timestamps):
    __tablename__ = "queues"
    __table_args__ = (
        CheckConstraint("weight BETWEEN 0 AND 10", name="weight"),
        CheckConstraint("timeout BETWEEN 1 AND 2147483", name="timeout"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    strategy: Mapped[Strategy] = mapped_column(enum_column(Strategy), default=Strategy.beepall)
    timeout: Mapped[int] = mapped_column(default=10)
    weight: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(1000), default="")
    # `rrmemory` starts after the agent last engaged from this queue.
    last_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QueueAgent(Base):
    __tablename__ = "queue_agents"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
