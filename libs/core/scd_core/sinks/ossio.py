"""The S3 calls of the OSS log sink: errors translated, chunks listed and stitched.

Every function takes the boto3 client and the bucket; every OSS error becomes a
``BackendError`` naming the operation and OSS's error code (never its message,
which may quote the access key id), with the cause chained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from scd_core.errors import BackendError

__all__ = [
    "CLOSED",
    "DIGITS",
    "Listing",
    "call",
    "chunk_key",
    "gather",
    "list_keys",
    "listing",
    "put",
]

_T = TypeVar("_T")
DIGITS = 16
CLOSED = "closed"


def chunk_key(base: str, start: int) -> str:
    """The key of the chunk starting at ``start`` under the step's ``base``."""
    return f"{base}{start:0{DIGITS}d}"


def call(what: str, fn: Callable[[], _T]) -> _T:
    """``fn()``, with botocore's errors translated (see the module docstring)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise BackendError(f"OSS {what} failed: {code}") from exc
    except BotoCoreError as exc:
        raise BackendError(f"OSS {what} failed: {type(exc).__name__}") from exc


def put(client: Any, bucket: str, key: str, body: bytes) -> None:
    """A private object."""
    call("PutObject", lambda: client.put_object(Bucket=bucket, Key=key, Body=body, ACL="private"))


def list_keys(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under ``prefix``, page after page."""
    found: list[dict[str, Any]] = []
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = call("ListObjectsV2", lambda: client.list_objects_v2(**args))
        found.extend(page.get("Contents", ()))
        if not page.get("IsTruncated"):
            return found
        args["ContinuationToken"] = page["NextContinuationToken"]


@dataclass(frozen=True)
class Listing:
    """A step's chunks and whether it is closed, as one LIST saw them."""

    chunks: list[tuple[int, int]]  # (start, size), by start
    closed: bool

    @property
    def exists(self) -> bool:
        return bool(self.chunks) or self.closed

    @property
    def size(self) -> int:
        return max((start + size for start, size in self.chunks), default=0)


def listing(client: Any, bucket: str, base: str) -> Listing:
    """The chunks and the closed marker under the step's ``base``."""
    chunks, closed = [], False
    for item in list_keys(client, bucket, base):
        name = item["Key"][len(base) :]
        if name == CLOSED:
            closed = True
        elif len(name) == DIGITS and name.isdigit():
            chunks.append((int(name), int(item["Size"])))
    return Listing(sorted(chunks), closed)


def gather(
    client: Any, bucket: str, base: str, found: Listing, offset: int, limit: int
) -> bytes | None:
    """The bytes from ``offset`` (at most ``limit``); None when a chunk vanished."""
    from botocore.exceptions import BotoCoreError, ClientError

    out, pos = bytearray(), offset
    for start, size in found.chunks:
        if len(out) >= limit:
            break
        if not start <= pos < start + size:
            continue
        last = min(size, pos - start + limit - len(out)) - 1
        key, rng = chunk_key(base, start), f"bytes={pos - start}-{last}"
        try:
            body = client.get_object(Bucket=bucket, Key=key, Range=rng)["Body"]
            piece = body.read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            code = exc.response.get("Error", {}).get("Code", "unknown")
            raise BackendError(f"OSS GetObject failed: {code}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"OSS GetObject failed: {type(exc).__name__}") from exc
        out.extend(piece)
        pos += len(piece)
    return bytes(out)
