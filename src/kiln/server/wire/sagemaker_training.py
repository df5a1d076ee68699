"""SageMaker's training-job and tuning-job operations, on ``TrainingJobService`` and ``TuningJobService``."""

from __future__ import annotations

from typing import Any

from kiln.errors import ValidationError
from kiln.images import parse_image_uri
from kiln.runtime.training.opt_ml_view import private_view_missing
from kiln.server.schemas.training_jobs import (
    CreateTrainingJobRequest,
    describe_training_job,
    summarize_training_job,
)
from kiln.server.schemas.tuning_jobs import (
    CreateTuningJobRequest,
    describe_tuning_job,
    summarize_trial,
    summarize_tuning_job,
)
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, select_page
from kiln.server.wire.paging import page
from kiln.server.wire.requests import accept_typed, refuse_unsupported
from kiln.server.wire.sagemaker_tags import store_tags

__all__ = ["TRAINING_OPERATIONS"]

LIST_ALL = 10_000  # a List answer filters and pages in the wire; the services list this many at most
REQUESTED_RESOURCE_NOT_FOUND = "Requested resource not found."  # SageMaker's words for a missing job
NO_ROLE = "kiln-no-role"  # the role a job made without RoleArn (through Kiln's own API) is shown with
_ENTRY = "name the script in hyperparameter sagemaker_program (the SDK's entry_point)"
# Members that change what runs: refused rather than ignored (docs/wire.md lists what is ignored).
UNSUPPORTED_TRAINING = {
    "ResourceConfig.InstanceGroups": "use InstanceType and InstanceCount (one group)",
    "InputDataConfig[].DataSource.FileSystemDataSource": "use an S3DataSource",
    "InputDataConfig[].DataSource.DatasetSource": "use an S3DataSource",
}
UNSUPPORTED_TUNING = {
    "TrainingJobDefinitions": "give one TrainingJobDefinition",
    "Autotune": "give the strategy and ranges in HyperParameterTuningJobConfig",
    "HyperParameterTuningJobConfig.ParameterRanges.AutoParameters": "give explicit parameter ranges",
    **{f"TrainingJobDefinition.{path}": instead for path, instead in UNSUPPORTED_TRAINING.items()},
}


def _check_image(specification: dict[str, Any], where: str) -> None:
    image = specification.get("TrainingImage")
    if not image:
        raise ValidationError(
            f"{where}.TrainingImage is required: Kiln reads the framework from a SageMaker framework image "
            "URI (e.g. 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310); "
            "AlgorithmName (Marketplace algorithms) is not supported"
        )
    parse_image_uri(str(image))


def _check_entrypoint(specification: dict[str, Any]) -> None:
    """A ContainerEntrypoint runs verbatim in the host's private /opt/ml (Kiln runs no containers):
    refused up front where this machine cannot give one."""
    if not specification.get("ContainerEntrypoint"):
        return
    missing = private_view_missing()
    if missing is not None:
        raise ValidationError(
            "AlgorithmSpecification.ContainerEntrypoint is not supported on this Kiln server: Kiln runs "
            "no containers, and runs an entry point as the command of a private /opt/ml view (a mount "
            f"namespace made with unshare), which this machine does not allow: {missing}. Run the "
            f"script through the framework's toolkit instead ({_ENTRY})"
        )


# -- training jobs ----------------------------------------------------------------------------------


def create_training_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    _check_image(params.get("AlgorithmSpecification") or {}, "AlgorithmSpecification")
    refuse_unsupported(params, UNSUPPORTED_TRAINING)
    _check_entrypoint(params.get("AlgorithmSpecification") or {})
    request, submitted = accept_typed(CreateTrainingJobRequest, params)
    job = call.state.training_jobs.create(request, as_submitted=submitted)
    store_tags(call, f"training-job/{job.name}", params)
    return {"TrainingJobArn": call.arn(f"training-job/{job.name}")}


