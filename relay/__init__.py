"""The hand-over of stored inbound messages to their interaction workflows (a transactional outbox)."""
