"""SQLAlchemy rows. Only the ``metadata`` package sees them; everything else gets frozen records."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite keeps no zone, so it is put back on the way out, and
    PostgreSQL answers in its session's TimeZone, so the answer is turned back to UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use datetime.now(timezone.utc)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class TrainingJobRow(Base):
    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    secondary_status: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)
    training_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    training_end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    model_artifacts: Mapped[str | None] = mapped_column(Text)
    output_artifacts: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)  # of attempts already ended
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    attempt_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # capacity (migration 0005_capacity)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    price_per_hour: Mapped[float | None] = mapped_column(Float)
    capacity_warnings: Mapped[list[str] | None] = mapped_column(JSON)
    # processing jobs (migration 0010_processing_jobs): host jobs of either kind share this table
    kind: Mapped[str] = mapped_column(String(16), index=True, default="training", server_default="training")
    exit_message: Mapped[str | None] = mapped_column(Text)


class StatusTransitionRow(Base):
    __tablename__ = "training_job_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text, default="")


class TrainingJobHostRow(Base):
    __tablename__ = "training_job_hosts"
    __table_args__ = (UniqueConstraint("job_id", "host"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str | None] = mapped_column(Text)  # the executor's handle once its process started
    exit_code: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last event batch stored from this host; a batch re-sent after a lost answer is skipped.
    last_batch: Mapped[int] = mapped_column(Integer, default=0)
    node: Mapped[str | None] = mapped_column(String(256))  # where the executor placed it (0013)


class LogLineRow(Base):
    __tablename__ = "training_job_logs"
    __table_args__ = (Index("ix_training_job_logs_job_seq", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the line's order (seq)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(32))
    stream: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text)


class MetricValueRow(Base):
    __tablename__ = "training_job_metrics"
    __table_args__ = (Index("ix_training_job_metrics_job_name", "job_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


# -- hosting: models, endpoint configs, endpoints and their instances ----------------------------------


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)


class EndpointConfigRow(Base):
    __tablename__ = "endpoint_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)


class EndpointRow(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    config_name: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16), index=True)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)
    in_service_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EndpointInstanceRow(Base):
    __tablename__ = "endpoint_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(80), unique=True)
    variant: Mapped[str] = mapped_column(String(63))
    config_name: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str | None] = mapped_column(Text)  # the executor's handle once its process started
    port: Mapped[int | None] = mapped_column(Integer)
    socket_path: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- hyperparameter tuning: tuning jobs, their trials and their Optuna journal -------------------------


class TuningJobRow(Base):
    __tablename__ = "tuning_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    random_seed: Mapped[int] = mapped_column(Integer)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TuningTrialRow(Base):
    """A trial links an Optuna trial number to the training job that runs it (created after this row)."""

    __tablename__ = "tuning_job_trials"
    __table_args__ = (UniqueConstraint("tuning_job_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tuning_job_id: Mapped[int] = mapped_column(ForeignKey("tuning_jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    training_job_name: Mapped[str] = mapped_column(String(63), unique=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    objective_status: Mapped[str] = mapped_column(String(16))
    objective_value: Mapped[float | None] = mapped_column(Float)
    early_stopped: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)


class TuningJournalRow(Base):
    """One entry of a tuning job's Optuna journal: the study lives in Kiln's own database and schema."""

    __tablename__ = "tuning_job_journal"
    __table_args__ = (UniqueConstraint("tuning_job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tuning_job_id: Mapped[int] = mapped_column(ForeignKey("tuning_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 0, 1, … per tuning job: Optuna's log number
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)


# -- capacity: reservations of CPUs and GPUs by training jobs and endpoints (migration 0005_capacity) --


class CapacityReservationRow(Base):
    __tablename__ = "capacity_reservations"
    __table_args__ = (
        # One live reservation per owner: a second one for the same job or endpoint is refused.
        Index(
            "ix_capacity_reservations_live_owner",
            "owner",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the queue order
    owner: Mapped[str] = mapped_column(String(200))
    use: Mapped[str] = mapped_column(String(16))
    instance_type: Mapped[str] = mapped_column(String(64))
    instance_count: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), index=True)
    slots: Mapped[int] = mapped_column(Integer)
    cpus_per_instance: Mapped[int] = mapped_column(Integer)
    gpus_per_instance: Mapped[int] = mapped_column(Integer)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    price_per_hour: Mapped[float] = mapped_column(Float)
    grants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[str]] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


# -- the AWS wire: access keys and resource tags (migration 0006_access_keys) ---------------------------


class AccessKeyRow(Base):
    __tablename__ = "access_keys"

    access_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    # Fernet token of the secret (server/wire verifies SigV4 by recomputing, so it needs the secret itself).
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ResourceTagRow(Base):
    __tablename__ = "resource_tags"
    __table_args__ = (UniqueConstraint("resource_arn", "key", name="uq_resource_tags_arn_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_arn: Mapped[str] = mapped_column(String(512), index=True)
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(256))


class EndpointMetricRow(Base):
    """One variant's invocations in one 10-second period (migration 0008_endpoint_metrics)."""

    __tablename__ = "endpoint_metrics"
    __table_args__ = (UniqueConstraint("endpoint_name", "variant_name", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_name: Mapped[str] = mapped_column(String(63))
    variant_name: Mapped[str] = mapped_column(String(63))
    period_start: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds, a multiple of 10
    invocations: Mapped[int] = mapped_column(Integer)
    errors_4xx: Mapped[int] = mapped_column(Integer)
    errors_5xx: Mapped[int] = mapped_column(Integer)
    instances: Mapped[int] = mapped_column(Integer)  # the variant's instances in service (most seen)
    model_latency: Mapped[dict[str, int]] = mapped_column(JSON)  # histogram: bucket index → count
    overhead_latency: Mapped[dict[str, int]] = mapped_column(JSON)
    model_latency_sum_us: Mapped[float] = mapped_column(Float)
    overhead_latency_sum_us: Mapped[float] = mapped_column(Float)


class TransformJobRow(Base):
    __tablename__ = "transform_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    instance_handles: Mapped[list[str] | None] = mapped_column(JSON)  # migration 0014


# pipelines (migration 0012_pipelines)
class PipelineRow(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    role_arn: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    max_parallel_steps: Mapped[int | None] = mapped_column(Integer)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)


class PipelineExecutionRow(Base):
    __tablename__ = "pipeline_executions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(32), unique=True)
    pipeline_name: Mapped[str] = mapped_column(String(256), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # the pipeline's, as it was at the start
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)  # every parameter, typed
    display_name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    max_parallel_steps: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified_time: Mapped[datetime] = mapped_column(UTCDateTime)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PipelineStepRow(Base):
    __tablename__ = "pipeline_execution_steps"
    __table_args__ = (UniqueConstraint("execution_id", "step_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(32), index=True)
    pipeline_name: Mapped[str] = mapped_column(String(256), index=True)
    step_name: Mapped[str] = mapped_column(String(64))
    step_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    job_name: Mapped[str | None] = mapped_column(String(256))  # written before the job is created
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # resolved, as the job was created
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    cache_source_execution: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(8))  # a Condition step's "True" / "False"
    attempt_count: Mapped[int] = mapped_column(Integer, default=1)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
