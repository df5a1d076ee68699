"""The pipeline engine: one ``advance`` moves one execution forward; the supervisor calls it on every
pass (and at once when a job ends).

A pass follows the steps that run (a step's job ended: the step succeeds, fails, is retried or
stopped), then starts every step whose dependencies succeeded and whose condition branch was taken,
up to the execution's parallelism; when nothing runs and nothing can start, the execution ends.

Everything is written before it is acted on: a job step's row, with the job's name, is stored before
the job is created, so a pass that a crash cut short is finished by the next one after a restart (the
job exists: the step adopts it; it does not: it is created) and no step's job is created twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kiln.errors import Conflict, KilnError, ResourceLimitExceeded, UserError
from kiln.metadata import Database
from kiln.metadata import pipelines as rows
from kiln.records import (
    PipelineExecution,
    PipelineExecutionStatus,
    PipelineStep,
    PipelineStepStatus,
    pipeline_arn,
    utcnow,
)
from kiln.services.pipelines.definition import JOB_STEP_TYPES, Definition, StepSpec, parse_definition
from kiln.services.pipelines.expressions import Resolver, evaluate_conditions, render
from kiln.services.pipelines.jobs import NAME_FIELDS, StepJobs
from kiln.services.pipelines.properties import walk_path

__all__ = ["DEFAULT_PARALLEL_STEPS", "PipelineEngine", "retry_delay", "step_job_name"]

log = logging.getLogger("kiln.pipelines")

DEFAULT_PARALLEL_STEPS = 50  # SageMaker's default MaxParallelExecutionSteps
FAILED_PASSES_BEFORE_GIVING_UP = 20  # consecutive failing passes (10 s) before the execution fails
# The request members a cached step is matched on (SageMaker's cache keys): never outputs, resources,
# role or stopping condition, so an execution writing elsewhere still reuses the step.
CACHE_KEY_MEMBERS = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}
# Job failures a RetryPolicy may name (SageMaker's): a script's own error is never retried.
_RETRYABLE = {
    "InternalServerError": "SageMaker.JOB_INTERNAL_ERROR",
    "CapacityError": "SageMaker.CAPACITY_ERROR",
    "ResourceLimitExceeded": "SageMaker.RESOURCE_LIMIT",
}
_NAME_ALPHABET = string.ascii_letters + string.digits


def step_job_name(execution_id: str, step: str, longest: int) -> str:
    """``pipelines-<execution>-<step>-<10 random>``, as SageMaker names a step's job, cut to fit."""
    suffix = "-" + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(10))
    base = f"pipelines-{execution_id}-{step}".replace("_", "-")
    return base[: longest - len(suffix)].rstrip("-") + suffix


