"""The refusals of the interaction routes: a class each, so every request raises its own."""

from __future__ import annotations

from api.errors import AppError
from api.temporal import TemporalUnavailable


class InteractionClosed(AppError):
    def __init__(self) -> None:
        super().__init__(
            409, "interaction_closed", "the interaction is closed: nothing more can be sent in it"
        )


class SendPending(TemporalUnavailable):
    """The message is stored (queued) but the workflow did not take it: `retry` hands it over."""

    def __init__(self) -> None:
        super().__init__("stored as queued but not yet handed over for sending; retry the message")


class OfferGone(AppError):
    def __init__(self) -> None:
        super().__init__(
            409, "offer_gone", "this interaction is no longer offered to you (taken, expired or withdrawn)"
        )


class NotTransferable(AppError):
    def __init__(self) -> None:
        super().__init__(
            409, "not_transferable", "the interaction is not yours, not owned, closed, or moving already"
        )


class NotClosable(AppError):
    def __init__(self) -> None:
        super().__init__(409, "not_closable", "the interaction is closed already, or is not yours to close")
