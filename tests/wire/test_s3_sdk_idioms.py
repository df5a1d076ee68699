"""The S3 calls the SageMaker Python SDK makes, made through boto3 the way the SDK makes them, and
the one store they share with Kiln's own artifact API.

- ``Session.default_bucket()``: ``s3.Bucket(name).creation_date`` (ListBuckets), HeadBucket, then
  CreateBucket, tolerating BucketAlreadyOwnedByYou;
- ``Session.upload_data`` / ``S3Uploader.upload``: ``s3.Object(bucket, key).upload_file`` under a prefix;
- ``S3Downloader.list`` / ``download`` / ``read_file``: ``bucket.objects.filter`` (ListObjects v1),
  ListObjectsV2 pages with ContinuationToken, then ``download_file`` and ``Object.get``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from s3_support import S3Endpoint, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)

import kiln


@pytest.fixture
def resource(s3_endpoint: S3Endpoint) -> Any:
    return boto3.resource(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
    )


def quoted_md5(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def default_bucket(resource: Any, name: str) -> str:
    """What ``sagemaker.Session._create_s3_bucket_if_it_does_not_exist`` does."""
    bucket = resource.Bucket(name)
    if bucket.creation_date is None:
        try:
            resource.meta.client.head_bucket(Bucket=name)
        except ClientError as e:
            if e.response["Error"]["Code"] != "404":
                raise
            try:
                resource.create_bucket(Bucket=name)
            except ClientError as created:
                if created.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                    raise
    return name


def test_default_bucket_flow_creates_the_bucket_once(resource: Any) -> None:
    name = "sagemaker-us-east-1-123456789012"
    assert default_bucket(resource, name) == name
    assert resource.Bucket(name).creation_date is not None
    assert default_bucket(resource, name) == name  # the second session finds it


def test_upload_data_then_s3_downloader(resource: Any, tmp_path: Path) -> None:
    bucket = resource.Bucket(default_bucket(resource, "sdk-idioms"))
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    files = {"train.csv": b"1,2\n3,4\n", "nested/labels.csv": b"0\n1\n"}
    for relative, content in files.items():
        (data / relative).write_bytes(content)
    # Session.upload_data: one upload_file per file, keys under the prefix, ExtraArgs as given.
    for relative in files:
        resource.Object(bucket.name, f"prep/{relative}").upload_file(
            str(data / relative), ExtraArgs={"ServerSideEncryption": "AES256"}
        )

    # S3Downloader.list: bucket.objects.filter (ListObjects v1).
    listed = sorted(f"s3://{bucket.name}/{obj.key}" for obj in bucket.objects.filter(Prefix="prep"))
    assert listed == [f"s3://{bucket.name}/prep/nested/labels.csv", f"s3://{bucket.name}/prep/train.csv"]

    # Session.download_data: ListObjectsV2 pages, then download_file for each key.
    client = resource.meta.client
    keys: list[str] = []
    request: dict[str, Any] = {"Bucket": bucket.name, "Prefix": "prep/", "MaxKeys": 1}
    while True:
        page = client.list_objects_v2(**request)
        keys += [item["Key"] for item in page.get("Contents", [])]
        if "NextContinuationToken" not in page:
            break
        request["ContinuationToken"] = page["NextContinuationToken"]
    out = tmp_path / "out"
    for key in keys:
        target = out / key[len("prep/") :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket.name, key, str(target))
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == files

    # S3Downloader.read_file: Object.get()["Body"].read().
    assert resource.Object(bucket.name, "prep/train.csv").get()["Body"].read() == files["train.csv"]


def test_objects_put_through_s3_are_kiln_artifacts_and_back(
    s3: Any, session: kiln.Session, tmp_path: Path
) -> None:
    # S3 → Kiln: the object is the artifact under the default bucket's URI.
    s3.put_object(Bucket="kiln", Key="shared/from-s3.txt", Body=b"written by boto3")
    uri = f"{session.bucket_uri()}/shared/from-s3.txt"
    assert session.read_artifact(uri) == b"written by boto3"
    assert uri in [entry["Uri"] for entry in session.list_artifacts(f"{session.bucket_uri()}/shared")]

    # Kiln → S3: Session.upload_data lands where S3 lists and reads it, with an MD5 ETag.
    local = tmp_path / "from-kiln.csv"
    local.write_bytes(b"a,b\n")
    session.upload_data(local, key_prefix="shared")
    listed = s3.list_objects_v2(Bucket="kiln", Prefix="shared/")
    assert [item["Key"] for item in listed["Contents"]] == ["shared/from-kiln.csv", "shared/from-s3.txt"]
    got = s3.get_object(Bucket="kiln", Key="shared/from-kiln.csv")
    assert got["Body"].read() == b"a,b\n"
    assert got["ETag"] == quoted_md5(b"a,b\n")
    assert got["ContentType"] == "text/csv"  # guessed from the name for objects Kiln wrote

    # Replaced through Kiln, S3 sees the new content and its new MD5 (the record is re-stamped).
    local.write_bytes(b"c,d\ne,f\n")
    session.upload_data(local, key_prefix="shared")
    head = s3.head_object(Bucket="kiln", Key="shared/from-kiln.csv")
    assert head["ETag"] == quoted_md5(b"c,d\ne,f\n")
    assert head["ContentLength"] == 8


def test_a_bucket_made_through_s3_is_a_store_folder(s3: Any, session: kiln.Session) -> None:
    s3.create_bucket(Bucket="made-by-s3")
    s3.put_object(Bucket="made-by-s3", Key="x.txt", Body=b"x")
    assert session.read_artifact(f"{session.bucket_uri('made-by-s3')}/x.txt") == b"x"