def cache_key(spec: StepSpec, arguments: dict[str, Any]) -> str:
    members = {k: arguments.get(k) for k in CACHE_KEY_MEMBERS.get(spec.type, ())}
    text = json.dumps({"Type": spec.type, **members}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _failure_type(reason: str | None) -> str | None:
    head = (reason or "").split(":", 1)[0].strip()
    return _RETRYABLE.get(head)


def retry_delay(spec: StepSpec, step: PipelineStep) -> timedelta | None:
    """How long until the next attempt, when a RetryPolicy covers this failure and allows one more."""
    kind = _failure_type(step.failure_reason)
    if kind is None:
        return None
    for policy in spec.retry_policies:
        if kind not in (policy.get("ExceptionType") or []):
            continue
        elapsed = utcnow() - step.start_time
        max_attempts = policy.get("MaxAttempts")
        if max_attempts is not None and step.attempt_count >= int(max_attempts):
            continue
        expire = policy.get("ExpireAfterMin")
        if expire is not None and elapsed >= timedelta(minutes=int(expire)):
            continue
        interval = float(policy.get("IntervalSeconds", 1))
        backoff = float(policy.get("BackoffRate", 2.0))
        return timedelta(seconds=interval * backoff ** (step.attempt_count - 1))
    return None


@dataclass
class PipelineEngine:
    db: Database
    jobs: StepJobs
    _definitions: dict[str, Definition] = field(default_factory=dict)
    _failed_passes: dict[str, int] = field(default_factory=dict)

    def advance_all(self) -> None:
        """One pass over every execution that has not ended; one's failure never blocks the others."""
        for execution in rows.list_active_executions(self.db):
            try:
                self.advance(execution)
                self._failed_passes.pop(execution.execution_id, None)
            except Exception as e:
                failures = self._failed_passes.get(execution.execution_id, 0) + 1
                self._failed_passes[execution.execution_id] = failures
                log.exception("pipeline execution %s: pass failed (%d in a row)", execution.arn, failures)
                if failures >= FAILED_PASSES_BEFORE_GIVING_UP:
                    detail = e.message if isinstance(e, KilnError) else f"{type(e).__name__}: {e}"
                    rows.end_execution(
                        self.db,
                        execution.execution_id,
                        PipelineExecutionStatus.FAILED,
                        f"InternalServerError: {detail}",
                        utcnow(),
                    )

    def advance(self, execution: PipelineExecution) -> None:
        definition = self._definition(execution)
        steps = {s.step_name: s for s in rows.list_steps(self.db, execution.execution_id)}
        stopping = execution.status is PipelineExecutionStatus.STOPPING
        for name, step in list(steps.items()):
            if not step.status.is_terminal():
                steps[name] = self._follow(execution, definition.steps[name], step, stopping=stopping)
        if not stopping:
            self._launch_ready(execution, definition, steps)
        if any(not s.status.is_terminal() for s in steps.values()):
            return
        self._end(execution, definition, steps, stopping=stopping)
        self._definitions.pop(execution.execution_id, None)

    def _definition(self, execution: PipelineExecution) -> Definition:
        found = self._definitions.get(execution.execution_id)
        if found is None:
            found = parse_definition(execution.definition)
            self._definitions[execution.execution_id] = found
        return found

    # -- starting steps ---------------------------------------------------------------------------

    def _ready(self, spec: StepSpec, steps: dict[str, PipelineStep]) -> bool:
        for other in spec.depends_on:
            done = steps.get(other)
            if done is None or done.status is not PipelineStepStatus.SUCCEEDED:
                return False
        if spec.gate is not None:
            return steps[spec.gate[0]].outcome == ("True" if spec.gate[1] else "False")
        return True

    def _launch_ready(
        self, execution: PipelineExecution, definition: Definition, steps: dict[str, PipelineStep]
    ) -> None:
        limit = execution.max_parallel_steps or DEFAULT_PARALLEL_STEPS
        launched = True
        while launched:  # a condition, a model or a cache hit ends at once: what follows may start now
            if any(s.status is PipelineStepStatus.FAILED for s in steps.values()):
                return  # no new step after a failure; the running ones finish
            launched = False
            for spec in definition.steps.values():
                running = sum(1 for s in steps.values() if not s.status.is_terminal())
                if spec.name in steps or not self._ready(spec, steps):
                    continue
                if spec.type in JOB_STEP_TYPES and running >= limit:
                    continue
                steps[spec.name] = self._launch(execution, definition, spec, steps)
                launched = True

    def _launch(
        self,
        execution: PipelineExecution,
        definition: Definition,
        spec: StepSpec,
        steps: dict[str, PipelineStep],
    ) -> PipelineStep:
        now = utcnow()
        resolver = self._resolver(execution, definition, steps)
        try:
            if spec.type == "Condition":
                outcome = evaluate_conditions(spec.arguments.get("Conditions") or [], resolver)
                return rows.insert_step(
                    self.db,
                    execution,
                    spec.name,
                    spec.type,
                    PipelineStepStatus.SUCCEEDED,
                    now,
                    outcome="True" if outcome else "False",
                )
            if spec.type == "Fail":
                message = render(resolver.resolve(spec.arguments.get("ErrorMessage", "")))
                return rows.insert_step(
                    self.db,
                    execution,
                    spec.name,
                    spec.type,
                    PipelineStepStatus.FAILED,
                    now,
                    failure_reason=message,
                )
            arguments = resolver.resolve(spec.arguments)
        except UserError as e:
            return rows.insert_step(
                self.db,
                execution,
                spec.name,
                spec.type,
                PipelineStepStatus.FAILED,
                now,
                failure_reason=f"the step's arguments could not be resolved: {e.message}",
            )
        key = cache_key(spec, arguments) if spec.type in CACHE_KEY_MEMBERS else None
        if key is not None and spec.cache_expire is not None:
            hit = rows.find_cached_step(
                self.db, execution.pipeline_name, spec.type, key, now - spec.cache_expire
            )
            if hit is not None and hit.job_name is not None:
                log.info(
                    "pipeline execution %s: step %s reuses job %s", execution.arn, spec.name, hit.job_name
                )
                return rows.insert_step(
                    self.db,
                    execution,
                    spec.name,
                    spec.type,
                    PipelineStepStatus.SUCCEEDED,
                    now,
                    job_name=hit.job_name,
                    arguments=arguments,
                    cache_key=key,
                    cache_source_execution=hit.cache_source_execution or hit.execution_id,
                )
        field_name, longest = NAME_FIELDS[spec.type]
        arguments[field_name] = step_job_name(execution.execution_id, spec.name, longest)
        step = rows.insert_step(
            self.db,
            execution,
            spec.name,
            spec.type,
            PipelineStepStatus.STARTING,
            now,
            job_name=arguments[field_name],
            arguments=arguments,
            cache_key=key,
        )
        return self._create(execution, step)

    def _create(self, execution: PipelineExecution, step: PipelineStep) -> PipelineStep:
        """Create the step's recorded job; a job that exists already is the step's (adopted)."""
        assert step.job_name is not None
        assert step.arguments is not None
        try:
            self.jobs.create(step.step_type, step.arguments)
        except ResourceLimitExceeded as e:
            log.info("pipeline execution %s: step %s waits: %s", execution.arn, step.step_name, e.message)
            return step  # still Starting: the next pass tries again
        except Conflict:
            if not self.jobs.exists(step.step_type, step.job_name):
                raise
        except UserError as e:
            return self._end_step(step, PipelineStepStatus.FAILED, e.message)
        if step.step_type in JOB_STEP_TYPES:
            return rows.update_step(
                self.db, step.execution_id, step.step_name, status=PipelineStepStatus.EXECUTING
            )
        return self._end_step(step, PipelineStepStatus.SUCCEEDED, None)

    # -- following steps --------------------------------------------------------------------------

    def _end_step(self, step: PipelineStep, status: PipelineStepStatus, reason: str | None) -> PipelineStep:
        return rows.update_step(
            self.db,
            step.execution_id,
            step.step_name,
            status=status,
            failure_reason=reason,
            end_time=utcnow(),
        )

    def _follow(
        self, execution: PipelineExecution, spec: StepSpec, step: PipelineStep, *, stopping: bool
    ) -> PipelineStep:
        assert step.job_name is not None
        if step.status is PipelineStepStatus.STARTING:
            if self.jobs.exists(step.step_type, step.job_name):  # created just before a crash
                if step.step_type not in JOB_STEP_TYPES:
                    return self._end_step(step, PipelineStepStatus.SUCCEEDED, None)
                step = rows.update_step(
                    self.db, step.execution_id, step.step_name, status=PipelineStepStatus.EXECUTING
                )
            elif stopping:
                return self._end_step(step, PipelineStepStatus.STOPPED, None)
            elif step.retry_at is not None and utcnow() < step.retry_at:
                return step
            else:
                return self._create(execution, step)
        job_name = step.job_name
        assert job_name is not None
        state = self.jobs.state(step.step_type, job_name)
        if not state.ended:
            if stopping and step.status is PipelineStepStatus.EXECUTING:
                self.jobs.stop(step.step_type, job_name)
                return rows.update_step(
                    self.db, step.execution_id, step.step_name, status=PipelineStepStatus.STOPPING
                )
            return step
        if state.succeeded:
            return self._end_step(step, PipelineStepStatus.SUCCEEDED, None)
        if state.stopped:
            return self._end_step(step, PipelineStepStatus.STOPPED, state.failure_reason)
        failed = rows.update_step(
            self.db,
            step.execution_id,
            step.step_name,
            failure_reason=state.failure_reason or "the job failed",
        )
        delay = None if stopping else retry_delay(spec, failed)
        if delay is None:
            return self._end_step(failed, PipelineStepStatus.FAILED, failed.failure_reason)
        field_name, longest = NAME_FIELDS[spec.type]
        arguments = dict(failed.arguments or {})
        arguments[field_name] = step_job_name(execution.execution_id, spec.name, longest)
        log.info(
            "pipeline execution %s: retrying step %s as %s", execution.arn, spec.name, arguments[field_name]
        )
        return rows.update_step(
            self.db,
            step.execution_id,
            step.step_name,
            status=PipelineStepStatus.STARTING,
            job_name=arguments[field_name],
            arguments=arguments,
            attempt_count=failed.attempt_count + 1,
            retry_at=utcnow() + delay,
        )

    # -- the execution's ending -------------------------------------------------------------------

    def _end(
        self,
        execution: PipelineExecution,
        definition: Definition,
        steps: dict[str, PipelineStep],
        *,
        stopping: bool,
    ) -> None:
        failed = [s for s in steps.values() if s.status is PipelineStepStatus.FAILED]
        if stopping:
            status, reason = PipelineExecutionStatus.STOPPED, None
        elif failed:
            first = min(failed, key=lambda s: s.end_time or s.start_time)
            what = "failed with message" if first.step_type == "Fail" else "failed"
            status = PipelineExecutionStatus.FAILED
            reason = f"Step {first.step_name!r} {what}: {first.failure_reason}"[:1300]
        else:
            status, reason = PipelineExecutionStatus.SUCCEEDED, None
        rows.end_execution(self.db, execution.execution_id, status, reason, utcnow())
        log.info("pipeline execution %s: %s", execution.arn, status.value)

    # -- references -------------------------------------------------------------------------------

    def _resolver(
        self, execution: PipelineExecution, definition: Definition, steps: dict[str, PipelineStep]
    ) -> Resolver:
        def properties(name: str) -> Any:
            step = steps[name]
            if step.step_type == "Condition":
                return {"Outcome": step.outcome}
            assert step.job_name is not None
            return self.jobs.describe(step.step_type, step.job_name)

        def property_file(name: str, file_name: str) -> Any:
            declared = definition.steps[name].property_files[file_name]
            output = declared.get("OutputName")
            described = properties(name)
            uri = walk_path(
                described,
                ["ProcessingOutputConfig", "Outputs", str(output), "S3Output", "S3Uri"],
                f"Steps.{name}.PropertyFiles.{file_name}",
            )
            return self.jobs.read_json(f"{str(uri).rstrip('/')}/{declared.get('FilePath', '')}")

        variables = {
            "PipelineName": execution.pipeline_name,
            "PipelineArn": pipeline_arn(execution.pipeline_name),
            "PipelineExecutionId": execution.execution_id,
            "PipelineExecutionArn": execution.arn,
            "StartDateTime": execution.creation_time.isoformat(),
            "CurrentDateTime": utcnow().isoformat(),
        }
        return Resolver(execution.parameters, variables, properties, property_file, self.jobs.read_json)
