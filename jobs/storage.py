"""Photo storage through the minio SDK, against MinIO, S3 or any S3-compatible store."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Mapping

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.datatypes import PostPolicy
from minio.error import MinioException, S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from jobs.documents import UploadDescriptor
from jobs.errors import DependencyError
from jobs.settings import Settings

logger = logging.getLogger(__name__)

UPLOAD_PREFIX = "uploads/"
# Storage-side backstop: uploads that a job failed to delete expire after a day.
UPLOAD_LIFECYCLE_DAYS = 1
STORAGE_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)
MISSING_OBJECT_CODES = ("NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound")


def object_key(job_id: str) -> str:
    return f"{UPLOAD_PREFIX}{job_id}"


class ObjectHead:
    """The first bytes of an object and the object's total size in bytes."""

    def __init__(self, size: int, head: bytes) -> None:
        self.size = size
        self.head = head


class PhotoStorage:
    """Uploads, reads and deletes job photos in one bucket.

    Two clients: `_client` talks to the store from the servers; `_signer` only
    signs URLs for the host the phone reaches (S3_PUBLIC_ENDPOINT). Both have the
    region set, so signing never asks the store for its region.
    """

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s * 4),
            maxsize=32,
            retries=urllib3.Retry(total=1, backoff_factor=0.1, status_forcelist=(502, 503, 504)),
        )
        self._bucket = settings.s3_bucket
        self._max_upload_bytes = settings.max_upload_bytes
        self._url_ttl_s = settings.upload_url_ttl_s
        public_scheme = "https" if settings.s3_public_secure else "http"
        self._public_bucket_url = f"{public_scheme}://{settings.s3_public_endpoint}/{settings.s3_bucket}"
        self._client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http,
        )
        self._signer = Minio(
            settings.s3_public_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_public_secure,
            region=settings.s3_region,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    def ensure_bucket(self) -> None:
        """Create the bucket and its upload-expiry rule if missing."""
        try:
            if not self._client.bucket_exists(self._bucket):
                self._client.make_bucket(self._bucket)
                logger.info("storage bucket created bucket=%s", self._bucket)
            rule = Rule(
                ENABLED,
                rule_filter=Filter(prefix=UPLOAD_PREFIX),
                rule_id="expire-uploads",
                expiration=Expiration(days=UPLOAD_LIFECYCLE_DAYS),
            )
            self._client.set_bucket_lifecycle(self._bucket, LifecycleConfig([rule]))
        except S3Error as err:
            if err.code == "BucketAlreadyOwnedByYou":
                return
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err

    def presign_upload(self, key: str, now: dt.datetime) -> UploadDescriptor:
        """Sign a POST policy that caps the upload size (S3 enforces content-length-range)."""
        expires_at = now + dt.timedelta(seconds=self._url_ttl_s)
        policy = PostPolicy(self._bucket, expires_at)
        policy.add_equals_condition("key", key)
        policy.add_content_length_range_condition(1, self._max_upload_bytes)
        fields = self._signer.presigned_post_policy(policy)
        fields["key"] = key
        return UploadDescriptor(
            method="POST",
            url=self._public_bucket_url,
            fields=fields,
            max_bytes=self._max_upload_bytes,
            expires_at=expires_at.isoformat().replace("+00:00", "Z"),
        )

    def read_head(self, key: str, length: int) -> ObjectHead | None:
        """Read the object's first `length` bytes and its size with one ranged GET.

        Returns None when the object does not exist.
        """
        response = None
        try:
            response = self._client.get_object(self._bucket, key, offset=0, length=length)
            # A store that ignores Range sends the whole object with 200, so read
            # only the head, and close() below drops that connection. A 206 body
            # read to its end has already gone back to the pool (urllib3 2.8).
            head = response.read(length)
            size = _object_size(key, response.headers)
        except S3Error as err:
            if err.code in MISSING_OBJECT_CODES:
                return None
            if err.code == "InvalidRange":
                # A range starting at byte 0 fits every object except an empty one,
                # which S3 rejects with 416 InvalidRange (tests/test_start.py checks moto).
                return ObjectHead(size=0, head=b"")
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        finally:
            if response is not None:
                response.close()
                response.release_conn()
        return ObjectHead(size=size, head=head)

    def read(self, key: str) -> bytes:
        """Read the whole object."""
        response = None
        try:
            response = self._client.get_object(self._bucket, key)
            return response.read()
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def write(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._client.put_object(self._bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err

    def delete(self, key: str) -> None:
        """Delete the object; a missing object is not an error."""
        try:
            self._client.remove_object(self._bucket, key)
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err

    def check(self) -> None:
        """Raise DependencyError unless the store answers for our bucket."""
        try:
            self._client.bucket_exists(self._bucket)
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err


def _object_size(key: str, headers: Mapping[str, str]) -> int:
    """Return the total size from a ranged GET's `Content-Range` (`bytes 0-31/TOTAL`).

    A 200 response without `Content-Range` carries the whole object, so its
    `Content-Length` is the size.
    """
    content_range = headers.get("Content-Range")
    if content_range is not None:
        total = content_range.rpartition("/")[2]
    else:
        total = headers.get("Content-Length", "")
    if not total.isdigit():
        raise DependencyError(
            "storage_unavailable",
            detail=f"object {key}: no total size in Content-Range {content_range!r} or Content-Length",
        )
    return int(total)
