"""Agents answering offers: accept and reject are Temporal updates on the interaction's workflow.

The workflow's validator refuses an offer that is not the caller's or has expired (409), so of
two agents accepting at once exactly one becomes the owner.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import AppError
from api.routers.interactions import visible_interaction
from workflows.interaction import InteractionWorkflow, OfferAnswer

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["routing"])

OFFER_GONE = AppError(
    409, "offer_gone", "this interaction is no longer offered to you (taken, expired or withdrawn)"
)


class AcceptedOut(BaseModel):
    interaction_id: int
    owner_id: int


@router.post("/{interaction_id}/accept", responses={409: {"description": "the offer is no longer yours"}})
async def accept(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> AcceptedOut:
    interaction = await visible_interaction(session, interaction_id, user)
    handle = services.temporal.get_workflow_handle(interaction.workflow_id)
    try:
        accepted = await handle.execute_update(InteractionWorkflow.accept, OfferAnswer(user.id))
    except (WorkflowUpdateFailedError, RPCError) as error:
        raise _update_error(error) from error
    return AcceptedOut(interaction_id=accepted.interaction_id, owner_id=accepted.agent_id)


@router.post("/{interaction_id}/reject", responses={409: {"description": "the offer is no longer yours"}})
async def reject(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> dict[str, bool]:
    interaction = await visible_interaction(session, interaction_id, user)
    handle = services.temporal.get_workflow_handle(interaction.workflow_id)
    try:
        await handle.execute_update(InteractionWorkflow.reject, OfferAnswer(user.id))
    except (WorkflowUpdateFailedError, RPCError) as error:
        raise _update_error(error) from error
    return {"rejected": True}


def _update_error(error: WorkflowUpdateFailedError | RPCError) -> AppError:
    if isinstance(error, WorkflowUpdateFailedError):
        return OFFER_GONE
    if error.status is RPCStatusCode.NOT_FOUND:  # the workflow has completed: nothing is on offer
        return OFFER_GONE
    log.warning("Temporal refused an offer answer: %s", error.status)
    return AppError(503, "temporal_unavailable", "routing is unavailable; try again shortly")
