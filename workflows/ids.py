"""Names shared by the API, the worker and operators: task queue, workflow ids, search attributes."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# Search attributes an operator filters on in the Temporal UI, e.g. `ShareAccountKey = "SUP1"`.
ACCOUNT_KEY = SearchAttributeKey.for_keyword("ShareAccountKey")
CONTACT = SearchAttributeKey.for_keyword("ShareContact")
AGENT = SearchAttributeKey.for_keyword("ShareAgent")
STATUS = SearchAttributeKey.for_keyword("ShareStatus")

SEARCH_ATTRIBUTES = (ACCOUNT_KEY, CONTACT, AGENT, STATUS)
