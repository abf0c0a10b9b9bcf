"""SHARELINE_TEMPORAL_CONTACT_HASH: Temporal's visibility holds a keyed hash of the contact's
mobile, never the number, and `python -m stack.find_contact` still finds the contact's workflows.

Against the real Temporal dev server: the time-skipping test server cannot list workflows."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from stack.find_contact import main, query_for
from tests.helpers import wait_for
from tests.workflows.test_durability import dev_server  # noqa: F401 (a fixture)
from workflows import ids
from workflows.ids import search_attributes
from workflows.interaction import InteractionInput, InteractionWorkflow

MOBILE = "393331234567"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"temporal_contact_hash": True})


async def test_share_contact_is_a_keyed_hash_the_tooling_finds(settings, dev_server, capsys, monkeypatch):  # noqa: F811
    temporal = await Client.connect(dev_server)
    # What the inbound relay passes when it starts an interaction's workflow.
    contact = ids.contact_value(MOBILE, settings.temporal_contact_key)
    handle = await temporal.start_workflow(
        InteractionWorkflow.run,
        InteractionInput(interaction_id=1, account_id=1, contact_id=1),
        id=f"wa-1-1-{uuid.uuid4().hex[:8]}",
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",  # no worker: only its search attributes matter
        search_attributes=search_attributes("ACC1", contact, "open_pending"),
    )
    attributes = {pair.key.name: pair.value for pair in (await handle.describe()).typed_search_attributes}
    assert attributes["ShareContact"] == contact
    assert len(contact) == 64 and MOBILE not in contact
    assert contact != ids.contact_value(MOBILE, settings.purpose_key("another use"))  # keyed

    query = query_for(settings, "+39 333 123 4567")
    assert query == f'ShareContact = "{contact}"'

    async def listed():
        return [execution.id async for execution in temporal.list_workflows(query)]

    assert await wait_for(listed, seconds=20) == [handle.id]

    # The command prints the same query, with the deploy's settings taken from the environment.
    monkeypatch.setenv("SHARELINE_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("SHARELINE_TEMPORAL_CONTACT_HASH", "true")
    monkeypatch.setenv("SHARELINE_DATA_DIR", str(settings.data_dir))
    assert main(["0039 333 1234567"]) == 0
    assert capsys.readouterr().out.strip() == query
