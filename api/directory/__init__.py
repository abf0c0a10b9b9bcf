"""Who works and when: users, queues (and their agents), pauses, intervals, contact lists."""
