"""TODO docstring"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    SQLColumnExpression,
    delete,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm.util import AliasedClass

from api.deps import ServicesDep, SessionDep
from api.errors import AppError, forbidden, not_found
from api.interactions.conditions import condition_expression, dispositions_under, parse_conditions, status_is
from api.interactions.errors import InteractionClosed, SendPending
from api.interactions.schemas import ContactOut, InteractionFilters, InteractionOut, MessageOut
from api.temporal import commit_then_update
from domain.window import SERVICE_WINDOW, window_closes_at, window_open
from models import (
    Account,
    AccountAgent,
    Contact,
    DeliveryStatus,
    Interaction,
    InteractionEvent,
    InteractionStatus,
    Message,
    MessageType,
    Offer,
    OfferStatus,
    Role,
    User,
)
from models.search import contains_ignoring_case
from workflows.ids import interaction_workflow_id
from workflows.interaction import InteractionWorkflow, Outgoing

InteractionRows = Select[Interaction, str, Contact]
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def visible(user: User) -> InteractionRows:
    """Interactions with their account key and contact, limited to what `user` may see."""
    return _seen_by(_with_account_and_contact(), user)


def _with_account_and_contact() -> InteractionRows:
    query = select(Interaction, Account.key, Contact).join(Account, Account.id == Interaction.account_id)
    return query.join(Contact, Contact.id == Interaction.contact_id)


def _seen_by(query: SelectT, user: User) -> SelectT:
    if user.role is Role.agent:
        query = query.join(
            AccountAgent,
            (AccountAgent.account_id == Interaction.account_id) & (AccountAgent.user_id == user.id),
        )
    return query


async def visible_accounts(db: AsyncSession | AsyncConnection, user: User) -> list[int] | None:
    """The accounts whose interactions `user` may see, or None for every account (staff)."""
    if user.role is not Role.agent:
        return None
    return list(await db.scalars(select(AccountAgent.account_id).where(AccountAgent.user_id == user.id)))


def matching_ids(filters: InteractionFilters, accounts: Sequence[int] | None) -> Select[int]:
    """The ids of the interactions of `accounts` (None: every account; `visible_accounts`) that
    match `filters` (every filter given, and the advanced `conditions`; a bad rule is a 422 naming
    it). The list and the export read these. The list orders, pages and counts these and reads
    the rows of one page only (`page_rows`), so a sort of every match moves ids through an
    index-only scan, not whole rows and their joins: no account join (every interaction has
    one), the contact only when a filter reads it. The accounts are constants, not a join: an
    agent's single account is then walked in the list's order
    (ix_interactions_account_last_message) and the planner knows which account it counts on."""
    query = select(Interaction.id)
    if accounts is not None:
        query = query.where(Interaction.account_id.in_(accounts))
    if (filters.q is not None and filters.q.strip()) or filters.conditions is not None:
        query = query.join(Contact, Contact.id == Interaction.contact_id)
    return _matching(query, filters)


def page_rows(ids: Select[int], filters: InteractionFilters) -> InteractionRows:
    """The interactions `ids` (one page of `matching_ids`) with their account key and contact, in
    the list's order."""
    return ordered(_with_account_and_contact().where(Interaction.id.in_(ids)), filters)


def _matching(query: SelectT, filters: InteractionFilters) -> SelectT:
    conditions = parse_conditions(filters.conditions)
    if filters.account_id is not None:
        query = query.where(Interaction.account_id == filters.account_id)
    if filters.agent_id is not None:
        query = query.where(
            handled_by(filters.agent_id) if filters.participant else owned_by(filters.agent_id)
        )
    if filters.queue_id is not None:
        query = query.where(Interaction.queue_id == filters.queue_id)
    if filters.status is not None:
        query = query.where(status_is(filters.status))
    if filters.read is not None:
        query = query.where(Interaction.read == filters.read)
    if filters.tags:
        query = query.where(Interaction.tags.overlap(filters.tags))
    if filters.tags_all:
        query = query.where(Interaction.tags.contains(filters.tags_all))
    query = query.where(*_between(Interaction.started_at, filters.started_from, filters.started_to))
    query = query.where(*_between(Interaction.closed_at, filters.closed_from, filters.closed_to))
    if filters.disposition_id is not None:
        under = dispositions_under([filters.disposition_id]).scalar_subquery()
        query = query.where(Interaction.disposition_id.in_(under))
    if filters.window is not None:
        since = datetime.now(UTC) - SERVICE_WINDOW
        inside = Interaction.last_inbound_at > since
        query = query.where(inside if filters.window == "open" else not_(func.coalesce(inside, false())))
    if filters.q is not None and filters.q.strip():
        query = query.where(_contact_matches(filters.q))
    if conditions is not None and (expression := condition_expression(conditions)) is not None:
        query = query.where(expression)
    return query


