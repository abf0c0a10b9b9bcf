"""How an interaction is offered: the mechanics under the routing rules of workflows.interaction.

Three strategies, each until someone accepts, the deadline passes or the interaction closes:
`ring_all_until` (everyone eligible at once, adding whoever becomes eligible meanwhile: beepall
queues and `agent` steps), `one_at_a_time_for` (one agent at a time for a queue's per-agent timeout,
in the strategy's order, a new round once everyone eligible had a turn: rrmemory, leastrecent),
and `only_to` (one agent, eligible or not: the absent owner, a transfer's target). Pending offers
are withdrawn when a strategy ends.

The offers live in the workflow's state (they cross continue-as-new); what only the waiting needs
is here: `changes`, bumped by every handler that changes what a wait waits for, `agent_available`
(a dispatch wake-up arrived) and `claim` (an accept being recorded, whose outcome decides).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

from workflows.calls import QUICK, routing

with workflow.unsafe.imports_passed_through():
    from activities.offers import FindAgents, MakeOffers, OfferActivities, ResolveOffers
    from models import OfferKind, OfferStatus, Strategy

if TYPE_CHECKING:
    from workflows.interaction import InteractionState


@dataclass
class HeldOffer:
    offer_id: int
    agent_id: int
    expires_at: datetime
    queue_id: int | None = None
    # Offered as an eligible agent (queue or plan step): capacity is checked again at accept.
    # Not for offers made to one agent whatever its state (the owner, a transfer's target).
    eligible: bool = True


class Offering:
    def __init__(self, interaction_id: int, account_id: int, state: InteractionState) -> None:
        self._interaction_id = interaction_id
        self._account_id = account_id
        self._state = state
        self.changes = 0
        self.agent_available = False
        self.claim: int | None = None  # an agent whose accept is being recorded

    def changed(self) -> None:
        """What a wait waits for changed (an answer, a transfer, a close): it looks again."""
        self.changes += 1

    def live_offer(self, agent_id: int) -> HeldOffer | None:
        if self._state.owner_id is not None or self.claim is not None:
            return None
        now = workflow.now()
        return next((o for o in self._state.offers if o.agent_id == agent_id and o.expires_at > now), None)

    # Strategies -----------------------------------------------------------------------------------

    async def ring_all_until(
        self,
        deadline: datetime,
        *,
        kind: OfferKind,
        queue_id: int | None = None,
        agent_ids: list[int] | None = None,
    ) -> None:
        """Everyone eligible (of the queue, or of `agent_ids`) at once until `deadline`."""
        while self._unanswered(deadline):
            self.agent_available = False
            offered = [offer.agent_id for offer in self._state.offers]
            exclude = [*offered, *self._state.rejected_by]
            found = await self._eligible(queue_id, agent_ids, exclude, Strategy.beepall)
            if found:
                await self._offer(found, deadline, kind, queue_id)
            await self._wait_for_answer(deadline, until_no_offers=False)
        await self.withdraw(OfferStatus.rescinded)

    async def one_at_a_time_for(
        self, per_offer: timedelta, deadline: datetime, *, kind: OfferKind, queue_id: int, strategy: Strategy
    ) -> None:
        """One eligible agent of the queue at a time, each for `per_offer`, until `deadline`."""
        turns: list[int] = []
        while self._unanswered(deadline):
            self.agent_available = False
            offered = [offer.agent_id for offer in self._state.offers]
            found = await self._eligible(
                queue_id, None, [*offered, *self._state.rejected_by, *turns], strategy
            )
            if not found and turns:
                turns = []  # everyone had a turn: a new round
                found = await self._eligible(queue_id, None, [*offered, *self._state.rejected_by], strategy)
            if found:
                turns.append(found[0])
                await self._offer(found[:1], min(deadline, workflow.now() + per_offer), kind, queue_id)
            await self._wait_for_answer(deadline, until_no_offers=bool(found))
        await self.withdraw(OfferStatus.rescinded)

    async def only_to(self, agent_id: int, wait: timedelta, kind: OfferKind) -> None:
        """One agent, eligible or not, until it accepts, rejects or `wait` ends."""
        self._state.rejected_by = []
        deadline = workflow.now() + wait
        await self._offer([agent_id], deadline, kind, None, eligible=False)
        # Not once closed: a close while the offer was being made found nothing to withdraw, and
        # this loop spun without awaiting (a deadlocked workflow task, retried forever).
        while self._state.offers and self._unanswered(deadline):
            self.agent_available = False  # other agents' availability is no concern here
            await self._wait_for_answer(deadline, until_no_offers=True)
        await self.withdraw(OfferStatus.expired)

    # Ending offers --------------------------------------------------------------------------------

    async def withdraw(self, status: OfferStatus) -> None:
        """End the offers still held, unless someone owns the interaction (its accept ended them)."""
        if self._state.offers and self._state.owner_id is None:
            withdrawn, self._state.offers = self._state.offers, []
            await self.resolve(withdrawn, status)

    async def resolve(self, offers: list[HeldOffer], status: OfferStatus) -> None:
        await routing(
            OfferActivities.resolve_offers, ResolveOffers([o.offer_id for o in offers], status.value)
        )

    # Mechanics ------------------------------------------------------------------------------------

    def _unanswered(self, deadline: datetime) -> bool:
        return self._state.owner_id is None and workflow.now() < deadline and not self._state.closed

    async def _eligible(
        self, queue_id: int | None, agent_ids: list[int] | None, exclude: list[int], strategy: Strategy
    ) -> list[int]:
        found = await routing(
            OfferActivities.find_agents,
            FindAgents(self._account_id, queue_id, agent_ids, exclude, strategy.value),
        )
        return found.agent_ids

    async def _offer(
        self,
        agent_ids: list[int],
        expires_at: datetime,
        kind: OfferKind,
        queue_id: int | None,
        *,
        eligible: bool = True,
    ) -> None:
        made = await routing(
            OfferActivities.make_offers,
            MakeOffers(self._interaction_id, agent_ids, kind.value, expires_at, queue_id),
        )
        self._state.offers.extend(
            HeldOffer(o.offer_id, o.agent_id, o.expires_at, queue_id, eligible) for o in made.offers
        )

    def _changed_since(self, seen: int) -> Callable[[], bool]:
        return lambda: self.changes != seen

    async def _wait_for_answer(self, deadline: datetime, *, until_no_offers: bool) -> None:
        """Wait for an accept, the deadline, an agent becoming available, or (one-at-a-time)
        the current offer's end by reject or expiry. Expired offers are withdrawn."""
        while self._state.owner_id is None and not self._state.closed:
            if self.claim is not None:  # an accept is being recorded: its outcome decides
                with suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self.claim is None, timeout=QUICK)
                continue
            now = workflow.now()
            if now >= deadline or self.agent_available:
                return
            if until_no_offers and not self._state.offers:
                return
            wake_at = min([deadline, *(offer.expires_at for offer in self._state.offers)])
            with suppress(TimeoutError):
                await workflow.wait_condition(self._changed_since(self.changes), timeout=wake_at - now)
            if self.claim is not None:
                continue
            expired = [offer for offer in self._state.offers if offer.expires_at <= workflow.now()]
            if expired:
                self._state.offers = [offer for offer in self._state.offers if offer not in expired]
                await self.resolve(expired, OfferStatus.expired)
