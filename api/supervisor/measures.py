"""The measures of how interactions were answered, defined once: the export's columns, the live
view's service level and the reports all read them from here.

- **accepted_at**: the interaction's first `accepted` timeline event (an accept after a transfer
  does not move it): models.routing.first_accepted, which the search's wait time and the
  Prometheus wait and handle histograms (domain.metrics) read too.
- **wait** (speed of answer): accepted_at - started_at, in seconds; **ASA** is its average over
  the interactions accepted.
- **handle**: closed_at - accepted_at, in seconds; **AHT** is its average over the interactions
  accepted and closed.
- **within SLA**: accepted with a wait of at most the account's `service_level_seconds`.
- **abandoned**: closed and never accepted (the contact gave up, or the plan closed it).
- **SLA %**: 100 * within SLA / the interactions whose outcome is known: all of them but those
  still waiting inside the threshold (they may yet be accepted in time). Null when none is known.
- **missed offer**: an offer that expired unanswered (XCALLY's "not answered"); a rejected offer
  was answered (with no) and is counted apart.

Every measure is a SQLAlchemy expression evaluated by PostgreSQL, with its `now()`, so every API
process gives the same figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Float,
    Label,
    ScalarSelect,
    SQLColumnExpression,
    Subquery,
    and_,
    cast,
    func,
    select,
)

from models import Account, Interaction, InteractionStatus, OfferStatus
from models.routing import first_accepted

MISSED = OfferStatus.expired
OUTCOMES = tuple(OfferStatus)  # offers are counted by each of these statuses

Moment = SQLColumnExpression[Any]  # a timestamp column or expression


def accepted_at() -> ScalarSelect[datetime]:
    """When an agent first accepted the interaction (correlated to `Interaction`)."""
    return first_accepted(Interaction.id).scalar_subquery()


def seconds(start: Moment, end: Moment) -> ColumnElement[float]:
    """end - start in seconds (null when either is)."""
    return cast(func.extract("epoch", end - start), Float)


def wait_seconds(started: Moment, accepted: Moment) -> ColumnElement[float]:
    """How long the contact waited for an agent: accepted_at - started_at."""
    return seconds(started, accepted)


def handle_seconds(accepted: Moment, closed: Moment) -> ColumnElement[float]:
    """How long agents worked the interaction: closed_at - accepted_at."""
    return seconds(accepted, closed)


def interaction_facts(*where: ColumnElement[bool]) -> Subquery:
    """One row per interaction matching `where`: what the measures read (its times, accepted_at,
    its account's threshold) and what reports group by (account, queue, owner, UTC day)."""
    return (
        select(
            Interaction.id,
            Interaction.account_id,
            Interaction.queue_id,
            Interaction.owner_id,
            Interaction.status,
            Interaction.started_at,
            Interaction.closed_at,
            func.date(func.timezone("UTC", Interaction.started_at)).label("day"),
            accepted_at().label("accepted_at"),
            Account.service_level_seconds.label("threshold"),
        )
        .join(Account, Account.id == Interaction.account_id)
        .where(*where)
        .subquery("facts")
    )


class ServiceLevelOut(BaseModel):
    """How a set of interactions was answered: the definitions above, as the API shows them."""

    started: int = Field(description="interactions started")
    accepted: int = Field(description="of those, accepted by an agent")
    within_sla: int = Field(description="accepted within the account's service_level_seconds")
    sla_percent: float | None = Field(
        description="100 * within_sla / the interactions whose outcome is known (not those still "
        "waiting inside the threshold); null when none is"
    )
    abandoned: int = Field(description="closed without ever being accepted")
    asa_seconds: float | None = Field(description="average speed of answer: mean of accepted - started")
    aht_seconds: float | None = Field(description="average handle time: mean of closed - accepted")


def service_level(facts: Subquery) -> list[Label[Any]]:
    """The aggregates of the interactions in `facts`, named as `ServiceLevelOut`'s fields."""
    c = facts.c
    wait = wait_seconds(c.started_at, c.accepted_at)
    within = wait <= c.threshold
    abandoned = and_(c.status == InteractionStatus.closed, c.accepted_at.is_(None))
    pending = and_(
        c.status != InteractionStatus.closed,
        c.accepted_at.is_(None),
        seconds(c.started_at, func.now()) <= c.threshold,
    )
    known = func.count() - func.count().filter(pending)
    return [
        func.count().label("started"),
        func.count(c.accepted_at).label("accepted"),
        func.count().filter(within).label("within_sla"),
        (100.0 * func.count().filter(within) / func.nullif(known, 0)).label("sla_percent"),
        func.count().filter(abandoned).label("abandoned"),
        func.avg(wait).label("asa_seconds"),
        func.avg(handle_seconds(c.accepted_at, c.closed_at)).label("aht_seconds"),
    ]
