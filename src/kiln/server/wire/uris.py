"""``s3://`` URIs in SageMaker requests and answers, as Kiln's S3 serves the artifact store.

SageMaker code names its data ``s3://<bucket>/<key>``; Kiln's S3 serves the artifact store with each
bucket a top-level folder (``ArtifactStore.from_s3_uri`` / ``to_s3_uri``). Requests are rewritten at
the members that name data or code, before the services see them, so jobs and models store the
store's own URIs; answers are rewritten back wherever a store URI appears, so Describe gives the
caller the ``s3://`` URIs its SDK expects (``estimator.model_data``, the model to repack).
Only those members are rewritten: an ``s3://`` URI in a user's own hyperparameter reaches the script
unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from kiln.artifacts import ArtifactStore

__all__ = ["answer_uri", "request_uris"]

# Paths (``a.b[].c``) of request members that name data or code in the store.
_URI_MEMBERS = (
    "InputDataConfig[].DataSource.S3DataSource.S3Uri",
    "OutputDataConfig.S3OutputPath",
    "CheckpointConfig.S3Uri",
    "TensorBoardOutputConfig.S3OutputPath",
    "PrimaryContainer.ModelDataUrl",
    "PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY",
    "TrainingJobDefinition.InputDataConfig[].DataSource.S3DataSource.S3Uri",
    "TrainingJobDefinition.OutputDataConfig.S3OutputPath",
    "TrainingJobDefinition.CheckpointConfig.S3Uri",
)
# Hyperparameters whose JSON-encoded value names the code (the SDK's sourcedir.tar.gz).
_CODE_HYPERPARAMETERS = (
    "HyperParameters.sagemaker_submit_directory",
    "TrainingJobDefinition.StaticHyperParameters.sagemaker_submit_directory",
)


def _rewrite(data: Any, parts: list[str], change: Any) -> None:
    if not parts or not isinstance(data, dict):
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        for item in data.get(head[:-2]) or []:
            _rewrite(item, rest, change)
    elif head in data:
        if rest:
            _rewrite(data[head], rest, change)
        elif isinstance(data[head], str):
            data[head] = change(data[head])


def _from_json(store: ArtifactStore, value: str) -> str:
    try:
        decoded = json.loads(value)
    except ValueError:
        return store.from_s3_uri(value)
    return json.dumps(store.from_s3_uri(decoded)) if isinstance(decoded, str) else value


def request_uris(params: dict[str, Any], store: ArtifactStore) -> dict[str, Any]:
    """``params`` (changed in place and returned) with its data and code URIs in the store's form."""
    for path in _URI_MEMBERS:
        _rewrite(params, path.split("."), store.from_s3_uri)
    for path in _CODE_HYPERPARAMETERS:
        _rewrite(params, path.split("."), lambda value: _from_json(store, value))
    return params


def answer_uri(value: str, store: ArtifactStore) -> str:
    """A store URI (plain or JSON-encoded) given back as ``s3://``; other strings unchanged."""
    if value.startswith(store.root_url):
        return store.to_s3_uri(value)
    if value.startswith('"' + store.root_url):
        return json.dumps(store.to_s3_uri(json.loads(value)))
    return value
