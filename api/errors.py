"""One error shape for every failure: ``{"error": {"code", "message", "fields"?, "details"?}}``.

`AppError` is what code raises on purpose. Request validation, HTTP errors raised by Starlette and
database constraint violations that slip past the explicit checks (two requests racing for one
key) are rendered in the same shape, with the field they concern, and never as a 500; nor is a
database that is down (503 `database_unavailable`) or whose pool is all in use (503 `database_busy`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from models import Base

log = logging.getLogger(__name__)


class AppError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        fields: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = dict(fields) if fields else None
        self.details = dict(details) if details else None  # facts a client acts on (a deadline...)


def not_found(what: str, ident: object) -> AppError:
    return AppError(404, "not_found", f"{what} {ident} does not exist")


def conflict(message: str, fields: Mapping[str, str] | None = None, code: str = "conflict") -> AppError:
    return AppError(409, code, message, fields)


def invalid(fields: Mapping[str, str], message: str = "invalid input") -> AppError:
    return AppError(422, "validation_error", message, fields)


def forbidden(message: str = "you may not do this") -> AppError:
    return AppError(403, "forbidden", message)


# Unique constraints and the field each one guards (names follow models.base.NAMING_CONVENTION).
UNIQUE_FIELDS: dict[str, tuple[str, str]] = {
    "uq_users_username_lower": ("username", "is already taken"),
    "uq_pauses_name": ("name", "is already used by another pause"),
    "uq_contact_lists_name": ("name", "is already used by another list"),
    "uq_contacts_list_mobile": ("mobile", "is already in this list"),
    "uq_intervals_name": ("name", "is already used by another interval"),
    "uq_queues_name": ("name", "is already used by another queue"),
    "uq_accounts_key_lower": ("key", "is already used by another account (keys ignore case)"),
    "uq_accounts_video_topic": ("video.topic", "is already used by another account"),
    "uq_accounts_proxy_token": ("proxy_token", "collides with another account"),
    "uq_canned_answers_account_name": ("name", "is already used by another answer of this account"),
    "uq_saved_searches_user_name_lower": ("name", "is already used by another of your saved searches"),
}


def validation_fields(errors: Sequence[Any], prefix: Sequence[str | int] = ()) -> dict[str, str]:
    """Field path → message from pydantic's error list (the `body`/`query` location is kept only
    for non-body parameters, so a body field reads `credentials.auth_token`)."""
    fields: dict[str, str] = {}
    for error in errors:
        loc = [*prefix, *error.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        name = ".".join(str(part) for part in loc) or "body"
        fields.setdefault(name, error.get("msg", "is invalid"))
    return fields


def pydantic_error(exc: ValidationError, prefix: Sequence[str | int] = ()) -> AppError:
    return invalid(validation_fields(exc.errors(), prefix))


def _render(
    status_code: int,
    code: str,
    message: str,
    fields: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    if details:
        body["details"] = dict(details)
    return JSONResponse({"error": body}, status_code=status_code)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _render(exc.status_code, exc.code, exc.message, exc.fields, exc.details)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = validation_fields(exc.errors())
    first = next(iter(fields.items()))
    return _render(422, "validation_error", f"{first[0]}: {first[1]}", fields)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    response = _render(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    error = integrity_to_app_error(exc)
    return _render(error.status_code, error.code, error.message, error.fields)


async def _data_error(_: Request, exc: Exception) -> JSONResponse:
    log.info("rejected by the database: %s", type(exc).__name__)
    return _render(422, "validation_error", "a value does not fit what the database stores")


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return _render(503, "database_unavailable", "the database is unreachable; try again shortly")


async def _database_busy(_: Request, exc: Exception) -> JSONResponse:
    log.warning("no database connection free: %s", exc)
    return _render(503, "database_busy", "every database connection is in use; try again shortly")


_FOREIGN_KEY_COLUMNS = {
    str(fk.name): fk.column_keys[0]
    for table in Base.metadata.tables.values()
    for fk in table.foreign_key_constraints
}


def integrity_to_app_error(exc: IntegrityError) -> AppError:
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    if isinstance(exc.orig, pg_errors.UniqueViolation):
        field, why = UNIQUE_FIELDS.get(constraint, ("body", "duplicates an existing record"))
        return conflict(f"{field} {why}", {field: why}, code="duplicate")
    if isinstance(exc.orig, pg_errors.ForeignKeyViolation):
        table = getattr(diag, "table_name", None) or "another record"
        # On insert/update the row names something missing; on delete something still names the row.
        if "is still referenced" in str(exc.orig):
            return conflict(f"still referenced by {table}", code="referenced")
        column = _FOREIGN_KEY_COLUMNS.get(constraint, "body")
        return invalid({column: "refers to a record that does not exist"})
    if isinstance(exc.orig, pg_errors.CheckViolation):
        return invalid({constraint or "body": "is out of range"})
    return conflict("the request conflicts with stored data")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(pg_errors.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_busy)
