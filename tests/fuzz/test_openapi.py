"""The whole OpenAPI schema, fuzzed by schemathesis in-process against the app, as the admin:
nothing a client sends answers 5xx (API.md). And every operation has its own operationId, which
generated clients name their methods by.

Schemathesis generates and checks each case; the request goes through the module's httpx ASGI
client rather than schemathesis' own ASGI transport, which runs the app on an event loop of its
own, away from the worker and the database pool the fixtures started on pytest's loop."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from temporalio.worker import Worker

from api.app import create_app
from settings import Settings
from tests.conftest import Api, running_worker
from tests.fuzz.conftest import fuzz_settings
from tests.support.asgi import http_scope, receiver
from tests.webhooks import (
    kaleyra_callback,
    meta_envelope,
    meta_text,
    post_kaleyra,
    post_meta,
    post_sinch,
    sinch_text,
)

EXAMPLES_PER_OPERATION = 6  # each valid by the schema or not (schemathesis' positive and negative modes)
BASE_URL = "http://shareline.test"


def _static_app() -> FastAPI:
    """The app's routes without starting it: the schema needs no database."""
    return create_app(Settings(secret_key=Fernet.generate_key().decode(), database_url="postgresql://-/-"))


def _operations() -> dict[str, APIOperation[Any, Any, Any, Any]]:
    operations = {}
    for result in schemathesis.openapi.from_dict(_static_app().openapi()).get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation: {result}"
        operations[result.ok().label] = result.ok()
    return operations


OPERATIONS = _operations()


def test_every_operation_has_its_own_operation_id():
    ids = Counter(
        operation["operationId"]
        for methods in _static_app().openapi()["paths"].values()
        for operation in methods.values()
    )
    assert [name for name, uses in ids.items() if uses > 1] == []


@pytest.fixture(scope="module")
async def module_worker(module_settings, module_temporal) -> AsyncIterator[Worker]:
    """Interactions have workflows to accept, transfer and close them, as under `make run`."""
    async with running_worker(module_settings, module_temporal) as running:
        yield running


@pytest.fixture(scope="module")
async def world(module_client, module_admin, accounts, module_worker) -> AsyncIterator[dict[str, Any]]:
    """Something behind the small ids the fuzzer tries: interactions with messages, a pause, a
    queue, an interval, an agent; and a user the fuzzer may change in place of the admin."""
    api = Api(module_client)
    await post_meta(module_client, accounts["meta"], meta_envelope([meta_text("wamid.W1", "hello")]))
    await post_sinch(module_client, accounts["sinch_v2"], sinch_text("01W1", "hej"))
    await post_kaleyra(module_client, accounts["kaleyra"], kaleyra_callback("namaste", id="K-W1"))
    await api.create(module_admin, "/api/pauses", {"name": "Lunch"})
    await api.create(module_admin, "/api/whatsapp/queues", {"name": "Sales"})
    await api.create(module_admin, "/api/intervals", {"name": "Always", "rules": [{"always": True}]})
    agent = await api.create(
        module_admin, "/api/users", {"username": "fuzz-agent", "password": "password-123"}
    )
    users = (await module_client.get("/api/users", headers=module_admin)).json()["rows"]
    admin_id = next(user["id"] for user in users if user["username"] == "admin")
    yield {"admin_id": admin_id, "stand_in_id": agent["id"]}
    # Had a generated request signed the admin out, every example after it was a 401 proving nothing.
    assert (await module_client.get("/api/users", headers=module_admin)).status_code == 200


def _httpx_kwargs(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """What schemathesis would send (requests' keywords), as httpx keywords."""
    sent = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        # latin-1 octets for what is not ASCII, as requests sends them
        "headers": {k: v if v.isascii() else v.encode("utf-8") for k, v in dict(sent["headers"]).items()},
        "params": {k: v for k, v in (sent.get("params") or {}).items() if v is not None},
    }
    if cookies := sent.get("cookies"):
        kwargs["headers"]["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    if "json" in sent:
        kwargs["content"] = json.dumps(sent["json"]).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    data = sent.get("data")
    if isinstance(data, bytes | str):
        kwargs["content"] = data
    elif data:
        kwargs["data"] = data
    if sent.get("files"):  # (name, (filename, content[, type])); httpx takes text or bytes only
        kwargs["files"] = [
            (name, (part[0], part[1] if isinstance(part[1], bytes | str) else str(part[1]), *part[2:]))
            for name, part in sent["files"]
        ]
    return kwargs


def _streams(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    """Whether the operation answers Server-Sent Events: a stream that never ends by itself."""
    responses = operation.definition.raw.get("responses", {})
    return any("text/event-stream" in (answer.get("content") or {}) for answer in responses.values())


async def _opening(app: FastAPI, request: httpx.Request) -> httpx.Response:
    """Call the app for a streaming route until it starts answering, then hang up: the status
    is known then (httpx's ASGI transport would wait for the end of a stream that has none)."""
    body = request.content
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    hung_up = asyncio.Event()
    scope = http_scope(request)
    receive = receiver(body, hung_up)

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    running = asyncio.ensure_future(app(scope, receive, send))
    either: list[asyncio.Future[Any]] = [running, started]
    await asyncio.wait(either, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    hung_up.set()
    try:
        async with asyncio.timeout(5):
            await running
    except TimeoutError:
        running.cancel()
    except Exception:  # the app raised: what a server would answer is a 500
        return _answered(500, request)
    assert started.done(), "the stream never started answering"
    return _answered(started.result(), request)


def _answered(status: int, request: httpx.Request) -> httpx.Response:
    response = httpx.Response(status, request=request)
    response.elapsed = timedelta(0)
    return response


@pytest.mark.parametrize("label", OPERATIONS.keys())
@fuzz_settings(EXAMPLES_PER_OPERATION)
@given(data=st.data())
async def test_no_operation_answers_5xx(module_app, module_client, module_admin, world, label, data):
    operation = OPERATIONS[label]
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
    case = data.draw(operation.as_strategy(generation_mode=mode), label="case")
    if operation.path == "/api/users/{user_id}" and case.path_parameters.get("user_id") == world["admin_id"]:
        case.path_parameters["user_id"] = world["stand_in_id"]  # a new password would sign the fuzzer out

    request = module_client.build_request(**_httpx_kwargs(case, module_admin))
    request.read()  # multipart bodies too: the check reads what was sent
    if _streams(operation):
        response = await _opening(module_app, request)
    else:
        response = await module_client.send(request)

    try:
        case.validate_response(response, checks=[not_a_server_error])
    except FailureGroup as failure:
        raise AssertionError(
            f"{mode.value} {label} answered {response.status_code}: {response.text}"
        ) from failure
    assert response.status_code < 500, response.text
