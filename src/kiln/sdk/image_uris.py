"""``kiln.image_uris.retrieve``: SageMaker's image URIs for the built-in algorithms (and XGBoost's).

The accounts are those of sagemaker-python-sdk's ``image_uri_config`` (``xgboost.json``,
``linear-learner.json``, ``kmeans.json``, ``pca.json``) for the regions Kiln lists; Kiln runs no
containers, but the URI selects the algorithm exactly as it does in SageMaker, so code written for
SageMaker runs unchanged. Other regions: pass one of these, or the URI itself as ``image_uri``.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import ValidationError

__all__ = ["retrieve"]

# The first-party algorithms share one account per region (version "1").
_FIRST_PARTY_ACCOUNTS = {
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
    "eu-west-1": "438346466558",
    "eu-central-1": "664544806723",
    "ap-northeast-1": "351501993468",
}
# sagemaker-xgboost (0.90-1 and later, the open-source container).
_XGBOOST_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-central-1": "492215442770",
    "ap-northeast-1": "354813040037",
}
XGBOOST_VERSIONS = ("0.90-1", "0.90-2", "1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "3.0-5")
FIRST_PARTY = ("linear-learner", "kmeans", "pca")
DEFAULT_REGION = "us-east-1"


def retrieve(
    framework: str,
    region: str | None = None,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    image_scope: str | None = None,
    **kwargs: Any,
) -> str:
    """The image URI of a built-in algorithm, as ``sagemaker.image_uris.retrieve`` gives it."""
    region = region or DEFAULT_REGION
    if framework in FIRST_PARTY:
        if version not in (None, "1", "latest"):
            raise ValidationError(
                f"Unsupported {framework} version: {version}. Supported {framework} version(s): 1."
            )
        account = _account(_FIRST_PARTY_ACCOUNTS, framework, region)
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{framework}:1"
    if framework == "xgboost":
        if version not in XGBOOST_VERSIONS:
            raise ValidationError(
                f"Unsupported xgboost version: {version}. Supported xgboost version(s): "
                f"{', '.join(XGBOOST_VERSIONS)}."
            )
        account = _account(_XGBOOST_ACCOUNTS, framework, region)
        return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:{version}"
    raise ValidationError(
        f"Kiln's image_uris.retrieve gives the built-in algorithms' images (xgboost, linear-learner, "
        f"kmeans, pca), not {framework!r}; framework estimators (kiln.pytorch.PyTorch, …) name their "
        "own images"
    )


def _account(accounts: dict[str, str], framework: str, region: str) -> str:
    if region not in accounts:
        raise ValidationError(
            f"Unsupported region: {region}. Kiln knows {framework}'s image accounts for "
            f"{', '.join(sorted(accounts))}."
        )
    return accounts[region]
