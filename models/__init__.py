"""SQLAlchemy 2.0 tables, one aggregate per module; `Base.metadata` is what Alembic migrates."""

from models.account import Account, AccountAgent, Action, Application, CannedAnswer, Disposition, ProviderType
from models.audit import AuditRecord, FileRemoval
from models.base import Base
from models.contact import Contact, ContactList
from models.interaction import (
    MEDIA_TYPES,
    DeliveryStatus,
    Direction,
    Interaction,
    InteractionStatus,
    Message,
    MessageType,
    PendingStatus,
    WebhookNonce,
)
from models.interval import Interval
from models.queue import Queue, QueueAgent, Strategy
from models.routing import AgentSession, InteractionEvent, Offer, OfferKind, OfferStatus, QueueWait
from models.saved_search import SavedSearch
from models.user import Pause, Role, User, UserStatus

__all__ = [
    "MEDIA_TYPES",
    "Account",
    "AccountAgent",
    "Action",
    "AgentSession",
    "Application",
    "AuditRecord",
    "Base",
    "CannedAnswer",
    "Contact",
    "ContactList",
    "DeliveryStatus",
    "Direction",
    "Disposition",
    "FileRemoval",
    "Interaction",
    "InteractionEvent",
    "InteractionStatus",
    "Interval",
    "Message",
    "MessageType",
    "Offer",
    "OfferKind",
    "OfferStatus",
    "Pause",
    "PendingStatus",
    "ProviderType",
    "Queue",
    "QueueAgent",
    "QueueWait",
    "Role",
    "SavedSearch",
    "Strategy",
    "User",
    "UserStatus",
    "WebhookNonce",
]
