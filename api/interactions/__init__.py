"""Interactions: reading them (router.py), routing them (routing.py: accept, reject, transfer,
close, dispose), what agents send (replies.py, uploads.py) and their tools (tools.py: notes,
tags, canned answers, video, assistant); shapes in schemas.py, visibility and sending in
service.py, refusals in errors.py."""
