"""Mustache templates of notifications, canned answers and recontact parameters: pure cases."""

from __future__ import annotations

import pytest

from domain.templating import DEFAULT_NOTIFICATION_TEMPLATE, check_mustache, render, variables
from models import Account, Contact, Queue, User


def _account() -> Account:
    return Account(id=1, name="Acme & Co", key="acme", phone="+390000")


def _contact() -> Contact:
    return Contact(id=7, first_name="Ada", last_name="Lovelace", mobile="+393331234567", email=None)


def test_the_default_notification_names_the_queue_only_when_there_is_one():
    with_queue = variables(_account(), _contact(), queue=Queue(id=3, name="support"))
    assert render(DEFAULT_NOTIFICATION_TEMPLATE, with_queue) == (
        "Account: Acme & Co Queue: support From: +393331234567"
    )
    assert render(DEFAULT_NOTIFICATION_TEMPLATE, variables(_account(), _contact())) == (
        "Account: Acme & Co From: +393331234567"
    )


def test_values_are_inserted_as_they_are_not_html_escaped():
    contact = _contact()
    contact.first_name = '<b>Ada</b> & "friends"'
    assert render("Hi {{contact.first_name}}", variables(_account(), contact)) == 'Hi <b>Ada</b> & "friends"'


def test_the_agent_is_a_variable_only_when_given():
    agent = User(id=5, username="ann", full_name="Ann Agent")
    assert render(
        "{{agent.full_name}}|{{contact.email}}", variables(_account(), _contact(), agent=agent)
    ) == ("Ann Agent|")
    assert render("[{{agent.full_name}}]", variables(_account(), _contact())) == "[]"


def test_a_template_that_does_not_parse_is_refused_with_its_reason():
    assert check_mustache("Hello {{contact.first_name}}") == "Hello {{contact.first_name}}"
    with pytest.raises(ValueError, match="is not a valid mustache template"):
        check_mustache("Hello {{#queue}}unclosed")
