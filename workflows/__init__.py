"""Shareline's workflows; the worker registers `WORKFLOWS`."""

from __future__ import annotations

from workflows.interaction import InteractionWorkflow

WORKFLOWS = [InteractionWorkflow]
