"""CloudWatch adapter: a bucket's object count, from the daily storage metric S3 publishes (AWS/S3 NumberOfObjects,
"reported once per day", in the bucket's Region). https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import errors

DAY_SECONDS = 86_400


class StorageMetrics:
    """The CloudWatch client is made on first use: a backstop run that prices nothing never makes one."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client

    @errors.translated
    def object_count(self, bucket: str, start: datetime, end: datetime) -> tuple[int, datetime] | None:
        """The bucket's latest daily NumberOfObjects between `start` and `end` (every storage class and version), and
        its day; None when there is no datapoint."""
        answer = self._client().get_metric_statistics(
            Namespace="AWS/S3",
            MetricName="NumberOfObjects",
            Dimensions=[
                {"Name": "BucketName", "Value": bucket},
                {"Name": "StorageType", "Value": "AllStorageTypes"},
            ],
            StartTime=start,
            EndTime=end,
            Period=DAY_SECONDS,
            Statistics=["Average"],
        )
        points = answer.get("Datapoints") or []
        if not points:
            return None
        latest = max(points, key=lambda point: point["Timestamp"])
        return int(latest["Average"]), latest["Timestamp"]
