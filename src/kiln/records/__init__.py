"""Frozen records and lifecycle enums shared by every layer, one module per domain.

The storage layer hands these out instead of ORM rows, so nothing above it can change the database
by accident. Status names are SageMaker's, so its users (and its SDK) read them unchanged.

Everything is re-exported here, so ``from kiln.records import X`` is the one import path.
"""

from kiln.records.access_keys import (
    AccessKey,
    AccessKeyStatus,
)
from kiln.records.capacity import (
    CapacityUse,
    InstanceGrant,
    Reservation,
    ReservationState,
)
from kiln.records.common import (
    JobStatus,
    from_epoch,
    utcnow,
)
from kiln.records.hosting import (
    Endpoint,
    EndpointConfigRecord,
    EndpointInstance,
    EndpointMetricPeriod,
    EndpointRoutes,
    EndpointStatus,
    InstanceState,
    ModelRecord,
    VariantRoute,
)
from kiln.records.pipelines import (
    Pipeline,
    PipelineExecution,
    PipelineExecutionStatus,
    PipelineStep,
    PipelineStepStatus,
    pipeline_arn,
    pipeline_execution_arn,
)
from kiln.records.processing import (
    processing_job_arn,
)
from kiln.records.training import (
    HOST_JOB_KINDS,
    HostState,
    LogLine,
    MetricValue,
    SecondaryStatus,
    StatusTransition,
    TrainingJob,
    TrainingJobHost,
    TrainingJobStatus,
    host_job_resources,
)
from kiln.records.transform import (
    TransformJob,
)
from kiln.records.tuning import (
    ObjectiveStatus,
    TuningJob,
    TuningJobStatus,
    TuningTrial,
)

__all__ = [
    "HOST_JOB_KINDS",
    "AccessKey",
    "AccessKeyStatus",
    "CapacityUse",
    "Endpoint",
    "EndpointConfigRecord",
    "EndpointInstance",
    "EndpointMetricPeriod",
    "EndpointRoutes",
    "EndpointStatus",
    "HostState",
    "InstanceGrant",
    "InstanceState",
    "JobStatus",
    "LogLine",
    "MetricValue",
    "ModelRecord",
    "ObjectiveStatus",
    "Pipeline",
    "PipelineExecution",
    "PipelineExecutionStatus",
    "PipelineStep",
    "PipelineStepStatus",
    "Reservation",
    "ReservationState",
    "SecondaryStatus",
    "StatusTransition",
    "TrainingJob",
    "TrainingJobHost",
    "TrainingJobStatus",
    "TransformJob",
    "TuningJob",
    "TuningJobStatus",
    "TuningTrial",
    "VariantRoute",
    "from_epoch",
    "host_job_resources",
    "pipeline_arn",
    "pipeline_execution_arn",
    "processing_job_arn",
    "utcnow",
]
