"""Use cases by feature, composed into one facade for the GraphQL layer and the worker."""

from domain.services import QueueService

__all__ = ["QueueService"]
