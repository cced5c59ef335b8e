"""The Starlette app: webhooks, OAuth connect, admin UI, health and metrics."""
