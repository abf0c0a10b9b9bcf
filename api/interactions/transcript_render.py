"""How a transcript reads: its entries (a message, a note, a timeline event, an offer) in words,
as plain text and as a self-contained HTML page. The route and the zip are in
api.interactions.transcript; this module only turns what was read into bytes."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from models import Direction


@dataclass
class Entry:
    """One line of the transcript: a message, a note, a timeline event or an offer."""

    at: datetime
    who: str
    text: str
    kind: str  # inbound, outbound, internal, event
    status: str = ""  # delivery status of an outbound message, with the provider's error
    attachment: str = ""  # the media's name in the zip (or why there is none)


@dataclass
class Heading:
    """What the transcript says of the interaction before its thread."""

    interaction_id: int
    started_at: datetime
    account: str
    contact_name: str  # who the contact's messages are from
    contact: str  # the name and the number
    facts: list[tuple[str, str]]


def describe(
    kind: str, data: dict[str, Any], agent: str | None, queue: str | None, disposition: str | None
) -> str:
    """A timeline event in words (an unknown kind by its name and facts)."""
    target = agent or (f"queue {queue}" if queue else "")
    reason = f": {data['reason']}" if data.get("reason") else ""
    known = {
        "accepted": "accepted the interaction" + (f" from queue {queue}" if queue else ""),
        "transfer": f"transferred to {target or 'someone'}",
        "transfer_returned": f"transfer not taken: back to {agent or 'its owner'}",
        "transfer_void": "transfer void: the owner had changed",
        "released": f"{agent or 'the owner'} did not answer: routed again",
        "tags": "tags"
        + "".join(f" +{tag}" for tag in data.get("add", []))
        + "".join(f" -{tag}" for tag in data.get("remove", [])),
        "closed": "closed" + (f" with disposition {disposition}" if disposition else "") + reason,
        "disposed": f"disposition {disposition or data.get('disposition_id')}",
        "video_call": "started a video call",
        "message_moved": "a message moved to the contact's next interaction",
        "offer_refused": "refused an offer" + reason,
    }
    if kind in known:
        return known[kind]
    facts = ", ".join(
        f"{name} {value}" for name, value in data.items() if name not in {"from", "agent_id", "queue_id"}
    )
    return kind.replace("_", " ") + (f": {facts}" if facts else "")


def local_time(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


class TextTranscript:
    def __init__(self, heading: Heading, zone: tzinfo) -> None:
        self.heading, self.zone = heading, zone

    def start(self) -> bytes:
        heading = self.heading
        lines = [
            f"Interaction {heading.interaction_id}",
            f"Account: {heading.account}",
            f"Contact: {heading.contact}",
        ]
        lines += [f"{label}: {value}" for label, value in heading.facts]
        return ("\n".join(lines) + "\n\n").encode()

    def entry(self, entry: Entry) -> bytes:
        at = local_time(entry.at, self.zone)
        if entry.kind == "event":
            line = f"{at}  * {' '.join(part for part in (entry.who, entry.text) if part)}"
        elif entry.kind == Direction.internal.value:
            line = f"{at}  INTERNAL NOTE by {entry.who} (not sent to the contact): {entry.text}"
        else:
            line = f"{at}  {entry.who}: {entry.text}"
        if entry.attachment:
            line += f" [attachment: {entry.attachment}]"
        if entry.status:
            line += f" [{entry.status}]"
        return (line.replace("\n", "\n    ") + "\n").encode()

    def end(self) -> bytes:
        return b""


STYLE = """body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
.entry{margin:.4rem 0;padding:.4rem .6rem;border-radius:.4rem;white-space:pre-wrap}
.in{background:#f1f1f1;margin-right:20%}.out{background:#dcf8c6;margin-left:20%}
.internal{background:#fff4c2;border:1px dashed #b08900}.event{color:#555;font-size:.9rem}
.meta{font-size:.8rem;color:#666;display:block}"""


class HtmlTranscript(TextTranscript):
    def start(self) -> bytes:
        heading = self.heading
        facts = [("Account", heading.account), ("Contact", heading.contact), *heading.facts]
        rows = "".join(
            f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in facts
        )
        title = f"Interaction {heading.interaction_id}"
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body><h1>{title}</h1><dl>{rows}</dl>\n"
        ).encode()

    def entry(self, entry: Entry) -> bytes:
        at = html.escape(local_time(entry.at, self.zone))
        who = html.escape(entry.who)
        if entry.kind == "event":
            did = " ".join(part for part in (who, html.escape(entry.text)) if part)
            return f'<div class="entry event"><time>{at}</time> {did}</div>\n'.encode()
        label = "Internal note (not sent to the contact) · " if entry.kind == Direction.internal.value else ""
        extra = f" · {html.escape(entry.status)}" if entry.status else ""
        attachment = (
            f'<span class="meta">attachment: {html.escape(entry.attachment)}</span>'
            if entry.attachment
            else ""
        )
        return (
            f'<div class="entry {entry.kind}"><span class="meta">{label}{who} · <time>{at}</time>'
            f"{extra}</span>{html.escape(entry.text)}{attachment}</div>\n"
        ).encode()

    def end(self) -> bytes:
        return b"</body></html>\n"
