"""One interaction (a contact's conversation on an account) as one Temporal workflow.

Inbound messages arrive by signal-with-start from the inbound relay (duplicates dropped by message
id); messages that reach it while it closes move on to the contact's next interaction.
While the interaction has no owner, each new message runs the account's action plan from the
top (workflows.plan: interval checks, `agent` and `queue` offers with their timers, autoreplies,
tags, jumps and close). An owned interaction's new messages go to its owner, or, if the owner is
away, to the owner again for a while, then to the owner's queue, then to the plan. A transfer
offers it to its target for the transfer timeout and returns it to its owner if nobody accepts.
Offers are answered by the `accept` and `reject` updates: the validator refuses an offer
that is not the caller's or has expired, and the handler claims the interaction before its
first await, so of two agents accepting at once exactly one owns it.

Outbound messages (agent replies, video links) are stored by the API and handed over by the
`send` update into the outbox, which a task of this workflow sends in order, one at a time, beside
routing: a slow or failing provider never holds up offers. The outbox is state, so it survives a
worker crash and moves across continue-as-new.

All waiting is durable timers in this workflow; all I/O is in activities (activities.offers,
queue_waits, plan_facts, ownership, messages, media), called as workflows.calls says. How offers
are made and answered is workflows.offering.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import ids
from workflows.background import Background, store_media
from workflows.calls import QUICK, record, routing
from workflows.offering import HeldOffer, Offering
from workflows.plan import ActionPlan
from workflows.signals import AgentAvailable, MessageArrived

with workflow.unsafe.imports_passed_through():
    from activities.offers import Assign, OfferActivities
    from activities.ownership import (
        CloseInteraction,
        MoveOn,
        NotifyOwner,
        OwnerCheck,
        OwnershipActivities,
        Release,
        ReturnToOwner,
    )
    from activities.plan_facts import LoadPlan, Plan, PlanActivities
    from models import OfferKind, OfferStatus

# Remember this many recent message ids to drop duplicate signals (retried webhooks).
SEEN_WINDOW = 500
IDLE_CHECK = timedelta(hours=1)
# Patch ids (workflow.patched): each names a change to the commands the workflow emits.
LATE_MESSAGES_MOVE_ON = "messages-after-close-go-to-the-next-interaction"
MEDIA_BESIDE_ROUTING = "media-stored-beside-routing"
ACCEPT_CLAIMS_UNTIL_ASSIGNED = "accept-claims-until-assigned"
TRANSFER_VOID_IF_OWNER_CHANGED = "transfer-void-if-the-owner-changed"
ROUTING_RETRY_AFTER = timedelta(minutes=1)  # routing that failed is tried again after this


@dataclass
class TransferRequest:
    actor_id: int
    agent_id: int | None = None
    queue_id: int | None = None
    timeout: int = 10  # the account's transfer timeout for this kind of target
    staff: bool = False
    from_owner: int | None = None  # the owner when the transfer was accepted (set by the workflow)


@dataclass
class InteractionState:
    """Everything the workflow carries across continue-as-new."""

    seen_message_ids: list[int] = field(default_factory=list)
    pending: list[MessageArrived] = field(default_factory=list)
    messages_handled: int = 0
    owner_id: int | None = None
    offers: list[HeldOffer] = field(default_factory=list)
    rejected_by: list[int] = field(default_factory=list)  # during the current routing
    autoreplied_steps: list[int] = field(default_factory=list)
    transfer: TransferRequest | None = None
    closed: bool = False
    outbox: list[int] = field(default_factory=list)  # stored outbound messages, sent in this order
    media: list[int] = field(default_factory=list)  # inbound messages whose media is to be stored


@dataclass
class Outgoing:
    """A stored, queued outbound message for the workflow to send (after those before it)."""

    message_id: int


@dataclass
class InteractionInput:
    interaction_id: int
    account_id: int
    contact_id: int
    state: InteractionState | None = None


@dataclass
class InteractionResult:
    interaction_id: int
    messages_handled: int


@dataclass
class InteractionSummary:
    """What an operator (or a test) can ask a running interaction without changing it."""

    messages_handled: int
    messages_pending: int
    owner_id: int | None
    offered_to: list[int]


@dataclass
class OfferAnswer:
    agent_id: int


@dataclass
class CloseRequest:
    actor_id: int
    disposition_id: int | None = None
    staff: bool = False  # supervisors and admins may close what they do not own


@dataclass
class Accepted:
    interaction_id: int
    agent_id: int


@workflow.defn
class InteractionWorkflow:
    @workflow.init
    def __init__(self, start: InteractionInput) -> None:
        self._start = start
        self._state = start.state or InteractionState()
        self._offering = Offering(start.interaction_id, start.account_id, self._state)
        self._background = Background(self._state.outbox, self._state.media)
        self._plan = ActionPlan(
            start.interaction_id, self._state, self._offering, self._background, self._close
        )
        self._checking_owner = False  # new messages: is the owner still there? (no transfer now)
        self._failed: list[int] | None = None  # messages whose routing failed, to be routed again

    # Handlers -------------------------------------------------------------------------------------

    @workflow.signal(name=ids.MESSAGE_RECEIVED)
    def message_received(self, arrived: MessageArrived) -> None:
        if arrived.message_id in self._state.seen_message_ids:
            return
        self._state.seen_message_ids = [*self._state.seen_message_ids, arrived.message_id][-SEEN_WINDOW:]
        self._state.pending.append(arrived)

    @workflow.signal(name=ids.AGENT_AVAILABLE)
    def agent_available(self, available: AgentAvailable) -> None:
        """An agent who may serve this interaction became eligible: look for agents again now."""
        self._offering.agent_available = True
        self._offering.changed()

    @workflow.query
    def summary(self) -> InteractionSummary:
        return InteractionSummary(
            messages_handled=self._state.messages_handled,
            messages_pending=len(self._state.pending),
            owner_id=self._state.owner_id,
            offered_to=[offer.agent_id for offer in self._state.offers],
        )

    @workflow.update
    async def accept(self, answer: OfferAnswer) -> Accepted:
        offer = self._offering.live_offer(answer.agent_id)
        if offer is None:  # a concurrent accept passed the validator first
            raise ApplicationError("the offer is no longer yours", type="OfferGone", non_retryable=True)
        if not workflow.patched(ACCEPT_CLAIMS_UNTIL_ASSIGNED):
            self._state.owner_id = answer.agent_id  # claimed before the first await
            self._state.offers = []
            self._offering.changed()
            await routing(
                OfferActivities.assign,
                Assign(self._start.interaction_id, answer.agent_id, offer.offer_id, offer.queue_id),
            )
        else:
            await self._assign(offer)
        workflow.upsert_search_attributes(
            [ids.AGENT.value_set(str(answer.agent_id)), ids.STATUS.value_set("open")]
        )
        return Accepted(self._start.interaction_id, answer.agent_id)

    async def _assign(self, offer: HeldOffer) -> None:
        """Claimed before the first await (a concurrent accept is refused, routing waits for the
        outcome); the owner only once the database agrees: the agent may have reached its
        capacity through another interaction meanwhile, and then the offer passes on."""
        self._offering.claim = offer.agent_id
        try:
            assignment = await routing(
                OfferActivities.assign,
                Assign(
                    self._start.interaction_id,
                    offer.agent_id,
                    offer.offer_id,
                    offer.queue_id,
                    check_capacity=offer.eligible,
                ),
            )
        finally:
            self._offering.claim = None
            self._offering.changed()
        if not assignment.assigned:
            self._state.offers = [held for held in self._state.offers if held is not offer]
            self._state.rejected_by.append(offer.agent_id)
            raise ApplicationError(assignment.reason, type="NotAssigned", non_retryable=True)
        self._state.owner_id = offer.agent_id
        self._state.offers = []

    @accept.validator
    def _validate_accept(self, answer: OfferAnswer) -> None:
        if self._offering.live_offer(answer.agent_id) is None:
            raise ValueError("there is no live offer of this interaction for you")

    @workflow.update
    async def reject(self, answer: OfferAnswer) -> None:
        offer = self._offering.live_offer(answer.agent_id)
        if offer is None:
            raise ApplicationError("the offer is no longer yours", type="OfferGone", non_retryable=True)
        self._state.offers = [held for held in self._state.offers if held is not offer]
        self._state.rejected_by.append(answer.agent_id)
        self._offering.changed()
        await self._offering.resolve([offer], OfferStatus.rejected)

    @reject.validator
    def _validate_reject(self, answer: OfferAnswer) -> None:
        self._validate_accept(answer)

    @workflow.update
    async def close(self, request: CloseRequest) -> None:
        await self._close(request.disposition_id, request.actor_id)

    @close.validator
    def _validate_close(self, request: CloseRequest) -> None:
        if self._state.closed:
            raise ValueError("the interaction is closed already")
        if not request.staff and self._state.owner_id != request.actor_id:
            raise ValueError("only the agent who owns the interaction may close it")

    @workflow.update
    def transfer(self, request: TransferRequest) -> None:
        """Recorded here and run by the main loop: the caller gets its answer at once."""
        request.from_owner = self._state.owner_id
        self._state.transfer = request
        self._offering.changed()

    @workflow.update
    def send(self, outgoing: Outgoing) -> None:
        """Take a stored message into the outbox; the answer comes before the provider call."""
        # Always appended: a message handed over again (an agent's retry racing the end of the
        # failed attempt, or a hand-over whose answer was lost) is sent at most once by the
        # activity, which skips a message that is sent or failed.
        self._state.outbox.append(outgoing.message_id)
        self._background.start_sender()

    @send.validator
    def _validate_send(self, outgoing: Outgoing) -> None:
        if self._state.closed:
            raise ValueError("the interaction is closed")

    @transfer.validator
    def _validate_transfer(self, request: TransferRequest) -> None:
        if self._state.closed:
            raise ValueError("the interaction is closed")
        if self._state.owner_id is None or self._state.transfer is not None or self._checking_owner:
            raise ValueError(
                "only an owned interaction that is not being transferred already can be transferred"
            )
        if not request.staff and self._state.owner_id != request.actor_id:
            raise ValueError("only the agent who owns the interaction may transfer it")
        if request.agent_id == self._state.owner_id:
            raise ValueError("the interaction is yours already")

    # Main loop ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: InteractionInput) -> InteractionResult:
        if self._state.outbox:  # carried over continue-as-new
            self._background.start_sender()
        if self._state.media:
            self._background.start_media()
        while not self._state.closed:
            with suppress(TimeoutError):  # nothing arrived for a while: a chance to continue-as-new
                await workflow.wait_condition(
                    lambda: (
                        bool(self._state.pending)
                        or self._state.closed
                        or self._state.transfer is not None
                        or (self._failed is not None and self._offering.agent_available)
                    ),
                    timeout=IDLE_CHECK if self._failed is None else ROUTING_RETRY_AFTER,
                )
            if self._state.closed and self._state.pending and workflow.patched(LATE_MESSAGES_MOVE_ON):
                break  # closed while they arrived: they go to the contact's next interaction
            arrived_now = [*(self._failed or []), *(arrived.message_id for arrived in self._state.pending)]
            self._failed = None
            while self._state.pending:
                arrived = self._state.pending.pop(0)
                if arrived.has_media:
                    if workflow.patched(MEDIA_BESIDE_ROUTING):
                        self._state.media.append(arrived.message_id)
                        self._background.start_media()
                    else:
                        await store_media(arrived.message_id)
                self._state.messages_handled += 1
            owner = self._state.owner_id
            try:
                await self._route(arrived_now)
            except ActivityError as error:
                self._failed = arrived_now
                await self._routing_failed(error, owner)
            if (
                workflow.info().is_continue_as_new_suggested()
                and not self._state.closed
                and self._failed is None
            ):
                # Only the send in flight is awaited; the rest of the outbox moves to the next run,
                # and so does the media (a download in flight starts again there: it may take long,
                # and storing is idempotent). (No timeout: a timer here would change the commands
                # of runs recorded before.)
                self._background.handing_over = True
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._background.sender_busy()
                )
                if not self._state.closed:
                    workflow.continue_as_new(
                        InteractionInput(
                            start.interaction_id, start.account_id, start.contact_id, self._state
                        )
                    )
                self._background.handing_over = False
                self._background.start_sender()
                self._background.start_media()
        # A closed interaction's last replies still go out before the workflow completes; messages
        # that arrived while it closed move on to the contact's next interaction.
        while True:
            await workflow.wait_condition(
                lambda: (
                    workflow.all_handlers_finished()
                    and not self._state.outbox
                    and not self._background.sender_busy()
                    and not self._background.media_busy()
                )
            )
            if not self._state.pending or not workflow.patched(LATE_MESSAGES_MOVE_ON):
                break
            late, self._state.pending = [arrived.message_id for arrived in self._state.pending], []
            await workflow.execute_activity_method(
                OwnershipActivities.move_on, MoveOn(start.interaction_id, late), start_to_close_timeout=QUICK
            )
        return InteractionResult(start.interaction_id, self._state.messages_handled)

    async def _route(self, arrived_now: list[int]) -> None:
        if self._state.transfer is not None and not self._state.closed:
            await self._run_transfer(self._state.transfer)
        if arrived_now and not self._state.closed:
            if self._state.owner_id is None:
                await self._plan.run(await self._load_plan())
            else:
                await self._reach_owner(self._state.owner_id, arrived_now)

    async def _routing_failed(self, error: ActivityError, owner: int | None) -> None:
        """An activity ran out of retries (the database away for minutes): said loudly, in the
        worker's log and the timeline. The interaction is as it was before this routing began (its
        owner back; offers it made are withdrawn as they expire), and routing runs again after
        ROUTING_RETRY_AFTER, as soon as an agent becomes available, or with the next message."""
        self._state.owner_id = owner
        self._state.transfer = None
        reason = str(error.cause or error)
        workflow.logger.error("routing of interaction %s failed: %s", self._start.interaction_id, reason)
        with suppress(ActivityError):
            await self._record("routing_error", {"reason": reason[:500]})

    # The owner, transfers and closing -------------------------------------------------------------

    async def _load_plan(self) -> Plan:
        return await routing(PlanActivities.load_plan, LoadPlan(self._start.account_id))

    async def _reach_owner(self, owner: int, message_ids: list[int]) -> None:
        """New messages for an owned interaction. A present owner is told; an absent one (offline,
        paused, or tab closed) has `wait_assigned_agent` seconds to accept it back, then the owner's
        queue has `wait_assigned_queue` seconds, then the action plan runs."""
        self._checking_owner = True  # a transfer now would race the owner's return
        try:
            status = await routing(
                OwnershipActivities.owner_status, OwnerCheck(self._start.interaction_id, owner)
            )
            plan = None if status.present else await self._load_plan()
            if plan is not None:
                self._state.owner_id = None  # it must be accepted again
        finally:
            self._checking_owner = False
        if plan is not None:
            wait = timedelta(seconds=plan.wait_assigned_agent)
            await self._offering.only_to(owner, wait, OfferKind.assigned_agent)
            if self._state.owner_id is None:
                await routing(OwnershipActivities.release, Release(self._start.interaction_id))
                if status.queue_id is not None:
                    wait = timedelta(seconds=plan.wait_assigned_queue)
                    await self._plan.queue_step(status.queue_id, wait, OfferKind.assigned_queue)
                if self._state.owner_id is None and not self._state.closed:
                    await self._plan.run(plan)
                return
        await routing(
            OwnershipActivities.notify_owner, NotifyOwner(self._start.interaction_id, owner, message_ids)
        )

    async def _run_transfer(self, request: TransferRequest) -> None:
        """Offer to the target agent or queue for the transfer timeout; if nobody accepts, the
        interaction returns to the agent who transferred it, marked unread."""
        self._state.transfer = None
        previous = self._state.owner_id
        changed = request.from_owner is not None and previous != request.from_owner
        if previous is None or (changed and workflow.patched(TRANSFER_VOID_IF_OWNER_CHANGED)):
            # The owner changed since the transfer was asked (an absent owner's check took it away,
            # or another agent took it back): the transfer is void.
            await self._record("transfer_void", {"from": request.from_owner, "owner_id": previous})
            return
        self._state.owner_id = None
        target: dict[str, object] = {
            "from": previous,
            "agent_id": request.agent_id,
            "queue_id": request.queue_id,
        }
        await self._record("transfer", target, actor_id=request.actor_id)  # staff may transfer too
        wait = timedelta(seconds=request.timeout)
        if request.agent_id is not None:
            await self._offering.only_to(request.agent_id, wait, OfferKind.transfer_agent)
        elif request.queue_id is not None:
            self._state.rejected_by = [previous]  # the queue is asked for someone else
            await self._plan.queue_step(request.queue_id, wait, OfferKind.transfer_queue)
        if self._state.owner_id is None and not self._state.closed:
            self._state.owner_id = previous
            await routing(
                OwnershipActivities.return_to_owner, ReturnToOwner(self._start.interaction_id, previous)
            )

    async def _close(self, disposition_id: int | None, actor_id: int | None = None) -> None:
        """Closed: offers withdrawn, out of any queue. The mandatory disposition: an owner who
        closes without a disposition, on an account that requires one, is paused in the
        account's disposition pause until it disposes (`dispose`). Both are one transaction of
        close_interaction, so no offer reaches the owner between the close freeing its capacity
        and the pause."""
        self._state.closed = True  # before any await: waits and handlers see it at once
        self._offering.changed()
        if self._state.owner_id is None:
            await self._offering.withdraw(OfferStatus.rescinded)
        await workflow.execute_activity_method(
            OwnershipActivities.close_interaction,
            CloseInteraction(self._start.interaction_id, disposition_id, actor_id),
            start_to_close_timeout=QUICK,
        )
        workflow.upsert_search_attributes([ids.STATUS.value_set("closed")])

    async def _record(self, kind: str, data: dict[str, object], actor_id: int | None = None) -> None:
        await record(self._start.interaction_id, kind, data, actor_id)
