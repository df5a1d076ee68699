"""Batch transform: a model run over every object under an S3 prefix on the endpoints' model server."""

from kiln.services.transform.jobs import TransformJobService

__all__ = ["TransformJobService"]
