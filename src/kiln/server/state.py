"""What ``app.state`` holds: the one list of the server's parts, and typed access to them.

``create_app`` sets each attribute once, in the order the parts are built; routes, console pages,
the auth layer and ``serve`` read them through ``state_of(app)`` or ``request_state(request)``
instead of ``request.app.state.x`` (which is ``Any`` to the type checker). A test holds ``create_app``
to this list, by name and by type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.metadata import Database
from kiln.scheduler import Scheduler
from kiln.server.credentials import Credentials
from kiln.server.runtime_router import RuntimeRouter
from kiln.services import TrainingJobService
from kiln.services.access_keys import AccessKeyService
from kiln.services.capacity import CapacityService
from kiln.services.cluster import ClusterService
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.engine import PipelineEngine
from kiln.services.pipelines.service import PipelineService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

if TYPE_CHECKING:
    from kiln.server.auth import AuthGuard  # auth reads the state too: a type-only import, no cycle

__all__ = ["KilnState", "request_state", "state_of"]


class KilnState(Protocol):
    """The attributes of a Kiln server's ``app.state``, as ``create_app`` sets them."""

    credentials: Credentials  # the token's hash and the keys derived from it (never the token)
    settings: Settings
    db: Database
    store: ArtifactStore
    scheduler: Scheduler  # capacity: limits, queue, grants, over the executor's inventory
    capacity: CapacityService
    cluster: ClusterService  # the executor's nodes and what runs on each
    training_jobs: TrainingJobService  # also the host-job lifecycle processing jobs share
    tuning_jobs: TuningJobService
    processing_jobs: ProcessingJobService
    access_keys: AccessKeyService
    runtime_router: RuntimeRouter
    guard: AuthGuard
    asgi: AuthGuard  # what is served: the outermost layer (the guard), not the FastAPI app
    endpoints: EndpointService
    endpoint_metrics: EndpointMetrics
    transform_jobs: TransformJobService
    pipelines: PipelineService
    pipeline_engine: PipelineEngine


def state_of(app: Starlette) -> KilnState:
    """``app.state``, typed."""
    return cast(KilnState, app.state)


def request_state(connection: HTTPConnection) -> KilnState:
    """The state of the app serving ``connection`` (a request or a websocket), typed."""
    return state_of(connection.app)
