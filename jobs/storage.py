"""Photo storage through the minio SDK, against MinIO, S3 or any S3-compatible store."""

from __future__ import annotations

import datetime as dt
import io
import logging

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


def object_key(job_id: str) -> str:
    return f"{UPLOAD_PREFIX}{job_id}"


class ObjectInfo:
    def __init__(self, size: int, content_type: str | None) -> None:
        self.size = size
        self.content_type = content_type


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

    def stat(self, key: str) -> ObjectInfo | None:
        """Return the object's size and type, or None when it does not exist."""
        try:
            info = self._client.stat_object(self._bucket, key)
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound"):
                return None
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        except STORAGE_ERRORS as err:
            raise DependencyError("storage_unavailable", detail=str(err)) from err
        return ObjectInfo(size=info.size or 0, content_type=info.content_type)

    def read(self, key: str, length: int | None = None) -> bytes:
        """Read the object, or its first `length` bytes."""
        response = None
        try:
            response = self._client.get_object(self._bucket, key, offset=0, length=length or 0)
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
