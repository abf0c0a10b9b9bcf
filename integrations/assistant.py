"""The agent assistant: a suggested reply from an OpenAI-compatible chat-completions endpoint.

`POST {base_url}/chat/completions` with `Authorization: Bearer <key>` and `{"model", "messages"}`;
the suggestion is `choices[0].message.content`. The model gets the account's instructions and
canned answers as the system message, the transcript as the conversation, and the agent's
question (or a request for the next reply) last.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from domain.redact import redact
from integrations import ExternalServiceError, post_json

SERVICE = "the assistant model"
DEFAULT_QUESTION = "Suggest the agent's next reply to the customer. Answer with the reply only."


@dataclass
class AssistantConfig:
    base_url: str
    model: str
    api_key: str | None
    instructions: str = ""


@dataclass
class Turn:
    customer: bool  # False: the agent (or Shareline) wrote it
    text: str


async def suggest_reply(
    http: httpx.AsyncClient,
    config: AssistantConfig,
    transcript: list[Turn],
    answers: list[tuple[str, str]],
    question: str | None,
) -> str:
    system = [
        "You help a contact-center agent answer a customer on WhatsApp. "
        "Suggest replies; the agent decides what is sent.",
    ]
    if config.instructions:
        system.append(config.instructions)
    if answers:
        system.append("Approved canned answers:\n" + "\n".join(f"- {name}: {text}" for name, text in answers))
    messages = [{"role": "system", "content": "\n\n".join(system)}]
    messages += [{"role": "user" if t.customer else "assistant", "content": t.text} for t in transcript]
    messages.append({"role": "user", "content": question or DEFAULT_QUESTION})
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    try:
        answer = await post_json(
            http,
            SERVICE,
            f"{config.base_url.rstrip('/')}/chat/completions",
            {"model": config.model, "messages": messages},
            headers,
        )
    except ExternalServiceError as error:  # the model's words reach the agent: bounded, no key in them
        reason = redact(error.reason, [config.api_key])
        raise ExternalServiceError(error.status_code, SERVICE, reason) from error
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        raise ExternalServiceError(502, SERVICE, "answered without choices[0].message.content") from error
    if not isinstance(content, str) or not content.strip():
        raise ExternalServiceError(502, SERVICE, "answered an empty suggestion")
    return content.strip()
