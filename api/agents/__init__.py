"""The signed-in agent: presence and status, the event stream (router.py) and the hub that feeds
it from PostgreSQL notifications (events.py)."""
