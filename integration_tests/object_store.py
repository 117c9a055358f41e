"""A real S3-compatible server on loopback for the rejected-records store (destination_contacts/rejected.py): moto's
server mode, started once per test session, with authentication on, so that a wrong key or secret is refused as AWS
refuses it. Tests read back what the destination stored with boto3, as a user would."""

import itertools
import logging
from dataclasses import dataclass
from typing import Any, Dict, Iterator

import boto3
import requests
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
ALLOW_S3 = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


@dataclass
class ObjectStore:
    url: str
    access_key_id: str
    secret_access_key: str

    def __post_init__(self) -> None:
        self._names = itertools.count(1)

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self) -> str:
        """A bucket of the test's own, so tests never see each other's objects."""
        name = f"rejected-{next(self._names)}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def objects(self, bucket: str) -> Dict[str, str]:
        """Every object of the bucket: key → content."""
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode() for item in listed}

    def config(self, bucket: str, **fields: Any) -> dict:
        """object_storage_config for this server."""
        return {
            "storage_type": "S3",
            "s3_bucket_name": bucket,
            "s3_bucket_region": REGION,
            "s3_endpoint": self.url,
            "bucket_path": "rejected",
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            **fields,
        }


def serve() -> Iterator[ObjectStore]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # Until auth is switched on, any key is taken: enough to create the user whose key the tests use.
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="contacts-destination")
    iam.put_user_policy(UserName="contacts-destination", PolicyName="s3", PolicyDocument=ALLOW_S3)
    key = iam.create_access_key(UserName="contacts-destination")["AccessKey"]
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()  # every request from now on is checked
    yield ObjectStore(url, key["AccessKeyId"], key["SecretAccessKey"])
    requests.post(f"{url}/moto-api/reset-auth", data=b"inf", timeout=10)
    server.stop()