def ordered(query: SelectT, filters: InteractionFilters) -> SelectT:
    """`query` in the list's order: `filters.sort` ascending or descending, interactions without
    that time last, then by id in the same direction (a stable order for paging)."""
    column = getattr(Interaction, filters.sort.value)
    # NULLS LAST only where there can be NULLs: the planner matches an ORDER BY to an index by its
    # spelling, and `started_at DESC NULLS LAST` would not walk the started_at index backwards.
    nullable = Interaction.__table__.c[filters.sort.value].nullable
    ascending = filters.order == "asc"
    first = column.asc() if ascending else column.desc()
    then = Interaction.id.asc() if ascending else Interaction.id.desc()
    return query.order_by(first.nulls_last() if nullable else first, then)


def owned_by(agent_id: int) -> ColumnElement[bool]:
    return Interaction.owner_id == agent_id


def handled_by(agent_id: int) -> ColumnElement[bool]:
    """Its owner now, an agent who accepted it (the owner before a transfer) or wrote in it.

    The owner is tested on the row, the others by one IN over offers and messages, hashed once
    (UNION ALL: IN ignores repeats): the list then walks its order and stops at a full page. A
    join with the union of all three sorted every interaction the agent ever handled, fetched
    row by row (EXPLAIN, stack/bench_list.py)."""
    accepted = select(Offer.interaction_id).where(
        Offer.agent_id == agent_id, Offer.status == OfferStatus.accepted
    )
    wrote = select(Message.interaction_id).where(Message.sender_id == agent_id)
    return or_(owned_by(agent_id), Interaction.id.in_(union_all(accepted, wrote)))


