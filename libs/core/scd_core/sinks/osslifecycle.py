"""The OSS lifecycle rule that expires old logs, for ``scd cloud init``."""

from __future__ import annotations

from typing import Any

from scd_core.errors import BackendError, BadRequest

__all__ = ["LIFECYCLE_RULE", "ensure_lifecycle"]

LIFECYCLE_RULE = "scd-logs"


def ensure_lifecycle(client: Any, bucket: str, prefix: str, days: int) -> None:
    """Expire log objects under ``prefix`` after ``days`` days; idempotent.

    Keeps the bucket's other lifecycle rules and replaces only the rule with ID
    ``scd-logs``. For ``scd cloud init``; errors as for the sink.
    """
    from botocore.exceptions import ClientError

    if days < 1:
        raise BadRequest(f"log retention must be at least 1 day: {days}")
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise BackendError("OSS GetBucketLifecycle failed") from exc
        rules = []
    ours = {
        "ID": LIFECYCLE_RULE,
        "Filter": {"Prefix": f"{prefix.strip('/')}/" if prefix.strip("/") else ""},
        "Status": "Enabled",
        "Expiration": {"Days": days},
    }
    kept = [rule for rule in rules if rule.get("ID") != LIFECYCLE_RULE]
    config = {"Rules": [*kept, ours]}
    try:
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise BackendError(f"OSS PutBucketLifecycle failed: {code}") from exc
