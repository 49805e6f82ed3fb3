"""The stream channel: per-message replay buffer + pub/sub in Redis, and the cancel flag."""
