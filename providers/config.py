"""What a provider declares of an account's configuration: the shape of its credentials and which
of them are secret. The accounts API validates, seals and masks credentials by these declarations.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args, get_origin

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class _Sealed:
    """Marks a credential as secret: accepted on create and update, sealed, never returned (the
    API shows "***"), and sent only where it was given."""


SEALED = _Sealed()
Secret = Annotated[
    str, StringConstraints(min_length=1, max_length=500), SEALED, Field(json_schema_extra={"writeOnly": True})
]

_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _base_url(value: str) -> str:
    return str(_HTTP_URL.validate_python(value)).rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_base_url)]


class Credentials(BaseModel):
    """An account's credentials section; a provider subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid")


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of `model` declared as `Secret`, optional ones (`Secret | None`) included."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if SEALED in info.metadata or _sealed(info.annotation)
    )


def _sealed(annotation: Any) -> bool:
    return any(
        get_origin(member) is Annotated and SEALED in get_args(member)[1:] for member in get_args(annotation)
    )
