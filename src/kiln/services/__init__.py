"""Use-cases that combine metadata, artifacts and executors."""

from kiln.services.training_jobs import TrainingJobService

__all__ = ["TrainingJobService"]