def describe_training(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    job = call.state.training_jobs.describe(params["TrainingJobName"])
    described = {**job.spec, **describe_training_job(job)}  # members Kiln does not act on are echoed
    if "ModelArtifacts" not in described:  # required by the shape; SageMaker names the future archive
        output = str((job.spec.get("OutputDataConfig") or {}).get("S3OutputPath", "")).rstrip("/")
        described["ModelArtifacts"] = {"S3ModelArtifacts": f"{output}/{job.name}/output/model.tar.gz"}
    described.setdefault("AlgorithmSpecification", {}).setdefault("TrainingInputMode", "File")
    # SageMaker always answers these; the SDK's Estimator.attach reads them unconditionally.
    described["OutputDataConfig"] = {"KmsKeyId": "", **(described.get("OutputDataConfig") or {})}
    described.setdefault("RoleArn", f"arn:aws:iam::{call.account_id}:role/{NO_ROLE}")
    for seconds in ("TrainingTimeInSeconds", "BillableTimeInSeconds"):
        if job.status.is_terminal() and described.get("TrainingStartTime"):
            described[seconds] = max(1, int(described.get(seconds) or 0))  # SageMaker's minimum
        else:
            described.pop(seconds, None)  # SageMaker gives them once the job has ended
    return described


def list_training_jobs(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    jobs = call.state.training_jobs.list_jobs(limit=LIST_ALL)
    summaries = [summarize_training_job(j) for j in jobs]
    for summary in summaries:
        summary["TrainingJobArn"] = call.arn(f"training-job/{summary['TrainingJobName']}")
    chosen, token = select_page(
        summaries,
        params,
        name_key="TrainingJobName",
        status_key="TrainingJobStatus",
        sort_keys={"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"},
        default_order="Ascending",
    )
    return {"TrainingJobSummaries": chosen, "NextToken": token}


def stop_training_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.training_jobs.stop(params["TrainingJobName"])
    return {}


def _job_not_found(_call: WireCall, _params: dict[str, Any]) -> tuple[str, str]:
    return "ValidationException", REQUESTED_RESOURCE_NOT_FOUND


def _duplicate_job(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn(f"training-job/{params.get('TrainingJobName', '')}")
    return (
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training job with "
        f"this name already exists ({arn})",
    )


def _cannot_stop(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    job = call.state.training_jobs.describe(params["TrainingJobName"])
    return (
        "ValidationException",
        f"The request was rejected because the training job is in status {job.status.value}.",
    )


# -- hyperparameter tuning jobs ---------------------------------------------------------------------


def create_tuning_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    definition = params.get("TrainingJobDefinition") or {}
    _check_image(
        definition.get("AlgorithmSpecification") or {}, "TrainingJobDefinition.AlgorithmSpecification"
    )
    refuse_unsupported(params, UNSUPPORTED_TUNING)
    _resources_of_trials(definition)
    request, submitted = accept_typed(CreateTuningJobRequest, params)
    overview = call.state.tuning_jobs.create(request, as_submitted=submitted)
    store_tags(call, f"hyper-parameter-tuning-job/{overview.job.name}", params)
    return {"HyperParameterTuningJobArn": call.arn(f"hyper-parameter-tuning-job/{overview.job.name}")}


def _resources_of_trials(definition: dict[str, Any]) -> None:
    """Newer SDKs give trials' instances as HyperParameterTuningResourceConfig instead of
    ResourceConfig; one instance type of it is the same thing (kept too, and echoed)."""
    tuning = definition.get("HyperParameterTuningResourceConfig")
    if "ResourceConfig" in definition or not isinstance(tuning, dict):
        return
    if not tuning.get("InstanceType"):
        raise ValidationError(
            "HyperParameterTuningResourceConfig.InstanceConfigs (several instance types) is not "
            "supported by Kiln: give InstanceType and InstanceCount"
        )
    definition["ResourceConfig"] = {
        key: tuning[key] for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if key in tuning
    }


def describe_tuning(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    overview = call.state.tuning_jobs.describe(params["HyperParameterTuningJobName"])
    return {**overview.job.config, **describe_tuning_job(overview)}


def list_tuning_jobs(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    overviews = call.state.tuning_jobs.list_jobs(limit=LIST_ALL)
    chosen, token = select_page(
        [summarize_tuning_job(o) for o in overviews],
        params,
        name_key="HyperParameterTuningJobName",
        status_key="HyperParameterTuningJobStatus",
        sort_keys={
            "Name": "HyperParameterTuningJobName",
            "CreationTime": "CreationTime",
            "Status": "HyperParameterTuningJobStatus",
        },
        default_sort="Name",
        default_order="Ascending",
    )
    return {"HyperParameterTuningJobSummaries": chosen, "NextToken": token}


def stop_tuning_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.tuning_jobs.stop(params["HyperParameterTuningJobName"])
    return {}


def list_trials(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    tuning = call.state.tuning_jobs
    name = params["HyperParameterTuningJobName"]
    config = tuning.describe(name).config
    trials = tuning.trials(
        name,
        status=params.get("StatusEquals"),
        sort_by=params.get("SortBy") or "Name",
        sort_order=params.get("SortOrder"),
    )
    chosen, token = page([summarize_trial(t, config) for t in trials], params)
    return {"TrainingJobSummaries": chosen, "NextToken": token}


def _tuning_not_found(_call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    name = params.get("HyperParameterTuningJobName", "")
    return "ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}"


def _duplicate_tuning(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn(f"hyper-parameter-tuning-job/{params.get('HyperParameterTuningJobName', '')}")
    return "ResourceInUse", f"Hyperparameter tuning job with the same name already exists: {arn}"


def _tuning_cannot_stop(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    overview = call.state.tuning_jobs.describe(params["HyperParameterTuningJobName"])
    return (
        "ValidationException",
        f"The request was rejected because the tuning job is in status {overview.job.status.value}.",
    )


TRAINING_OPERATIONS: dict[str, Operation] = {
    "CreateTrainingJob": Operation(create_training_job, conflict=_duplicate_job),
    "DescribeTrainingJob": Operation(describe_training, missing=_job_not_found),
    "ListTrainingJobs": Operation(list_training_jobs),
    "StopTrainingJob": Operation(stop_training_job, missing=_job_not_found, conflict=_cannot_stop),
    "CreateHyperParameterTuningJob": Operation(create_tuning_job, conflict=_duplicate_tuning),
    "DescribeHyperParameterTuningJob": Operation(describe_tuning, missing=_tuning_not_found),
    "ListHyperParameterTuningJobs": Operation(list_tuning_jobs),
    "StopHyperParameterTuningJob": Operation(
        stop_tuning_job, missing=_tuning_not_found, conflict=_tuning_cannot_stop
    ),
    "ListTrainingJobsForHyperParameterTuningJob": Operation(list_trials, missing=_tuning_not_found),
}
