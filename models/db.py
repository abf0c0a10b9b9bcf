"""Engine and session factory; the API's lifespan and the worker each own one engine."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

# How long taking a pooled connection may wait before it fails (the API answers 503 database_busy,
# an activity is retried): a pool that stays full for seconds is not coming free for this caller.
POOL_TIMEOUT_SECONDS = 3.0


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_pre_ping=True,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_AFTER_COMMIT = "shareline_after_commit"


def after_commit(session: AsyncSession, then: Callable[[], None]) -> None:
    """Run `then` once the session's transaction commits; never if it rolls back (a count that
    must not double on a retried activity, a cache entry to forget once the change is visible)."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(then)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for then in session.info.pop(_AFTER_COMMIT, ()):
        then()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
