"""Shareline's workflows, one per module; `worker.WORKFLOWS` lists what the worker hosts."""
