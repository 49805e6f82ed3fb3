"""Personal API keys: the secrets programs use on the OpenAI-compatible routes (`/v1`)."""
