"""/api/v1/cluster: the executor's nodes, what each holds and what runs where."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kiln.server.deps import Cluster
from kiln.server.schemas.cluster import cluster_public

router = APIRouter(tags=["cluster"])


@router.get("/cluster")
def cluster(service: Cluster) -> dict[str, Any]:
    """The nodes work runs on (one for the local executor; the Ray cluster's for ``ray``), the CPUs,
    memory and GPUs each holds for Kiln's jobs and endpoints, which job host or endpoint instance runs
    on which node, and what waits in the queue for room."""
    return cluster_public(service.view())
