"""Names shared by the API, the worker and operators: task queue, workflow ids, search attributes."""

from __future__ import annotations

import hashlib
import hmac

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

# Search attributes an operator filters on in the Temporal UI, e.g. `ShareAccountKey = "SUP1"`.
ACCOUNT_KEY = SearchAttributeKey.for_keyword("ShareAccountKey")
CONTACT = SearchAttributeKey.for_keyword("ShareContact")
AGENT = SearchAttributeKey.for_keyword("ShareAgent")
STATUS = SearchAttributeKey.for_keyword("ShareStatus")

SEARCH_ATTRIBUTES = (ACCOUNT_KEY, CONTACT, AGENT, STATUS)


def contact_value(mobile: str, key: bytes | None) -> str:
    """What ShareContact holds for a contact: its mobile, or with a key (Settings.temporal_contact_key,
    SHARELINE_TEMPORAL_CONTACT_HASH) the mobile's HMAC-SHA256, so Temporal never sees the number.
    Computed by whoever starts the workflow, outside the workflow sandbox."""
    if key is None:
        return mobile
    return hmac.new(key, mobile.encode(), hashlib.sha256).hexdigest()


def contact_query(mobile: str, key: bytes | None) -> str:
    """The Temporal visibility query that finds a contact's interaction workflows."""
    return f'{CONTACT.name} = "{contact_value(mobile, key)}"'


# Signals that are sent with signal-with-start need their name as a string; handlers use the same.
MESSAGE_RECEIVED = "message_received"
AGENT_AVAILABLE = "agent_available"


def interaction_workflow_id(account_id: int, contact_id: int, interaction_id: int) -> str:
    """One workflow per interaction, named by account and contact so an operator can find it."""
    return f"wa-{account_id}-{contact_id}-{interaction_id}"


def search_attributes(account_key: str, contact: str, status: str) -> TypedSearchAttributes:
    """The search attributes a new interaction workflow starts with. `contact` is ShareContact's
    value, `ids.contact_value(mobile, settings.temporal_contact_key)`: the mobile, or its keyed
    hash when SHARELINE_TEMPORAL_CONTACT_HASH is on (hashed by the caller, outside the sandbox)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ACCOUNT_KEY, account_key),
            SearchAttributePair(CONTACT, contact),
            SearchAttributePair(STATUS, status),
        ]
    )
