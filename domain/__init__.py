"""Pure business rules shared by the API, the activities and the workflows (no I/O here)."""
