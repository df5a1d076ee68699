"""Kiln's metadata: SQLAlchemy on SQLite (default) or PostgreSQL, Alembic migrations, frozen records out."""

from kiln.metadata.database import Database
from kiln.metadata.job_logs import append_host_events, list_log_lines, list_metric_values
from kiln.metadata.training_jobs import (
    count_training_jobs,
    find_training_job,
    get_training_job,
    insert_training_job,
    list_active_training_jobs,
    list_jobs_with_live_hosts,
    list_training_jobs,
    record_transition,
    request_stop,
    start_attempt,
    update_host,
)

__all__ = [
    "Database",
    "append_host_events",
    "count_training_jobs",
    "find_training_job",
    "get_training_job",
    "insert_training_job",
    "list_active_training_jobs",
    "list_jobs_with_live_hosts",
    "list_log_lines",
    "list_metric_values",
    "list_training_jobs",
    "record_transition",
    "request_stop",
    "start_attempt",
    "update_host",
]

from kiln.metadata import hosting

__all__ += ["hosting"]
