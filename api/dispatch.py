"""Talking to interaction workflows from the API: inbound messages by signal-with-start, and
telling a refused update from a Temporal that could not be reached."""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.ingestion import StoredInbound
from models import Account, InteractionStatus
from workflows import ids
from workflows.interaction import InteractionInput, InteractionWorkflow, search_attributes
from workflows.signals import MessageArrived


async def signal_inbound(temporal: Client, task_queue: str, account: Account, stored: StoredInbound) -> None:
    """Start the interaction's workflow if it is not running, and signal the message to it.

    The workflow id names account, contact and interaction, so two first messages racing for one
    contact reach the same workflow; the workflow drops a message id it has seen. A concurrent
    signal-with-start for the same id can lose the start race; the workflow is then running, so the
    message is signalled to it.
    """
    workflow_id = ids.interaction_workflow_id(account.id, stored.contact_id, stored.interaction_id)
    arrived = MessageArrived(message_id=stored.message_id, has_media=stored.has_media)
    try:
        await temporal.start_workflow(
            InteractionWorkflow.run,
            InteractionInput(
                interaction_id=stored.interaction_id, account_id=account.id, contact_id=stored.contact_id
            ),
            id=workflow_id,
            task_queue=task_queue,
            start_signal=ids.MESSAGE_RECEIVED,
            start_signal_args=[arrived],
            search_attributes=search_attributes(
                account.key, stored.contact_mobile, InteractionStatus.open_pending.value
            ),
        )
    except WorkflowAlreadyStartedError:
        await temporal.get_workflow_handle(workflow_id).signal(ids.MESSAGE_RECEIVED, arrived)


UPDATE_ERRORS = (WorkflowUpdateFailedError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)


def refused(error: Exception) -> bool:
    """Whether the workflow said no (validator or handler), or has completed; else Temporal was
    unreachable or the answer was lost, and the update may or may not have been taken."""
    if isinstance(error, WorkflowUpdateFailedError):
        return True
    return isinstance(error, RPCError) and error.status is RPCStatusCode.NOT_FOUND
