"""Annotated dependency aliases, so routes say what they need in one word."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kiln.artifacts import ArtifactStore
from kiln.services import TrainingJobService

__all__ = ["Store", "TrainingJobs"]


def _training_jobs(request: Request) -> TrainingJobService:
    service: TrainingJobService = request.app.state.training_jobs
    return service


def _store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.store
    return store


TrainingJobs = Annotated[TrainingJobService, Depends(_training_jobs)]
Store = Annotated[ArtifactStore, Depends(_store)]
