"""The multipart copy in place, for objects above the threshold (CopyObject copies at most 5 GB).

Why not s3transfer's managed `copy()` (boto3's `client.copy`): it sends the tags in a separate PutObjectTagging after
CreateMultipartUpload (a window without tags), cannot make CompleteMultipartUpload conditional on the destination
still being the judged object (IfMatch), and does not pass ExpectedSourceBucketOwner, AnnotationDirective or the
Object Lock event hold. Only its part-size arithmetic (ChunksizeAdjuster: at most 10,000 parts) is reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from s3transfer.utils import ChunksizeAdjuster

from ..model import DsseTarget, ObjectState, Written
from .s3_writes import CHECKSUM_FIELDS, copy_source, tagging_query, write_args, written

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class AnnotationsWouldBeLost(Exception):
    """A multipart copy does not carry object annotations; the object is left untouched."""


class CopyStopped(Exception):
    """`stopping` was set during a multipart copy: the upload was aborted, the object left untouched."""


def multipart_copy_in_place(
    client: S3Client,
    owner: Mapping[str, Any],
    source_owner: Mapping[str, Any],
    state: ObjectState,
    target: DsseTarget,
    grants: Mapping[str, str],
    part_size: int,
    concurrency: int,
    stopping: threading.Event,
    now: datetime,
    checkpoint: Callable[[int, int, int], None],
) -> Written:
    """CreateMultipartUpload + parallel UploadPartCopy + CompleteMultipartUpload, aborted on any failure.

    Every content header, the user metadata, the tags and the checksum algorithm are set explicitly on
    CreateMultipartUpload (no directives on this path). Parts are pinned to the judged ETag and the completion
    is conditional on the destination still having it. Annotations are not carried by a multipart copy, so an
    annotated object is refused (AnnotationsWouldBeLost) before anything is written.
    `checkpoint(part number, parts, part bytes)` is called before each part; what it raises stops the copy (the
    caller's deadline), and the upload is aborted.
    """
    listed = client.list_object_annotations(Bucket=state.bucket, Key=state.key, MaxAnnotationResults=1, **owner)
    if listed.get("Annotations"):
        raise AnnotationsWouldBeLost(f"{state.key} has object annotations")
    checksums = client.head_object(
        Bucket=state.bucket, Key=state.key, IfMatch=state.etag, ChecksumMode="ENABLED", **owner
    )
    algorithm = next((alg for f, alg in CHECKSUM_FIELDS.items() if checksums.get(f)), None)
    create_args: dict[str, Any] = {
        "Bucket": state.bucket,
        "Key": state.key,
        "Metadata": dict(state.metadata),
        **state.content,
        **write_args(state, target, grants, now),
        **owner,
    }
    if algorithm:
        create_args["ChecksumAlgorithm"] = algorithm
        if checksums.get("ChecksumType"):
            create_args["ChecksumType"] = checksums["ChecksumType"]
    if state.tag_count:
        create_args["Tagging"] = tagging_query(client, owner, state)
    upload_id = client.create_multipart_upload(**create_args)["UploadId"]
    try:
        part_size = ChunksizeAdjuster().adjust_chunksize(part_size, state.size)
        ranges = [(start, min(start + part_size, state.size) - 1) for start in range(0, state.size, part_size)]

        def copy_part(numbered: tuple[int, tuple[int, int]]) -> dict[str, Any]:
            number, (first, last) = numbered
            if stopping.is_set():
                raise CopyStopped(f"stopped before part {number} of {len(ranges)}")
            checkpoint(number, len(ranges), last - first + 1)
            result = client.upload_part_copy(
                Bucket=state.bucket,
                Key=state.key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=copy_source(state),
                CopySourceIfMatch=state.etag,
                CopySourceRange=f"bytes={first}-{last}",
                **owner,
                **source_owner,
            )["CopyPartResult"]
            part: dict[str, Any] = {"PartNumber": number, "ETag": result["ETag"]}
            part.update({f: result[f] for f in CHECKSUM_FIELDS if f in result})  # type: ignore[literal-required]
            return part

        with ThreadPoolExecutor(max_workers=min(concurrency, len(ranges)) or 1) as pool:
            parts = list(pool.map(copy_part, enumerate(ranges, start=1)))
        response = client.complete_multipart_upload(
            Bucket=state.bucket,
            Key=state.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            IfMatch=state.etag,
            **owner,
        )
    except BaseException:  # includes KeyboardInterrupt: never leave a half-done upload behind
        client.abort_multipart_upload(Bucket=state.bucket, Key=state.key, UploadId=upload_id, **owner)
        raise
    return written(response)
