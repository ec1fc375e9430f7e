"""moto's S3 server on loopback behind the OSS-refusing proxy, for the OSS sink's tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from scd_core.invokers.fcsign import Credentials
from scd_core.sinks.ossclient import make_client
from scd_core.sinks.s3proxy import S3Proxy

REGION = "cn-test"
ENDPOINT_HOST = f"s3.oss-{REGION}.aliyuncs.com"
ENDPOINT = f"http://{ENDPOINT_HOST}"
CREDS = Credentials("test-key-id", "test-key-secret-value", "test-sts-token-value")
_buckets = itertools.count()


@dataclass
class OssWorld:
    """A proxy in front of moto; ``bucket()`` makes a fresh bucket through the proxy."""

    proxy: S3Proxy

    def client(self, **overrides: Any) -> Any:
        return make_client(REGION, CREDS, ENDPOINT, self.proxy.url, **overrides)

    def bucket(self) -> str:
        name = f"scd-logs-{next(_buckets)}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def url(self, bucket: str, prefix: str = "logs") -> str:
        return f"oss://{bucket}/{prefix}?region={REGION}&endpoint={ENDPOINT}&proxy={self.proxy.url}"


@pytest.fixture(scope="session")
def oss_world() -> Iterator[OssWorld]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = S3Proxy(f"http://{host}:{port}", ENDPOINT_HOST).start()
    try:
        yield OssWorld(proxy)
    finally:
        proxy.stop()
        server.stop()
