"""Simulated customers: people writing in to the demo accounts at `rate` messages a minute.

A message either opens a conversation (a customer who is not talking to anyone) or answers the
agent (a customer whose phone last showed a reply from the business): a conversation reads like
one, and stops after a few turns.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from demo.simulator import Simulator
from models import ProviderType

log = logging.getLogger("shareline.demo.customers")

PEOPLE: dict[ProviderType, tuple[tuple[str, str], ...]] = {
    ProviderType.twilio: (("Mario Rossi", "14155550101"), ("Grace Hopper", "14155550102"),
                          ("Alan Turing", "14155550103")),
    ProviderType.sinch_v2: (("Astrid Lind", "46732001122"), ("Nils Berg", "46732001123")),
    ProviderType.meta: (("Priya Shah", "16505551234"), ("Tom Baker", "16505551235"),
                        ("Lena Vogel", "16505551236")),
    ProviderType.kaleyra: (("Asha Rao", "919876543210"), ("Vikram Iyer", "919876543211")),
}  # fmt: skip
OPENINGS = (
    "Hi, where is my order?",
    "Hello! What are your opening hours?",
    "Good morning, I need help with my invoice.",
    "Hi there, can I change my delivery address?",
    "Hello, my package arrived damaged.",
)
FOLLOW_UPS = (
    "It's order 48213.",
    "I ordered it last Tuesday.",
    "OK, thank you. And can I pay by card?",
    "Great, that helps.",
    "Thanks, that's all!",
)
MAX_TURNS = 3


@dataclass
class SimulatedCustomers:
    simulator: Simulator
    rate: float  # messages per minute, across all accounts
    rng: random.Random = field(default_factory=random.Random)
    sent: int = 0
    _turns: dict[tuple[str, str], int] = field(default_factory=dict)

    async def run(self) -> None:
        if self.rate <= 0:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate / 60))
            try:
                await self.write_one()
            except Exception:  # a demo keeps going: the API may be restarting
                log.exception("a simulated customer could not write")

    def _waiting_for_us(self, key: str, mobile: str) -> bool:
        """True when this customer's phone shows a reply from the business after their last message."""
        thread = self.simulator.threads.get((key, mobile), [])
        return bool(thread) and thread[-1].direction == "to_customer"

    def _silent(self, key: str, mobile: str) -> bool:
        return not self.simulator.threads.get((key, mobile))

    async def write_one(self) -> None:
        """One message: an answer from someone the agent is talking to, else a new conversation."""
        candidates = [
            (key, name, mobile)
            for key, line in self.simulator.lines.items()
            for name, mobile in PEOPLE[line.type]
        ]
        if not candidates:
            return
        answering = [
            c
            for c in candidates
            if self._waiting_for_us(c[0], c[2]) and self._turns.get((c[0], c[2]), 0) < MAX_TURNS
        ]
        opening = [
            c for c in candidates if self._silent(c[0], c[2]) or self._turns.get((c[0], c[2])) == MAX_TURNS
        ]
        if answering and (not opening or self.rng.random() < 0.7):
            key, name, mobile = self.rng.choice(answering)
            turn = self._turns.get((key, mobile), 0)
            text = FOLLOW_UPS[min(turn, len(FOLLOW_UPS) - 1)] if turn < MAX_TURNS - 1 else FOLLOW_UPS[-1]
            self._turns[(key, mobile)] = turn + 1
        elif opening:
            key, name, mobile = self.rng.choice(opening)
            text = self.rng.choice(OPENINGS)
            self._turns[(key, mobile)] = 0
        else:
            return
        await self.simulator.customer_writes(key, mobile, name, text)
        self.sent += 1
