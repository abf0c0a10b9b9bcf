"""Contact lists and their contacts (Contacts Manager). Admins and supervisors manage them.

Deleting a list deletes its contacts; a list that an account uses as its default cannot go.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import or_, select

from api.crud import ListOut, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import PageDep, SessionDep, StaffUser
from api.directory.schemas import (
    ContactIn,
    ContactOut,
    ContactPatch,
    ListIn,
    ListPatch,
    ListRead,
)
from api.errors import not_found
from models import Account, Contact, ContactList, Interaction

router = APIRouter(prefix="/api/cm/lists", tags=["contacts"])


@router.get("")
async def list_lists(_: StaffUser, session: SessionDep, page: PageDep) -> ListOut[ListRead]:
    count, rows = await paginate(session, select(ContactList).order_by(ContactList.name), page)
    return ListOut(count=count, rows=[ListRead.model_validate(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_list(body: ListIn, _: StaffUser, session: SessionDep) -> ListRead:
    contact_list = ContactList(**body.model_dump())
    session.add(contact_list)
    await session.flush()
    return ListRead.model_validate(contact_list)


@router.get("/{list_id}")
async def get_list(list_id: int, _: StaffUser, session: SessionDep) -> ListRead:
    return ListRead.model_validate(await get_or_404(session, ContactList, list_id, "list"))


@router.patch("/{list_id}")
@router.put("/{list_id}")  # the same update, under its own operation id
async def update_list(list_id: int, body: ListPatch, _: StaffUser, session: SessionDep) -> ListRead:
    contact_list = await get_or_404(session, ContactList, list_id, "list")
    apply_patch(contact_list, body)
    await session.flush()
    return ListRead.model_validate(contact_list)


@router.delete("/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_list(list_id: int, _: StaffUser, session: SessionDep) -> None:
    contact_list = await get_or_404(session, ContactList, list_id, "list")
    await ensure_unreferenced(
        session,
        f"list {contact_list.name}",
        [
            ("accounts as their default list", select(Account.key).where(Account.list_id == list_id)),
            (
                "interactions of its contacts",
                select(Interaction.id)
                .join(Contact, Contact.id == Interaction.contact_id)
                .where(Contact.list_id == list_id),
            ),
        ],
    )
    await session.delete(contact_list)


@router.get("/{list_id}/contacts")
async def list_contacts(
    list_id: int, _: StaffUser, session: SessionDep, page: PageDep, search: str | None = None
) -> ListOut[ContactOut]:
    await get_or_404(session, ContactList, list_id, "list")
    query = select(Contact).where(Contact.list_id == list_id).order_by(Contact.id)
    if search:
        query = query.where(
            or_(
                *(
                    column.icontains(search, autoescape=True)
                    for column in (Contact.first_name, Contact.last_name, Contact.mobile, Contact.email)
                )
            )
        )
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[ContactOut.model_validate(row) for row in rows])


@router.post("/{list_id}/contacts", status_code=status.HTTP_201_CREATED)
async def create_contact(list_id: int, body: ContactIn, _: StaffUser, session: SessionDep) -> ContactOut:
    await get_or_404(session, ContactList, list_id, "list")
    contact = Contact(list_id=list_id, **body.model_dump())
    session.add(contact)
    await session.flush()
    return ContactOut.model_validate(contact)


async def _contact_in_list(session: SessionDep, list_id: int, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.list_id != list_id:
        raise not_found("contact", contact_id)
    return contact


@router.get("/{list_id}/contacts/{contact_id}")
async def get_contact(list_id: int, contact_id: int, _: StaffUser, session: SessionDep) -> ContactOut:
    return ContactOut.model_validate(await _contact_in_list(session, list_id, contact_id))


@router.patch("/{list_id}/contacts/{contact_id}")
@router.put("/{list_id}/contacts/{contact_id}")  # the same update, under its own operation id
async def update_contact(
    list_id: int, contact_id: int, body: ContactPatch, _: StaffUser, session: SessionDep
) -> ContactOut:
    contact = await _contact_in_list(session, list_id, contact_id)
    apply_patch(contact, body, nullable=frozenset({"email"}))
    await session.flush()
    return ContactOut.model_validate(contact)


@router.delete("/{list_id}/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(list_id: int, contact_id: int, _: StaffUser, session: SessionDep) -> None:
    contact = await _contact_in_list(session, list_id, contact_id)
    await ensure_unreferenced(
        session,
        f"contact {contact.mobile}",
        [("interactions", select(Interaction.id).where(Interaction.contact_id == contact_id))],
    )
    await session.delete(contact)
