"""SageMaker v2's arguments, all accepted: acted on where Kiln can, kept and reported where it cannot.

Notebook code passes SageMaker's full vocabulary (``volume_size``, ``enable_network_isolation``,
``kms_key``, …). Kiln's classes name what they act on in their signatures; the tables here list the
rest of SageMaker v2's parameters with their defaults. A given value that differs from the default is
kept (``SdkArguments`` in the request, echoed by describe) and reported in ONE log line; a name that is
in neither list is a mistake and raises, naming the closest valid argument. ``tests/sdk`` compares
these names with the installed ``sagemaker`` 2.x signatures, so drift fails CI.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kiln.errors import ValidationError

__all__ = [
    "CREATE_MODEL_INERT",
    "DEPLOY_INERT",
    "ESTIMATOR_INERT",
    "FIT_INERT",
    "FRAMEWORK_INERT",
    "MODEL_DEPLOY_INERT",
    "MODEL_INERT",
    "PREDICTOR_INERT",
    "TUNER_FIT_INERT",
    "TUNER_INERT",
    "accepted_names",
    "inert_for_class",
    "init_chain",
    "jsonable",
    "take_inert",
]

log = logging.getLogger("kiln.sdk")

# EstimatorBase / Estimator: networking, encryption, debugger and profiler, warm pools, private
# registries, heterogeneous clusters: AWS infrastructure that a local platform has no counterpart for.
ESTIMATOR_INERT: Mapping[str, Any] = {
    "keep_alive_period_in_seconds": None,
    "volume_size": 30,
    "volume_kms_key": None,
    "input_mode": "File",
    "output_kms_key": None,
    "subnets": None,
    "security_group_ids": None,
    "encrypt_inter_container_traffic": None,
    "rules": None,
    "debugger_hook_config": None,
    "enable_sagemaker_metrics": None,
    "enable_network_isolation": None,
    "profiler_config": None,
    "disable_profiler": None,
    "instance_groups": None,
    "training_repository_access_mode": None,
    "training_repository_credentials_provider_arn": None,
    "enable_infra_check": None,
    "container_entry_point": None,
    "container_arguments": None,
    "disable_output_compression": False,
    "enable_remote_debug": None,
    "enable_session_tag_chaining": None,
    "training_plan": None,
    "instance_placement_config": None,
    "image_uri": None,  # Kiln runs every job in its own runtime; the image names no other one yet
}
FRAMEWORK_INERT: Mapping[str, Any] = {}  # Framework adds nothing beyond EstimatorBase's list
FIT_INERT: Mapping[str, Any] = {"experiment_config": None}
# EstimatorBase.deploy and Model.deploy: serverless/async variants, encryption, data capture, explainers.
DEPLOY_INERT: Mapping[str, Any] = {
    "accelerator_type": None,
    "use_compiled_model": False,
    "kms_key": None,
    "data_capture_config": None,
    "serverless_inference_config": None,
    "async_inference_config": None,
    "volume_size": None,
    "model_data_download_timeout": None,
    "container_startup_health_check_timeout": None,
    "inference_recommendation_id": None,
    "explainer_config": None,
}
MODEL_DEPLOY_INERT: Mapping[str, Any] = {
    **{name: default for name, default in DEPLOY_INERT.items() if name != "use_compiled_model"},
    "accept_eula": None,
    "endpoint_logging": False,
    "resources": None,
    "endpoint_type": None,
    "managed_instance_scaling": None,
    "inference_component_name": None,
    "routing_config": None,
    "model_reference_arn": None,
    "inference_ami_version": None,
    "update_endpoint": False,
}
CREATE_MODEL_INERT: Mapping[str, Any] = {"vpc_config_override": None, "model_kms_key": None}
MODEL_INERT: Mapping[str, Any] = {
    "vpc_config": None,
    "enable_network_isolation": None,
    "model_kms_key": None,
    "image_config": None,
    "code_location": None,
    "git_config": None,
    "resources": None,
    "additional_model_data_sources": None,
    "model_reference_arn": None,
}
PREDICTOR_INERT: Mapping[str, Any] = {"component_name": None}
TUNER_INERT: Mapping[str, Any] = {
    "completion_criteria_config": None,
    "estimator_name": None,
    "autotune": False,
    "hyperparameters_to_keep_static": None,
}
TUNER_FIT_INERT: Mapping[str, Any] = {}

# SageMaker v1's names that v2 renamed: a v1 notebook gets the new name, not a guess.
RENAMED_IN_V2 = {
    "train_instance_count": "instance_count",
    "train_instance_type": "instance_type",
    "train_max_run": "max_run",
    "train_use_spot_instances": "use_spot_instances",
    "train_max_wait": "max_wait",
    "train_volume_size": "volume_size",
    "train_volume_kms_key": "volume_kms_key",
    "image_name": "image_uri",
}


def inert_for_class(cls: type) -> dict[str, Any]:
    """The ``inert_arguments`` of ``cls`` and its bases, merged (a subclass extends its base's list)."""
    merged: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("inert_arguments", {}))
    return merged


def init_chain(cls: type) -> list[Callable[..., Any]]:
    """The ``__init__`` methods ``cls`` and its bases define (their arguments flow up by ``**kwargs``)."""
    return [
        vars(klass)["__init__"] for klass in cls.__mro__ if klass is not object and "__init__" in vars(klass)
    ]


def accepted_names(functions: Iterable[Callable[..., Any]], inert: Iterable[str]) -> set[str]:
    """Every argument name the functions take explicitly, plus the inert ones."""
    names = set(inert)
    for function in functions:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                names.add(parameter.name)
    names.discard("self")
    return names


def jsonable(value: Any) -> Any:
    """A value as it can be stored: JSON as is, SDK config objects by their request form, else repr."""
    for method in ("_to_request_dict", "to_request_dict", "to_input_req", "to_request"):
        convert = getattr(value, method, None)
        if callable(convert):
            value = convert()
            break
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def take_inert(
    owner: str, given: Mapping[str, Any], inert: Mapping[str, Any], accepted: Iterable[str]
) -> dict[str, Any]:
    """The inert arguments given with a non-default value (logged once); raises on an unknown name.

    ``given`` holds the caller's ``**kwargs`` that the signature did not take.
    """
    unknown = sorted(name for name in given if name not in inert)
    if unknown:
        valid = sorted(set(accepted) | set(inert))
        raise ValidationError(
            f"{owner} got unknown arguments: {', '.join(_with_hint(name, valid) for name in unknown)}; "
            "it takes SageMaker v2's arguments (see help() for the ones Kiln acts on)"
        )
    kept = {name: jsonable(value) for name, value in given.items() if not _is_default(value, inert[name])}
    if kept:
        shown = ", ".join(f"{name}={value!r}" for name, value in kept.items())
        log.warning(
            "%s: %s: accepted for SageMaker compatibility, no effect on Kiln (kept in the request's "
            "SdkArguments)",
            owner,
            shown,
        )
    return kept


def _is_default(value: Any, default: Any) -> bool:
    return value is None or (value is default or (type(value) is type(default) and value == default))


def _with_hint(name: str, valid: list[str]) -> str:
    if name in RENAMED_IN_V2:
        return f"{name} (SageMaker v2 renamed it {RENAMED_IN_V2[name]})"
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f"{name} (did you mean {close[0]}?)" if close else name
