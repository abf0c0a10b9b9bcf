"""WhatsApp accounts: their settings and secrets (router.py, schemas.py, service.py), and what
each account owns: canned answers, dispositions and the action plan (config.py, plan rules in
api/action_plan.py)."""