def _between(
    column: SQLColumnExpression[Any], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    return [
        *([column >= start] if start is not None else []),
        *([column <= end] if end is not None else []),
    ]


def _contact_matches(q: str) -> ColumnElement[bool]:
    """The contact's name (first, last, or both as "first last") or mobile contains `q`. Mobiles are
    stored as digits: `+39 333-12` finds 3933312..."""
    matches = [contains_ignoring_case(_full_name(), q.strip())]
    digits = re.sub(r"[\s+().-]", "", q)
    if digits.isdigit():
        matches.append(contains_ignoring_case(Contact.mobile, digits))
    return or_(*matches)


def _full_name() -> ColumnElement[str]:
    """The contact's "first last", spelled as ix_contacts_name_trigrams indexes it (models.contact)."""
    return Contact.first_name + literal_column("' '") + Contact.last_name


def interaction_out(interaction: Interaction, account_key: str, contact: Contact) -> InteractionOut:
    return InteractionOut(
        id=interaction.id,
        account_id=interaction.account_id,
        account_key=account_key,
        contact=ContactOut.model_validate(contact),
        status=interaction.status,
        read=interaction.read,
        owner_id=interaction.owner_id,
        queue_id=interaction.queue_id,
        tags=interaction.tags,
        disposition_id=interaction.disposition_id,
        started_at=interaction.started_at,
        last_message_at=interaction.last_message_at,
        last_inbound_at=interaction.last_inbound_at,
        window_closes_at=window_closes_at(interaction.last_inbound_at),
        last_message=interaction.last_message,
        closed_at=interaction.closed_at,
        workflow_id=interaction_workflow_id(interaction.account_id, interaction.contact_id, interaction.id),
    )


async def visible_interaction(session: AsyncSession, interaction_id: int, user: User) -> InteractionOut:
    row = (await session.execute(visible(user).where(Interaction.id == interaction_id))).first()
    if row is None:
        raise not_found("interaction", interaction_id)
    return interaction_out(*row)


async def workable(session: SessionDep, interaction_id: int, user: User) -> tuple[Interaction, Account]:
    """The interaction (locked) and its account, if `user` may work it: its owner, or staff."""
    await visible_interaction(session, interaction_id, user)  # 404 for what the caller may not see
    # populate_existing: the visibility check loaded the row already; read it again under the lock
    interaction = await session.get(Interaction, interaction_id, with_for_update=True, populate_existing=True)
    assert interaction is not None
    if user.role is Role.agent and interaction.owner_id != user.id:
        raise forbidden("only the agent who owns the interaction (or a supervisor) may do this")
    account = await session.get(Account, interaction.account_id)
    assert account is not None
    return interaction, account


async def sendable(session: SessionDep, interaction_id: int, user: User) -> tuple[Interaction, Account]:
    interaction, account = await workable(session, interaction_id, user)
    if interaction.status is InteractionStatus.closed:
        raise InteractionClosed()
    return interaction, account


def inside_window(interaction: Interaction) -> None:
    if not window_open(interaction.last_inbound_at):
        closed_at = window_closes_at(interaction.last_inbound_at)
        since = f"it closed at {closed_at.isoformat()}" if closed_at else "the contact never wrote"
        raise AppError(
            409,
            "outside_service_window",
            f"free-form messages need the contact's last message within 24 hours; {since}. "
            "Send a template (or the recontact template) instead.",
            details={"window_closed_at": closed_at.isoformat() if closed_at else None},
        )


def outbound(interaction: Interaction, user: User, kind: MessageType, text: str) -> Message:
    return interaction.queued_message(kind, text, "agent", sender_id=user.id)


async def send(
    session: SessionDep,
    services: ServicesDep,
    interaction: Interaction,
    message: Message,
    *,
    handed_before: bool = False,
) -> MessageOut:
    """Commit the queued message (the send activity reads it), then hand it to the workflow.

    Refused (the interaction closed meanwhile): in a transaction of its own, a new message is
    removed, one handed over before (a retry) is marked failed; 409. Temporal unreachable, or no
    answer by the deadline: the message stays queued and the call answers 503; `retry` hands it
    over again. Commits mid-request on purpose: the worker must see the row, and no connection or
    lock may be held while Temporal answers.
    """
    session.add(message)
    await session.flush()
    kind = "message_retried" if handed_before else "message_out"
    event = InteractionEvent(
        interaction_id=interaction.id, kind=kind, actor_id=message.sender_id, data={"message_id": message.id}
    )
    session.add(event)
    workflow_id = interaction_workflow_id(interaction.account_id, interaction.contact_id, interaction.id)
    try:
        await commit_then_update(
            session,
            services.temporal,
            workflow_id,
            InteractionWorkflow.send,
            Outgoing(message.id),
            refusal=InteractionClosed,
            unavailable=SendPending,
        )
    except AppError as error:
        if isinstance(error, InteractionClosed):
            await _withdraw(session, message, event, handed_before=handed_before)
        raise
    shown = MessageOut.model_validate(message)
    if not handed_before:
        interaction.show_last(message.text)
    return shown


async def _withdraw(
    session: SessionDep, message: Message, event: InteractionEvent, *, handed_before: bool
) -> None:
    """Undo a hand-over the workflow refused, committed before the 409 rolls the request back."""
    await session.execute(delete(InteractionEvent).where(InteractionEvent.id == event.id))
    if handed_before:
        message.status = DeliveryStatus.failed
        message.error_text = "not sent: the interaction was closed first"
    else:
        await session.execute(delete(Message).where(Message.id == message.id))
    await session.commit()


def display_name(user: type[User] | AliasedClass[User]) -> ColumnElement[str]:
    """How a user (or an aliased users table) is named to people: its full name, else its username."""
    return func.coalesce(func.nullif(user.full_name, ""), user.username)


async def in_batches(
    sessions: async_sessionmaker[AsyncSession],
    page: Callable[[int], Select[*tuple[Any, ...]]],
    size: int,
    key: Callable[[Row[*tuple[Any, ...]]], int] = lambda row: int(row[0]),
) -> AsyncIterator[Sequence[Row[*tuple[Any, ...]]]]:
    """Every row of a keyset-paged query, `size` at a time: `page(after)` must select the rows
    whose key is above `after`, in key order, at most `size`; `key` reads a row's key.

    Each batch is read in a short session of its own, so a response streamed to a slow client
    holds no connection (and no transaction) while it waits for the client to read."""
    after = 0
    while True:
        async with sessions() as session:
            rows = (await session.execute(page(after))).all()
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = key(rows[-1])
