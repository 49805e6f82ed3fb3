"""Everything the web and worker tiers share. Knows nothing about HTTP or Celery."""
