"""ListObjectsV2 and ListObjects through boto3: prefixes, delimiters, pagination, markers, DeleteObjects."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_support import error_of, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)

KEYS = [
    "data/train/part-0.csv",
    "data/train/part-1.csv",
    "data/train/sub/part-2.csv",
    "data/test/part-0.csv",
    "data-readme.txt",
    "model/model.tar.gz",
    "top.txt",
]


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="listing")
    for key in KEYS:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())
    return "listing"


def keys_of(page: dict[str, Any]) -> list[str]:
    return [item["Key"] for item in page.get("Contents", [])]


def prefixes_of(page: dict[str, Any]) -> list[str]:
    return [item["Prefix"] for item in page.get("CommonPrefixes", [])]


def test_everything_in_s3s_byte_order(s3: Any, bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=bucket)
    # '-' (0x2d) sorts before '/' (0x2f): "data-readme.txt" comes before "data/…", as on S3.
    assert keys_of(page) == sorted(KEYS)
    assert page["KeyCount"] == len(KEYS)
    assert page["IsTruncated"] is False


def test_prefix_filters_without_a_delimiter(s3: Any, bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=bucket, Prefix="data/train/")
    assert keys_of(page) == ["data/train/part-0.csv", "data/train/part-1.csv", "data/train/sub/part-2.csv"]
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="data/tr")) == keys_of(page)
    assert keys_of(s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")) == []


def test_delimiter_groups_common_prefixes(s3: Any, bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert keys_of(page) == ["data-readme.txt", "top.txt"]
    assert prefixes_of(page) == ["data/", "model/"]
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="data/", Delimiter="/")
    assert keys_of(inner) == []
    assert prefixes_of(inner) == ["data/test/", "data/train/"]


def test_pagination_with_continuation_tokens_visits_every_key_once(s3: Any, bucket: str) -> None:
    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2}
    while True:
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        seen += keys_of(page)
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert seen == sorted(KEYS)
    assert pages == 4


def test_paginator_with_delimiter_counts_prefixes_against_max_keys(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    keys: list[str] = []
    prefixes: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}):
        keys += keys_of(page)
        prefixes += prefixes_of(page)
    assert keys == ["data-readme.txt", "top.txt"]
    assert prefixes == ["data/", "model/"]


def test_start_after_skips_keys_up_to_it(s3: Any, bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=bucket, StartAfter="data/train/part-1.csv")
    assert keys_of(page) == ["data/train/sub/part-2.csv", "model/model.tar.gz", "top.txt"]


def test_list_objects_v1_pages_with_markers(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_objects")
    seen = [
        item["Key"]
        for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
        for item in page.get("Contents", [])
    ]
    assert seen == sorted(KEYS)
    page = s3.list_objects(Bucket=bucket, Prefix="data/", Delimiter="/")
    assert prefixes_of(page) == ["data/test/", "data/train/"]


def test_boto3_resource_objects_filter_uses_list_objects(s3_endpoint: Any, bucket: str) -> None:
    """The SDK's ``list_s3_files``: ``bucket.objects.filter(Prefix=…)``."""
    import boto3

    resource = boto3.resource(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
    )
    found = [obj.key for obj in resource.Bucket(bucket).objects.filter(Prefix="data/train")]
    assert found == ["data/train/part-0.csv", "data/train/part-1.csv", "data/train/sub/part-2.csv"]


def test_listing_a_missing_bucket_is_no_such_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.list_objects_v2(Bucket="absent-bucket")
    assert error_of(excinfo) == ("NoSuchBucket", 404)


def test_delete_objects_removes_many_and_reports_each(s3: Any) -> None:
    s3.create_bucket(Bucket="bulk-delete")
    for index in range(5):
        s3.put_object(Bucket="bulk-delete", Key=f"batch/{index}", Body=b"x")
    answer = s3.delete_objects(
        Bucket="bulk-delete",
        Delete={"Objects": [{"Key": f"batch/{index}"} for index in range(4)] + [{"Key": "batch/never"}]},
    )
    assert sorted(item["Key"] for item in answer["Deleted"]) == [
        *(f"batch/{i}" for i in range(4)),
        "batch/never",
    ]
    assert keys_of(s3.list_objects_v2(Bucket="bulk-delete")) == ["batch/4"]
    quiet = s3.delete_objects(Bucket="bulk-delete", Delete={"Objects": [{"Key": "batch/4"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert keys_of(s3.list_objects_v2(Bucket="bulk-delete")) == []


def test_hidden_staging_never_shows_in_listings(s3: Any) -> None:
    s3.create_bucket(Bucket="staging-hidden")
    upload = s3.create_multipart_upload(Bucket="staging-hidden", Key="big")
    s3.upload_part(Bucket="staging-hidden", Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    assert keys_of(s3.list_objects_v2(Bucket="staging-hidden")) == []
    assert all(not b["Name"].startswith(".") for b in s3.list_buckets()["Buckets"])
    s3.abort_multipart_upload(Bucket="staging-hidden", Key="big", UploadId=upload["UploadId"])
