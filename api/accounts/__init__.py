"""WhatsApp accounts: their settings and secrets (router.py, schemas.py, service.py), and what
each account owns: canned answers, dispositions and the action plan (config.py; the plan's
validation and storage in plan.py)."""
