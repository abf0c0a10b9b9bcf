"""Print the Temporal visibility query that finds a contact's interaction workflows.

    python -m stack.find_contact +39 333 123 4567
    ShareContact = "5f0c…"

With SHARELINE_TEMPORAL_CONTACT_HASH on, ShareContact holds a keyed hash of the mobile (the key
is derived from SHARELINE_SECRET_KEY), so the query can only be built with this deployment's
settings. Paste it into the Temporal UI's search box or `temporal workflow list --query`.
"""

from __future__ import annotations

import sys

from settings import Settings
from workflows.ids import contact_query


def normalized_mobile(typed: str) -> str:
    """A number as an operator types it (`+39 333-123 4567`, `0039...`) as Shareline stores it:
    international digits, no `+`."""
    digits = "".join(character for character in typed if character.isdigit())
    if not typed.lstrip().startswith("+") and digits.startswith("00"):
        digits = digits[2:]
    if not digits:
        raise ValueError(f"{typed!r} has no digits")
    return digits


def query_for(settings: Settings, typed: str) -> str:
    return contact_query(normalized_mobile(typed), settings.temporal_contact_key)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stack.find_contact <mobile>", file=sys.stderr)
        return 2
    try:
        print(query_for(Settings(), argv[0]))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
