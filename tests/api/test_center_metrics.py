"""The contact center's Prometheus metrics (domain.metrics) through a real interaction: webhooks
timed per provider, the queue's waiting gauge, offers by outcome, the wait and handle
histograms and sends per provider, each moving by exactly what happened."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import wait_for
from tests.support.floor import accept, first_message_to_queue, go_online, make_floor, offered

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def samples(client) -> Samples:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(seen: Samples, name: str, **labels: str) -> float:
    return seen.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_one_interaction_moves_each_metric_by_what_happened(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    queue = floor.queue["name"]
    before = await samples(client)
    interaction = await first_message_to_queue(client, admin, floor, queue_seconds=600)

    async def waiting() -> Samples:
        seen = await samples(client)
        return seen if value(seen, "shareline_interactions_waiting", queue=queue) == 1 else {}

    during = await wait_for(waiting)
    webhooks = "shareline_webhook_seconds_count"
    assert value(during, webhooks, provider="twilio") == value(before, webhooks, provider="twilio") + 1

    await go_online(client, ann, bob)
    await offered(temporal_env, interaction, {ann.id, bob.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    reply = await client.post(f"{path}/messages", json={"text": "Ciao"}, headers=ann.headers)
    assert reply.status_code in (200, 201, 202), reply.text

    async def sent() -> bool:
        messages = (await client.get(f"{path}/messages", headers=admin)).json()["rows"]
        return bool(messages[-1]["status"] == "sent")

    await wait_for(sent)
    assert (await client.post(f"{path}/close", json={}, headers=ann.headers)).status_code == 200
    await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).result()

    after = await samples(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "shareline_interactions_waiting", queue=queue) == 0
    assert moved("shareline_offers_total", outcome="accepted") == 1
    assert moved("shareline_offers_total", outcome="rescinded") == 1  # bob's, taken by ann
    assert moved("shareline_offers_total", outcome="expired") == 0
    assert moved("shareline_wait_seconds_count") == 1
    assert moved("shareline_handle_seconds_count") == 1
    assert moved("shareline_sends_total", provider="twilio", outcome="sent") == 1
    assert moved("shareline_sends_total", provider="twilio", outcome="failed") == 0
    labels = {label for (name, pairs) in after if name.startswith("shareline_") for label, _ in pairs}
    assert labels <= {"method", "route", "status", "outcome", "provider", "queue", "le"}
