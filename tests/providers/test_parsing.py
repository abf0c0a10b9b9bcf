"""Documented payloads of each provider, normalized."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from models import DeliveryStatus, MessageType
from providers.base import WebhookRejected, WebhookRequest
from providers.kaleyra import KaleyraProvider
from providers.meta import MetaProvider
from providers.sinch import SinchProvider
from providers.twilio import TwilioProvider
from tests.webhooks import kaleyra_callback, meta_envelope, meta_text, sinch_text, twilio_message


def _json(body: object) -> WebhookRequest:
    return WebhookRequest({}, json.dumps(body).encode(), "application/json")


def _form(fields: dict[str, str]) -> WebhookRequest:
    return WebhookRequest({}, urlencode(fields).encode(), "application/x-www-form-urlencoded")


def test_twilio_text_media_location_button_and_status():
    parsed = TwilioProvider().parse(_form(twilio_message("SM1", "Ciao")))
    (message,) = parsed.messages
    assert (message.provider_message_id, message.mobile, message.profile_name, message.type, message.text) == (
        "SM1", "393331234567", "Mario Rossi", MessageType.text, "Ciao"
    )  # fmt: skip
    media = TwilioProvider().parse(_form(twilio_message("MM2", "", NumMedia="1", MessageType="image",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME1", MediaContentType0="image/jpeg")))  # fmt: skip
    assert media.messages[0].type is MessageType.image
    assert media.messages[0].media is not None and media.messages[0].media.mime_type == "image/jpeg"
    location = TwilioProvider().parse(
        _form(twilio_message("SM3", "", MessageType="location", Latitude="45.4", Longitude="9.1"))
    )
    assert location.messages[0].type is MessageType.location
    button = TwilioProvider().parse(
        _form(twilio_message("SM4", "", MessageType="button", ButtonText="Yes", ButtonPayload="y"))
    )
    assert (button.messages[0].type, button.messages[0].text) == (MessageType.button, "Yes")
    odd = TwilioProvider().parse(_form(twilio_message("SM5", "", MessageType="hologram")))
    assert odd.messages[0].type is MessageType.unsupported
    status = TwilioProvider().parse(
        _form({"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "63016"})
    )
    assert status.statuses[0].status is DeliveryStatus.failed
    assert status.statuses[0].error_code == "63016"
    assert TwilioProvider().parse(_form({"MessageSid": "SM9", "MessageStatus": "sending"})).statuses == []


def test_meta_batch_with_every_type_and_statuses():
    messages = [
        meta_text("wamid.1", "one"),
        {"from": "16505551234", "id": "wamid.2", "timestamp": "1732442400", "type": "image",
         "image": {"caption": "look", "mime_type": "image/jpeg", "sha256": "abc", "id": "MEDIA1"}},
        {"from": "16505551234", "id": "wamid.3", "timestamp": "1732442400", "type": "location",
         "location": {"latitude": 45.4, "longitude": 9.1, "name": "Duomo", "address": "Milano"}},
        {"from": "16505551234", "id": "wamid.4", "timestamp": "1732442400", "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}}},
        {"from": "16505551234", "id": "wamid.5", "timestamp": "1732442400", "type": "reaction",
         "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
        {"from": "16505551234", "id": "wamid.6", "timestamp": "1732442400", "type": "contacts",
         "contacts": [{"name": {"formatted_name": "Ann"}, "phones": [{"phone": "+1 555"}]}]},
        {"from": "16505551234", "id": "wamid.7", "timestamp": "1732442400", "type": "unknown",
         "errors": [{"code": 131051, "title": "Message type unknown"}]},
    ]  # fmt: skip
    statuses = [
        {"id": "wamid.out1", "status": "delivered", "timestamp": "1732442401", "recipient_id": "16505551234"},
        {"id": "wamid.out2", "status": "failed", "timestamp": "1732442401", "recipient_id": "16505551234",
         "errors": [{"code": 131047, "title": "Re-engagement message", "message": "More than 24 hours"}]},
    ]  # fmt: skip
    envelope = meta_envelope(messages, statuses, names={"16505551234": "Kerry"})
    envelope["entry"].append(meta_envelope([meta_text("wamid.8", "second entry")])["entry"][0])
    parsed = MetaProvider().parse(_json(envelope))
    assert [m.type for m in parsed.messages] == [
        MessageType.text, MessageType.image, MessageType.location, MessageType.interactive,
        MessageType.reaction, MessageType.contacts, MessageType.unsupported, MessageType.text,
    ]  # fmt: skip
    assert parsed.messages[0].profile_name == "Kerry"
    assert parsed.messages[1].media is not None and parsed.messages[1].media.reference == "MEDIA1"
    assert parsed.messages[2].text == "Duomo Milano"
    assert parsed.messages[6].payload["errors"][0]["code"] == 131051
    assert [(s.status, s.error_code) for s in parsed.statuses] == [
        (DeliveryStatus.delivered, None),
        (DeliveryStatus.failed, "131047"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"object": "x"},
        {"entry": "no"},
    ],
)
def test_meta_malformed(body):
    with pytest.raises(WebhookRejected) as rejected:
        MetaProvider().parse(_json(body))
    assert rejected.value.status_code == 400


def test_a_meta_message_without_an_id_is_rejected_alone():
    bad = {"type": "text"}
    body = {
        "entry": [{"changes": [{"field": "messages", "value": {"messages": [bad, meta_text("wamid.1")]}}]}]
    }
    parsed = MetaProvider().parse(_json(body))
    assert [m.provider_message_id for m in parsed.messages] == ["wamid.1"]
    assert [(r.reason, r.raw) for r in parsed.rejected] == [
        ("entry[0].changes[0].value.messages[0]: id is missing", bad)
    ]


def test_sinch_message_media_and_delivery_report():
    parsed = SinchProvider().parse(_json(sinch_text("01MSG", "Hej")))
    assert (parsed.messages[0].mobile, parsed.messages[0].text) == ("46732001122", "Hej")
    media = sinch_text("01MSG2")
    media["message"]["contact_message"] = {"media_message": {"url": "https://cdn.sinch.example/x/photo.jpg"}}
    assert SinchProvider().parse(_json(media)).messages[0].type is MessageType.image
    report = {"app_id": "A", "project_id": "P", "message_delivery_report": {
        "message_id": "01OUT", "conversation_id": "C", "status": "FAILED", "channel_identity": {"channel": "WHATSAPP", "identity": "46732001122"},
        "contact_id": "X", "reason": {"code": "OUTSIDE_ALLOWED_SENDING_WINDOW", "description": "window closed", "sub_code": "UNSPECIFIED_SUB_CODE"}}}  # fmt: skip
    status = SinchProvider().parse(_json(report)).statuses[0]
    assert (status.status, status.error_code) == (DeliveryStatus.failed, "OUTSIDE_ALLOWED_SENDING_WINDOW")
    assert SinchProvider().parse(_json({"app_id": "A", "contact_create_event": {}})).messages == []


def test_kaleyra_callback_profile_meta_format_and_status():
    parsed = KaleyraProvider().parse(_json(kaleyra_callback("Namaste")))
    (message,) = parsed.messages
    assert (message.mobile, message.profile_name, message.text) == ("919876543210", "Asha", "Namaste")
    assert message.provider_message_id.startswith("kaleyra-")
    again = KaleyraProvider().parse(_json(kaleyra_callback("Namaste")))
    assert again.messages[0].provider_message_id == message.provider_message_id  # a retry is the same message
    image = KaleyraProvider().parse(
        _json(kaleyra_callback("", type="image", media_url="https://k.example/m.jpg", mime_type="image/jpeg"))
    )
    assert image.messages[0].type is MessageType.image
    older = KaleyraProvider().parse(
        _json(meta_envelope([meta_text("wamid.K1")])["entry"][0]["changes"][0]["value"])
    )
    assert older.messages[0].provider_message_id == "wamid.K1"
    status = KaleyraProvider().parse(
        _json({"id": "kaleyra-7", "status": "not-sent", "error": {"code": "E1", "message": "nope"}})
    )
    assert (status.statuses[0].status, status.statuses[0].error_code) == (DeliveryStatus.failed, "E1")


def test_sinch_accept_time_is_when_the_customer_wrote():
    (message,) = SinchProvider().parse(_json(sinch_text("01MSG", "Hej"))).messages
    assert message.sent_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    body = sinch_text("01MSG2")
    body["message"]["accept_time"] = "2026-11-24T11:30:05.123456789Z"  # nanoseconds, as Sinch may
    (precise,) = SinchProvider().parse(_json(body)).messages
    assert precise.sent_at == datetime(2026, 11, 24, 11, 30, 5, 123456, tzinfo=UTC)
    del body["message"]["accept_time"]
    assert SinchProvider().parse(_json(body)).messages[0].sent_at is None


def test_kaleyra_created_at_is_when_the_customer_wrote():
    wrote = datetime(2024, 11, 24, 10, 0, tzinfo=UTC)
    cases = [
        ("1732442400", wrote),  # unix seconds as a string, as seen in the wild
        (1732442400, wrote),
        ("1732442400000", wrote),  # milliseconds
        ("2024-11-24T10:00:00Z", wrote),
        ("2024-11-24 15:30:00+05:30", wrote),
        ("2024-11-24 10:00:00", wrote),  # no offset: taken as UTC
        ("", None),
        ("yesterday", None),
    ]
    for created_at, expected in cases:
        body = kaleyra_callback("Namaste", created_at=created_at)
        assert KaleyraProvider().parse(_json(body)).messages[0].sent_at == expected, created_at


def test_a_kaleyra_callback_without_an_id_is_identified_by_its_content():
    body = kaleyra_callback("Namaste")
    compact = json.dumps(body, separators=(",", ":")).encode()
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    ids = {
        KaleyraProvider().parse(WebhookRequest({}, raw, "application/json")).messages[0].provider_message_id
        for raw in (compact, spaced)
    }
    assert len(ids) == 1 and ids.pop().startswith("kaleyra-")
    first = KaleyraProvider().parse(_json(body)).messages[0].provider_message_id
    other = KaleyraProvider().parse(_json(kaleyra_callback("Namaste!"))).messages[0].provider_message_id
    assert first != other
