"""Every activity gives the same result when it runs twice: an attempt that committed but whose
completion was lost (worker crash, start-to-close timeout, deploy) is retried by Temporal, and
the retry must neither fail nor write a second time.

Each activity is run twice with the same activity info (run id and activity id), as Temporal
retries it, against the real database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.common import ProviderAccess
from activities.messages import MessageActivities, QueueMessage
from activities.offers import Assign, MakeOffers, OfferActivities
from activities.ownership import CloseInteraction, OwnershipActivities, ReturnToOwner
from activities.plan_facts import PlanActivities, RecordEvent
from activities.queue_waits import QueueEntry, QueueWaitActivities
from providers import api_bases
from tests.helpers import db
from tests.support.floor import inbound, make_floor, the_interaction


def rows(settings, query, *params):
    with db(settings) as conn:
        return conn.execute(query, params).fetchall()


async def test_every_routing_write_is_the_same_when_its_activity_runs_twice(
    api, client, admin, fakes, settings, app, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"].id, floor.agents["bob"].id
    queue = floor.queue["id"]
    await inbound(client, floor, "SM1")  # stored; no relay runs here, so no workflow either
    interaction = (await the_interaction(client, admin))["id"]
    services = app.state.services
    offer_activities, waits = (
        OfferActivities(services.sessionmaker),
        QueueWaitActivities(services.sessionmaker),
    )
    plan = PlanActivities(services.sessionmaker)
    ownership = OwnershipActivities(services.sessionmaker, temporal_env.client)
    access = ProviderAccess(services.sessionmaker, services.http, api_bases(settings), services.secrets)
    messages = MessageActivities(access)
    environment = ActivityEnvironment()

    async def twice(activity, request, activity_id):
        environment.info = replace(
            ActivityEnvironment.default_info(), activity_id=activity_id, workflow_run_id="run-1"
        )
        first = await environment.run(activity, request)
        second = await environment.run(activity, request)
        assert first == second, activity
        return first

    expires = datetime.now(UTC) + timedelta(minutes=5)
    offers = await twice(
        offer_activities.make_offers, MakeOffers(interaction, [ann, bob], "queue", expires, queue), "1"
    )
    assert rows(settings, "SELECT agent_id, status FROM offers ORDER BY agent_id") == [
        (ann, "pending"), (bob, "pending")
    ]  # fmt: skip

    await twice(waits.enter_queue, QueueEntry(interaction, queue, "wf"), "2")
    assert rows(settings, "SELECT count(*) FROM queue_waits") == [(1,)]

    await twice(plan.record_event, RecordEvent(interaction, "noop", {"step": 1}), "3")
    assert rows(settings, "SELECT count(*) FROM interaction_events WHERE kind = 'noop'") == [(1,)]

    offer = next(offer for offer in offers.offers if offer.agent_id == ann)
    assignment = await twice(
        offer_activities.assign, Assign(interaction, ann, offer.offer_id, queue, check_capacity=True), "4"
    )
    assert assignment.assigned
    assert rows(settings, "SELECT agent_id, status FROM offers ORDER BY agent_id") == [
        (ann, "accepted"), (bob, "rescinded")
    ]  # fmt: skip
    assert rows(settings, "SELECT count(*) FROM interaction_events WHERE kind = 'accepted'") == [(1,)]
    assert rows(settings, "SELECT owner_id, status FROM interactions") == [(ann, "open")]

    await twice(ownership.return_to_owner, ReturnToOwner(interaction, ann), "5")
    assert rows(settings, "SELECT count(*) FROM interaction_events WHERE kind = 'transfer_returned'") == [
        (1,)
    ]

    queued = await twice(
        messages.queue_message, QueueMessage(interaction, "Thanks for writing", "autoreply"), "6"
    )
    assert rows(settings, "SELECT id, status FROM messages WHERE direction = 'out'") == [(queued, "queued")]

    await twice(ownership.close_interaction, CloseInteraction(interaction, None, ann), "7")
    assert rows(settings, "SELECT count(*) FROM interaction_events WHERE kind = 'closed'") == [(1,)]


async def test_an_offer_to_an_agent_deleted_meanwhile_is_skipped(
    api, client, admin, fakes, settings, app, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    await inbound(client, floor, "SM1")
    interaction = (await the_interaction(client, admin))["id"]
    assert (await client.delete(f"/api/users/{floor.agents['bob'].id}", headers=admin)).status_code == 204
    offers = OfferActivities(app.state.services.sessionmaker)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    request = MakeOffers(
        interaction, [floor.agents["ann"].id, floor.agents["bob"].id], "transfer_agent", expires
    )
    made = await ActivityEnvironment().run(offers.make_offers, request)
    assert [offer.agent_id for offer in made.offers] == [floor.agents["ann"].id]
