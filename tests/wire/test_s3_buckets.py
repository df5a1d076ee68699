"""S3 bucket operations through boto3: list, create, head, delete, location; the SDK's default bucket."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_support import error_of, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)


def test_kiln_default_bucket_is_always_listed(s3: Any) -> None:
    names = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    assert "kiln" in names


def test_create_head_and_delete_a_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket="lifecycle-bucket")
    assert "lifecycle-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket="lifecycle-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.delete_bucket(Bucket="lifecycle-bucket")
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="lifecycle-bucket")
    assert error_of(excinfo) == ("404", 404)


def test_creating_an_existing_bucket_is_bucket_already_owned_by_you(s3: Any) -> None:
    s3.create_bucket(Bucket="twice")
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket="twice")
    assert error_of(excinfo) == ("BucketAlreadyOwnedByYou", 409)


def test_create_bucket_accepts_a_location_constraint(s3: Any) -> None:
    s3.create_bucket(Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="in-eu")["LocationConstraint"] is None  # one store: us-east-1


def test_invalid_bucket_names_are_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket="Upper_Case")
    assert error_of(excinfo) == ("InvalidBucketName", 400)


def test_a_bucket_with_objects_cannot_be_deleted(s3: Any) -> None:
    s3.create_bucket(Bucket="full-bucket")
    s3.put_object(Bucket="full-bucket", Key="deep/down/object", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket="full-bucket")
    assert error_of(excinfo) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="full-bucket", Key="deep/down/object")
    s3.delete_bucket(Bucket="full-bucket")


def test_deleting_a_missing_bucket_is_no_such_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket="never-made")
    assert error_of(excinfo) == ("NoSuchBucket", 404)


def test_unserved_subresources_are_not_implemented_rather_than_misread(s3: Any) -> None:
    s3.put_object(Bucket="kiln", Key="tagged", Body=b"keep me")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket="kiln", Key="tagged", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert error_of(excinfo) == ("NotImplemented", 501)
    assert s3.get_object(Bucket="kiln", Key="tagged")["Body"].read() == b"keep me"


def test_boto3_resource_bucket_creation_date_finds_the_default_bucket(s3_endpoint: Any) -> None:
    """SageMaker's ``default_bucket()``: ``s3.Bucket(name).creation_date`` scans ListBuckets."""
    import boto3

    resource = boto3.resource(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
    )
    assert resource.Bucket("kiln").creation_date is not None
    assert resource.Bucket("not-there-yet").creation_date is None
