"""The Celery worker tier: thin tasks that load by id, call a service, publish."""
