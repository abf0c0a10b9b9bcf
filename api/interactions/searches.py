"""Saved searches (`/api/whatsapp/searches`): each user's named interactions-list queries. A user
sees and changes only their own: another's id answers 404, as if it did not exist."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import func, select

from api.crud import ListOut, paginate
from api.deps import CurrentUser, PageDep, SessionDep
from api.errors import not_found
from api.interactions.conditions import parse_conditions
from api.interactions.schemas import SavedQuery, SavedSearchIn, SavedSearchOut, SavedSearchPatch
from models import SavedSearch, User

router = APIRouter(prefix="/api/whatsapp/searches", tags=["saved searches"])


@router.get("")
async def list_searches(user: CurrentUser, session: SessionDep, page: PageDep) -> ListOut[SavedSearchOut]:
    """The caller's saved searches, by name."""
    query = select(SavedSearch).where(SavedSearch.user_id == user.id)
    count, rows = await paginate(session, query.order_by(func.lower(SavedSearch.name), SavedSearch.id), page)
    return ListOut(count=count, rows=[_out(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_search(body: SavedSearchIn, user: CurrentUser, session: SessionDep) -> SavedSearchOut:
    """Save a query of `GET /api/whatsapp/interactions` under a name (its `conditions` are checked
    as the list checks them: a bad rule is a 422 naming `query.conditions.rules.<index>`)."""
    search = SavedSearch(user_id=user.id, name=body.name, query=_stored(body.query))
    session.add(search)
    await session.flush()
    return _out(search)


@router.get("/{search_id}")
async def get_search(search_id: int, user: CurrentUser, session: SessionDep) -> SavedSearchOut:
    return _out(await _own(session, search_id, user))


@router.put("/{search_id}")
async def replace_search(
    search_id: int, body: SavedSearchIn, user: CurrentUser, session: SessionDep
) -> SavedSearchOut:
    search = await _own(session, search_id, user)
    search.name, search.query = body.name, _stored(body.query)
    await session.flush()
    return _out(search)


@router.patch("/{search_id}")
async def update_search(
    search_id: int, body: SavedSearchPatch, user: CurrentUser, session: SessionDep
) -> SavedSearchOut:
    search = await _own(session, search_id, user)
    if body.name is not None:
        search.name = body.name
    if body.query is not None:
        search.query = _stored(body.query)
    await session.flush()
    return _out(search)


@router.delete("/{search_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_search(search_id: int, user: CurrentUser, session: SessionDep) -> None:
    await session.delete(await _own(session, search_id, user))


async def _own(session: SessionDep, search_id: int, user: User) -> SavedSearch:
    search = await session.get(SavedSearch, search_id, with_for_update=True)
    if search is None or search.user_id != user.id:
        raise not_found("saved search", search_id)
    return search


def _stored(query: SavedQuery) -> dict[str, object]:
    parse_conditions(query.conditions, where="query.conditions")
    return query.model_dump(mode="json", exclude_defaults=True)


def _out(search: SavedSearch) -> SavedSearchOut:
    return SavedSearchOut(
        id=search.id,
        name=search.name,
        query=SavedQuery.model_validate(search.query),
        created_at=search.created_at,
        updated_at=search.updated_at,
    )
