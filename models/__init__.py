"""SQLAlchemy 2.0 tables, one aggregate per module; `Base.metadata` is what Alembic migrates."""

from models.account import Account, AccountAgent, Action, Application, CannedAnswer, Disposition, ProviderType
from models.base import Base
from models.contact import Contact, ContactList
from models.interval import Interval
from models.queue import Queue, QueueAgent, Strategy
from models.user import Pause, Role, User, UserStatus

__all__ = [
    "Account",
    "AccountAgent",
    "Action",
    "Application",
    "Base",
    "CannedAnswer",
    "Contact",
    "ContactList",
    "Disposition",
    "Interval",
    "Pause",
    "ProviderType",
    "Queue",
    "QueueAgent",
    "Role",
    "Strategy",
    "User",
    "UserStatus",
]
