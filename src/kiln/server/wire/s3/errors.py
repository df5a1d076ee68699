"""S3's errors: a code, a message and an HTTP status, answered as ``<Error>`` XML.

botocore raises ``ClientError`` from the ``Code`` element, so each code here is S3's own spelling
with S3's status. Messages keep S3's wording first and add what to do where S3 leaves it out.
"""

from __future__ import annotations

__all__ = ["S3Error"]


class S3Error(Exception):
    """One S3 error answer; ``fields`` become extra elements of the ``<Error>`` body (Key, BucketName)."""

    def __init__(self, code: str, message: str, status: int, **fields: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    # -- buckets ------------------------------------------------------------------------------------

    @classmethod
    def no_such_bucket(cls, bucket: str) -> S3Error:
        return cls(
            "NoSuchBucket",
            f"The specified bucket does not exist: {bucket!r}; create it with CreateBucket "
            "or list the buckets with ListBuckets.",
            404,
            BucketName=bucket,
        )

    @classmethod
    def invalid_bucket_name(cls, bucket: str, why: str) -> S3Error:
        return cls(
            "InvalidBucketName",
            f"The specified bucket is not valid: {bucket!r} {why}.",
            400,
            BucketName=bucket,
        )

    @classmethod
    def bucket_owned(cls, bucket: str) -> S3Error:
        return cls(
            "BucketAlreadyOwnedByYou",
            f"Your previous request to create the named bucket succeeded and you already own it: {bucket!r}.",
            409,
            BucketName=bucket,
        )

    @classmethod
    def bucket_not_empty(cls, bucket: str) -> S3Error:
        return cls(
            "BucketNotEmpty",
            f"The bucket you tried to delete is not empty: {bucket!r}; delete its objects first.",
            409,
            BucketName=bucket,
        )

    # -- objects ------------------------------------------------------------------------------------

    @classmethod
    def no_such_key(cls, key: str) -> S3Error:
        return cls("NoSuchKey", f"The specified key does not exist: {key!r}.", 404, Key=key)

    @classmethod
    def invalid_range(cls, header: str, size: int) -> S3Error:
        return cls(
            "InvalidRange",
            f"The requested range is not satisfiable: {header!r} for an object of {size} bytes.",
            416,
            RangeRequested=header,
            ActualObjectSize=str(size),
        )

    @classmethod
    def precondition_failed(cls, condition: str) -> S3Error:
        return cls(
            "PreconditionFailed",
            f"At least one of the pre-conditions you specified did not hold: {condition}.",
            412,
            Condition=condition,
        )

    # -- multipart uploads --------------------------------------------------------------------------

    @classmethod
    def no_such_upload(cls, upload_id: str) -> S3Error:
        return cls(
            "NoSuchUpload",
            f"The specified multipart upload does not exist: {upload_id!r}. The upload ID may be "
            "invalid, or the upload may have been aborted or completed.",
            404,
            UploadId=upload_id,
        )

    @classmethod
    def invalid_part(cls, message: str) -> S3Error:
        return cls("InvalidPart", f"One or more of the specified parts could not be found: {message}", 400)

    # -- requests -----------------------------------------------------------------------------------

    @classmethod
    def invalid_argument(cls, message: str, name: str = "", value: str = "") -> S3Error:
        fields = {"ArgumentName": name, "ArgumentValue": value} if name else {}
        return cls("InvalidArgument", message, 400, **fields)

    @classmethod
    def invalid_request(cls, message: str) -> S3Error:
        return cls("InvalidRequest", message, 400)

    @classmethod
    def malformed_xml(cls, why: str) -> S3Error:
        return cls(
            "MalformedXML",
            f"The XML you provided was not well-formed or did not validate against our published "
            f"schema: {why}.",
            400,
        )

    @classmethod
    def not_implemented(cls, what: str) -> S3Error:
        return cls(
            "NotImplemented",
            f"A header or query you provided implies functionality that is not implemented: {what}. "
            "docs/s3.md lists the operations Kiln serves.",
            501,
        )

    @classmethod
    def method_not_allowed(cls, method: str, resource: str) -> S3Error:
        return cls(
            "MethodNotAllowed",
            f"The specified method is not allowed against this resource: {method} on {resource}.",
            405,
            Method=method,
            ResourceType=resource,
        )
