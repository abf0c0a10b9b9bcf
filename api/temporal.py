"""The API's side of Temporal: running an update on an interaction workflow, and telling a refused
update from a Temporal that could not be reached. (Inbound messages reach their workflows through
relay.inbound.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.errors import AppError

log = logging.getLogger(__name__)

Arg = TypeVar("Arg")
Result = TypeVar("Result")

# How long a request waits for Temporal to answer an update. An update to a workflow whose worker
# is down is admitted and then waits for it, so this deadline is what ends the request.
TEMPORAL_RPC_TIMEOUT = timedelta(seconds=5)


class TemporalUnavailable(AppError):
    """No answer by the deadline, or Temporal unreachable: the update may or may not have been taken."""

    def __init__(
        self,
        message: str = "routing did not answer in time (Temporal or its workers are down or overloaded); "
        "try again shortly",
    ) -> None:
        super().__init__(503, "temporal_unavailable", message)


UPDATE_ERRORS = (WorkflowUpdateFailedError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError)


def refused(error: Exception) -> bool:
    """Whether the workflow said no (validator or handler), or has completed; else Temporal was
    unreachable or the answer was lost, and the update may or may not have been taken."""
    if isinstance(error, WorkflowUpdateFailedError):
        return True
    return isinstance(error, RPCError) and error.status is RPCStatusCode.NOT_FOUND


async def commit_then_update(
    session: AsyncSession,
    temporal: Client,
    workflow_id: str,
    update: UpdateMethodMultiParam[[Any, Arg], Result],
    arg: Arg,
    *,
    refusal: Callable[[], AppError],
    unavailable: Callable[[], AppError] = TemporalUnavailable,
) -> Result:
    """Commit the request's work so far, then run `update` on the workflow within the deadline.

    The commit ends the session's transaction, which gives its connection (and any row lock) back:
    a request waiting on Temporal holds none, so a Temporal whose workers are down cannot take the
    pool from every other route. Objects read before stay usable (the sessionmaker does not expire
    on commit); using the session again begins a new transaction. The workflow said no, or has
    completed: a new `refusal()`. No answer by the deadline, or Temporal unreachable: `unavailable()` (the
    update may or may not have been taken).
    """
    await session.commit()
    handle = temporal.get_workflow_handle(workflow_id)
    deadline = TEMPORAL_RPC_TIMEOUT
    try:
        # rpc_timeout bounds one call; the SDK calls again while an update is admitted but no
        # worker has accepted it, so the timeout around them is what bounds the whole wait.
        async with asyncio.timeout(deadline.total_seconds()):
            return await handle.execute_update(update, arg, rpc_timeout=deadline)
    except UPDATE_ERRORS as error:
        if refused(error):
            raise refusal() from error
        name = getattr(update, "__name__", "update")
        log.warning("workflow %s did not answer the update %s: %r", workflow_id, name, error)
        raise unavailable() from error
