"""The Receive URL: what providers post (router.py), stored idempotently (service.py)."""
