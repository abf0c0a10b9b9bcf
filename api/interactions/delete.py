"""Deleting interactions (admins and supervisors): the interaction, its messages, timeline events,
offers, queue waits and stored media files, with an audit record that outlives them.

A delete runs in three steps, and never holds a transaction while it waits on Temporal:

1. Read the interactions (each unknown id is a 404, nothing done) in a short session, closed
   before step 2.
2. Terminate each one's workflow (a workflow already gone is fine): from then on no routing
   activity is scheduled for it; one already running finds the row gone and does nothing. Temporal
   unreachable is a 503 and nothing is deleted.
3. One transaction: lock the rows, rescind pending offers (agents' desks drop the card), record
   every stored media file in `file_removals`, write one `audit_records` row per interaction, and
   delete the interactions (messages, events, offers and queue waits go by ON DELETE CASCADE).
   After the commit the files are removed (`sweep_file_removals`, which also retries what an
   earlier delete left: a process that died between commit and unlink; every API process also
   sweeps when it starts, so what a crash left goes with the restart), and each former owner's
   freed capacity wakes the interactions waiting for it (`domain.dispatch.wake_waiting`).

An inbound message stored before the commit belongs to the deleted interaction and goes with it;
one stored after starts the contact's next interaction as any first message does (the partial
unique index on active interactions no longer finds this one)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.media import MediaStore
from activities.offers import end_pending_offers
from api.deps import ServicesDep, StaffUser
from api.errors import not_found
from api.interactions.service import display_name
from api.temporal import TEMPORAL_RPC_TIMEOUT, TemporalUnavailable
from domain.dispatch import wake_waiting
from models import (
    Account,
    AuditRecord,
    Contact,
    FileRemoval,
    Interaction,
    InteractionStatus,
    Message,
    Offer,
    OfferStatus,
    User,
)
from models.events import notify_agents
from workflows.ids import interaction_workflow_id

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["interactions"])

DELETE_ACTION = "interaction.delete"
MAX_IDS = 500
SWEEP_BATCH = 500


class DeleteIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=MAX_IDS, description="the interactions to delete")


class DeleteOut(BaseModel):
    deleted: list[int] = Field(description="the interactions deleted, in id order")


@router.delete("/{interaction_id}", status_code=204, responses={404: {}, 503: {}})
async def delete_interaction(interaction_id: int, user: StaffUser, services: ServicesDep) -> Response:
    """Delete one interaction with its messages, events, offers, queue waits and media files; an
    open one's workflow is terminated first and its agent's capacity freed. Leaves an audit record
    (`GET /api/audit`, action `interaction.delete`)."""
    await delete_interactions(
        services.sessionmaker, services.temporal, services.settings.media_dir, user, [interaction_id]
    )
    return Response(status_code=204)


@router.post("/delete", responses={404: {}, 503: {}})
async def delete_many(body: DeleteIn, user: StaffUser, services: ServicesDep) -> DeleteOut:
    """Delete the interactions `ids` as `DELETE /api/whatsapp/interactions/{id}` does each. Any
    unknown id is a 404 naming it, and nothing is deleted."""
    deleted = await delete_interactions(
        services.sessionmaker, services.temporal, services.settings.media_dir, user, body.ids
    )
    return DeleteOut(deleted=deleted)


async def delete_interactions(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    media_root: Path,
    actor: User,
    ids: Sequence[int],
) -> list[int]:
    wanted = sorted(set(ids))
    async with sessions() as session:
        found = (await session.execute(select(Interaction).where(Interaction.id.in_(wanted)))).scalars().all()
    missing = sorted(set(wanted) - {row.id for row in found})
    if missing:
        raise not_found("interaction", ", ".join(str(ident) for ident in missing))

    await asyncio.gather(
        *(
            terminate(temporal, interaction_workflow_id(row.account_id, row.contact_id, row.id))
            for row in found
        )
    )
    async with sessions() as session, session.begin():
        deleted, owners = await _delete_rows(session, actor, wanted)
    await sweep_file_removals(sessions, media_root)
    for owner in sorted(owners):  # capacity freed: the owner may take a waiting interaction now
        await wake_waiting(sessions, temporal, owner)
    return deleted


async def terminate(temporal: Client, workflow_id: str) -> None:
    """End the workflow at once; one that has completed or never started is fine."""
    handle = temporal.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(TEMPORAL_RPC_TIMEOUT.total_seconds()):
            await handle.terminate(reason="interaction deleted", rpc_timeout=TEMPORAL_RPC_TIMEOUT)
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return
        log.warning("could not terminate %s: %r", workflow_id, error)
        raise TemporalUnavailable() from error
    except TimeoutError as error:
        log.warning("could not terminate %s in time", workflow_id)
        raise TemporalUnavailable() from error


async def _delete_rows(session: AsyncSession, actor: User, ids: list[int]) -> tuple[list[int], set[int]]:
    """Delete the interactions still there (a concurrent delete may have taken some: it audited
    them); return their ids and the owners of the open ones."""
    rows = (
        await session.execute(
            select(Interaction, Account.key, Contact.mobile, display_name(User))
            .join(Account, Account.id == Interaction.account_id)
            .join(Contact, Contact.id == Interaction.contact_id)
            .outerjoin(User, User.id == Interaction.owner_id)
            .where(Interaction.id.in_(ids))
            .order_by(Interaction.id)
            .with_for_update(of=Interaction)
        )
    ).all()
    if not rows:
        return [], set()
    present = [row[0].id for row in rows]
    counted = await session.execute(
        select(Message.interaction_id, func.count())
        .where(Message.interaction_id.in_(present))
        .group_by(Message.interaction_id)
    )
    counts = {interaction_id: number for interaction_id, number in counted.all()}
    stored = (
        await session.execute(
            select(Message.interaction_id, Message.media["path"].astext).where(
                Message.interaction_id.in_(present), Message.media["path"].astext.is_not(None)
            )
        )
    ).all()
    session.add_all(FileRemoval(path=path) for _, path in stored)
    await end_pending_offers(session, Offer.interaction_id.in_(present), OfferStatus.rescinded, "deleted")
    owners: set[int] = set()
    for interaction, account_key, mobile, owner_name in rows:
        details: dict[str, Any] = {
            "interaction_id": interaction.id,
            "account_id": interaction.account_id,
            "account_key": account_key,
            "contact_id": interaction.contact_id,
            "contact_mobile": mobile,
            "status": interaction.status.value,
            "owner_id": interaction.owner_id,
            "owner": owner_name,
            "message_count": counts.get(interaction.id, 0),
            "files": sum(1 for owner_of, _ in stored if owner_of == interaction.id),
        }
        session.add(
            AuditRecord(
                action=DELETE_ACTION,
                actor_id=actor.id,
                actor_name=actor.full_name or actor.username,
                target_id=interaction.id,
                details=details,
            )
        )
        if interaction.owner_id is not None and interaction.status is not InteractionStatus.closed:
            owners.add(interaction.owner_id)
            data = {"interaction_id": interaction.id, "reason": "deleted", "status": "deleted"}
            await notify_agents(session, [interaction.owner_id], "interaction_updated", data)
    await session.flush()
    await session.execute(delete(Interaction).where(Interaction.id.in_(present)))
    return present, owners


async def finish_earlier_deletes(sessions: async_sessionmaker[AsyncSession], media_root: Path) -> None:
    """At an API process's start: the files of deletes whose process died after the commit."""
    try:
        removed = await sweep_file_removals(sessions, media_root)
    except (SQLAlchemyError, OSError) as error:  # the database not up yet: the next delete sweeps
        log.warning("files of earlier deletes not swept at start (%s)", type(error).__name__)
    else:
        if removed:
            log.info("removed %d files of earlier deletes", removed)


async def sweep_file_removals(sessions: async_sessionmaker[AsyncSession], media_root: Path) -> int:
    """Remove the files committed deletes recorded, each row once its file is gone; return how
    many. Rows another sweep holds are skipped (it removes them); a sweep that dies leaves the
    rest for the next. Runs after every delete and when an API process starts."""
    store = MediaStore(media_root)
    removed = 0
    while True:
        async with sessions() as session, session.begin():
            batch = (
                await session.scalars(
                    select(FileRemoval)
                    .order_by(FileRemoval.id)
                    .limit(SWEEP_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in batch:
                store.remove(row.path)
                await session.delete(row)
            removed += len(batch)
        if len(batch) < SWEEP_BATCH:
            return removed
