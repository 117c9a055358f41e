"""Where rejected records are kept: sinks behind one interface (`add` a line, `flush` before a state is echoed,
`close`), each given the same JSON line: a local file (rejected_records_path, for the command line) and an S3 bucket
(object_storage_config, for Airbyte and Docker jobs, whose containers keep no files).

The bucket follows Airbyte's data-activation destinations, so that the platform's "N records rejected" link points
where the records are:
- the config's shape is the Kotlin bulk CDK's (airbytehq/airbyte airbyte-cdk/bulk/toolkits/load-dlq/src/main/kotlin/
  io/airbyte/cdk/load/command/dlq/ObjectStorageSpec.kt; destination-hubspot's src/test-integration/resources/
  expected-spec-oss.json), less what this destination does not offer: role_arn (Airbyte Cloud's role assumption)
  and the hidden format, compression, path_format and file_name_format, fixed here to their defaults, JSONL;
- the layout is that path_format's default, `{sync_id}/{namespace}/{stream_name}/` under bucket_path, with
  file_name_format's default `{date}_{timestamp}_{part_number}{format_extension}`, one time for the whole sync
  (load-object-storage's ObjectStoragePathFactory.kt, which also drops the empty segment of a null namespace);
- the platform reads `object_storage_config` of a destination with supportsDataActivation and links to
  s3://<s3_bucket_name>/<bucket_path>/<job id>/ (airbytehq/airbyte-platform airbyte-domain/services/src/main/kotlin/
  io/airbyte/domain/services/storage/ConnectorObjectStorageService.kt and ObjectStoragePathResolver.kt); the job id
  is what it sends as every configured stream's `sync_id` (CatalogGenerationSetter.setGenerationInformation,
  DefaultProtocolSerializer.toProtocol). Without one (the command line, a Docker job), 1, as the CDK's DlqChecker and
  S3DataLakeCatalogFactory take.

Objects are never appended to, so each flush that has lines writes one new object per stream (the next part number).
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Dict, List, Mapping, Optional, Protocol, Tuple
from urllib.parse import urlsplit

import boto3
from airbyte_cdk.models import FailureType
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

from contacts_api.config import is_loopback
from contacts_api.errors import config_error, failure, masked

StreamKey = Tuple[Optional[str], Optional[str]]  # (namespace, name); (None, None) for a line that named no stream


class Sink(Protocol):
    """Where rejected records are kept."""

    def add(self, stream: StreamKey, line: str) -> None: ...

    def flush(self) -> None:
        """Everything added is stored: called before a state is echoed, so no state passes a rejection not yet stored."""

    def close(self) -> None: ...


DEFAULT_SYNC_ID = 1
NO_STREAM = "_no_stream"  # the folder of input lines that named no stream (not JSON, not a record)
CHECK_STREAM = ("testing", "test")  # where check writes its test object, as the CDK's DlqChecker does
CHECK_OBJECT = "_check_test"
# Lines kept in memory before they are stored without waiting for the next state (a sync that sends few states).
MAX_PENDING_BYTES = 8 * 1024 * 1024
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidClientTokenId"}


def rejected_line(stream: StreamKey, record: Optional[int], message: Optional[int], reason: str, data: Any) -> str:
    """One rejected record as every sink keeps it: the record as it came, the reason, its stream and position."""
    namespace, name = stream
    line = {"stream": name, "namespace": namespace, "record": record, "message": message, "reason": reason, "data": data}
    return json.dumps(line, default=str) + "\n"  # ASCII escapes: data may hold half a surrogate pair


class RejectedFile:
    """rejected_records_path: emptied when the sync starts, each line written through at once."""

    def __init__(self, path: str):
        try:
            self._file: IO[str] = open(path, "w", encoding="utf-8")
        except OSError as error:
            raise failure(f"rejected_records_path cannot be written: {error.strerror}", FailureType.config_error) from None

    def add(self, stream: StreamKey, line: str) -> None:
        self._file.write(line)
        self._file.flush()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class S3Storage:
    """object_storage_config with storage_type S3, typed."""

    bucket: str
    region: str
    endpoint: Optional[str]
    prefix: str  # bucket_path without its outer slashes
    access_key_id: Optional[str]
    secret_access_key: Optional[str]

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}" + (f" at {self.endpoint}" if self.endpoint else "")

    def folder(self, sync_id: int, stream: StreamKey) -> str:
        namespace, name = stream
        return "/".join(part for part in (self.prefix, str(sync_id), namespace, name or NO_STREAM) if part) + "/"

    def client(self, attempts: int) -> Any:
        # An S3-compatible store (MinIO...) seldom serves bucket subdomains: path-style addressing there.
        options = {"s3": {"addressing_style": "path"}} if self.endpoint else {}
        return boto3.session.Session().client(
            "s3",
            region_name=self.region or "us-east-1",  # a store without regions takes any; AWS redirects to the bucket's
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=BotoConfig(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=10, read_timeout=60, **options),
        )

    def problem(self, error: Exception) -> Tuple[str, FailureType]:
        """What went wrong, for the user, naming the part of the config at fault; the credentials masked."""
        failure_type = FailureType.config_error
        if isinstance(error, EndpointConnectionError):
            reason, failure_type = f"the endpoint {self.endpoint or 'of AWS S3'} cannot be reached", FailureType.system_error
        elif isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            reason = "no credentials: set access_key_id and secret_access_key, or give the container an AWS role"
        elif isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message") or ""
            if code == "NoSuchBucket":
                reason = f"the bucket '{self.bucket}' does not exist"
            elif code in CREDENTIAL_CODES:
                reason = f"the credentials were refused ({code}: {message}); check access_key_id and secret_access_key"
            elif code in ("AccessDenied", "403"):
                reason = f"access denied ({message}); the credentials need s3:PutObject, s3:ListBucket and s3:DeleteObject on the bucket"
            elif code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
                reason = f"the bucket is not in s3_bucket_region '{self.region}' ({code}: {message})"
            else:
                reason, failure_type = f"{code or 'error'}: {message}", FailureType.system_error
        else:
            reason, failure_type = f"{type(error).__name__}: {error}", FailureType.system_error
        for secret in (self.access_key_id, self.secret_access_key):
            reason = masked(reason, secret or "")
        return reason, failure_type


def s3_storage(raw: Optional[Mapping[str, Any]]) -> Optional[S3Storage]:
    """object_storage_config (already checked against the spec's oneOf); None for storage_type None or no config."""
    if not raw or raw.get("storage_type") != "S3":
        return None
    endpoint = (raw.get("s3_endpoint") or "").strip().rstrip("/") or None
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise config_error(
                f"object_storage_config: s3_endpoint '{endpoint}' is not a valid http(s) URL, e.g. https://minio.example.com."
            )
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise config_error(
                f"object_storage_config: s3_endpoint '{endpoint}' uses plain http to a remote host; records and the access key id "
                f"would travel unencrypted. Use https://{parts.netloc}."
            )
    access_key_id, secret_access_key = raw.get("access_key_id") or None, raw.get("secret_access_key") or None
    if bool(access_key_id) != bool(secret_access_key):
        raise config_error("object_storage_config: set both access_key_id and secret_access_key, or neither (the default AWS credentials).")
    return S3Storage(
        bucket=raw["s3_bucket_name"],
        region=raw.get("s3_bucket_region") or "",
        endpoint=endpoint,
        prefix=(raw.get("bucket_path") or "").strip("/"),
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
    )


def check_storage(storage: S3Storage) -> Optional[str]:
    """`check`'s test of the bucket, as the CDK's DlqChecker does it: write a test object, find it in a listing, delete
    it. None when all three work; else the sentence naming what failed."""
    client = storage.client(attempts=1)  # check answers at once; a sync retries
    folder = storage.folder(DEFAULT_SYNC_ID, CHECK_STREAM)
    key = folder + CHECK_OBJECT
    step = "write"
    try:
        client.put_object(Bucket=storage.bucket, Key=key, Body=b'{"data":1}\n')
        step = "list"
        listed = client.list_objects_v2(Bucket=storage.bucket, Prefix=folder).get("Contents", [])
        if key not in [item["Key"] for item in listed]:
            return f"object_storage_config: {key} was written to {storage.where} but is not listed there"
        step = "delete"
        client.delete_object(Bucket=storage.bucket, Key=key)
    except (BotoCoreError, ClientError) as error:
        reason, _ = storage.problem(error)
        return f"object_storage_config: cannot {step} {key} in {storage.where}: {reason}"
    return None


class RejectedObjects:
    """Rejected records in the bucket: the lines of each stream gathered, and stored as one new object per stream at
    every flush (a state about to be echoed, a full buffer, the end of the sync)."""

    def __init__(self, storage: S3Storage, sync_id: int, started: datetime):
        self._storage = storage
        self._sync_id = sync_id
        self._client = storage.client(attempts=5)
        utc = started.astimezone(timezone.utc)
        self._stamp = f"{utc:%Y-%m-%d}_{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
        self._pending: Dict[StreamKey, List[str]] = {}
        self._pending_bytes = 0
        self._parts: Counter = Counter()

    @property
    def where(self) -> str:
        """The folder of this sync's objects, as the platform links to it."""
        return f"s3://{self._storage.bucket}/{'/'.join(part for part in (self._storage.prefix, str(self._sync_id)) if part)}/"

    def add(self, stream: StreamKey, line: str) -> None:
        self._pending.setdefault(stream, []).append(line)
        self._pending_bytes += len(line)
        if self._pending_bytes >= MAX_PENDING_BYTES:
            self.flush()

    def flush(self) -> None:
        for stream in list(self._pending):
            key = f"{self._storage.folder(self._sync_id, stream)}{self._stamp}_{self._parts[stream]}.jsonl"
            text = "".join(self._pending[stream])
            try:
                self._client.put_object(Bucket=self._storage.bucket, Key=key, Body=text.encode(), ContentType="application/jsonl")
            except (BotoCoreError, ClientError) as error:
                reason, failure_type = self._storage.problem(error)
                raise failure(f"Rejected records could not be stored in {self._storage.where}: {reason}", failure_type) from None
            self._parts[stream] += 1
            self._pending_bytes -= len(text)  # ASCII: a character is a byte
            del self._pending[stream]

    def close(self) -> None:
        self.flush()


def sync_id_of(sync_ids: List[Optional[int]]) -> int:
    """The job id the platform sends as each configured stream's sync_id (the same for all), or DEFAULT_SYNC_ID."""
    return next((sync_id for sync_id in sync_ids if sync_id is not None), DEFAULT_SYNC_ID)
