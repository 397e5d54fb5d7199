"""Use cases by feature, composed into one facade (`QueueService`) for the GraphQL layer and the worker."""

from domain.usecases.service import QueueService

__all__ = ["QueueService"]
