"""Prometheus metrics of the contact center (the API's HTTP metrics are in api.metrics).

Each process counts what it did, Prometheus adds the processes up: workers end offers, send and
observe waits and handle times (served on SHARELINE_WORKER_METRICS_PORT); API processes time the
webhooks they store, end the offers of interactions they delete, and read the interactions
waiting per queue from the database when scraped (`GET /metrics`).

Counted once a write commits (`models.db.after_commit`): a transaction that rolls back, and the activity
retry that redoes it, count once. Every label comes from a bounded set: an offer's outcome, a
provider's name, a send's outcome, a queue's name as the admin wrote it; never an id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series: noise to a scrape
REGISTRY = CollectorRegistry()

# Seconds: from moments to an hour, for a wait for an agent and for the work on a conversation.
DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

OFFERS = Counter(
    "shareline_offers_total",
    "Offers ended, by outcome (accepted, rejected, expired, rescinded)",
    ["outcome"],
    registry=REGISTRY,
)
SENDS = Counter(
    "shareline_sends_total",
    "Outbound send attempts by provider and outcome: sent (the provider took it), failed (it "
    "refused it for good), retried (a retryable error), unknown (no answer in time), gave_up "
    "(retried until the policy ended)",
    ["provider", "outcome"],
    registry=REGISTRY,
)
WAIT = Histogram(
    "shareline_wait_seconds",
    "How long contacts waited for an agent: start of the interaction to its first accept",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
HANDLE = Histogram(
    "shareline_handle_seconds",
    "How long agents worked an interaction: its first accept to its close",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
WEBHOOKS = Histogram(
    "shareline_webhook_seconds",
    "Webhooks stored, by provider: from the request's arrival to the stored answer",
    ["provider"],
    registry=REGISTRY,
)
WAITING = Gauge(
    "shareline_interactions_waiting",
    "Interactions waiting for an agent now, by queue ('(agent)': waiting for one named agent)",
    ["queue"],
    registry=REGISTRY,
)
