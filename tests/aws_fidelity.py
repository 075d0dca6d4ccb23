"""Make moto's S3 and KMS behave like the documented services where the product depends on it.

moto 5.2.5 differs from real S3 and KMS in ways that would let a broken product pass (or a right one fail). Each
patch below follows the cited AWS documentation; the product code is never bent to moto. `apply()` patches moto's
classes in this process, so it covers both `mock_aws()` and an in-process `ThreadedMotoServer` (the demo).

1. Default encryption. "Amazon S3 now applies server-side encryption with Amazon S3 managed keys (SSE-S3) as the
   base level of encryption for every bucket"; HeadObject reports `x-amz-server-side-encryption: AES256`.
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
   moto stores no encryption and reports no header.
2. DSSE key id. HeadObject/CopyObject return `x-amz-server-side-encryption-aws-kms-key-id` for objects "encrypted
   with AWS KMS keys (SSE-KMS or DSSE-KMS)". https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
   moto reports it for `aws:kms` only.
3. Conditional copies. CopyObject and UploadPartCopy honour `x-amz-copy-source-if-match` (412 PreconditionFailed),
   and CopyObject / CompleteMultipartUpload honour the destination `If-Match` (412).
   https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html ,
   https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html ,
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
   moto ignores the source condition on both, and If-Match on CopyObject and CompleteMultipartUpload.
4. Copy onto itself "without changing the object's metadata, storage class, website redirect location or
   encryption attributes" is refused with InvalidRequest. https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
   moto also accepts it when the bucket merely has a default encryption configuration.
5. What a copy does not carry: "the x-amz-website-redirect-location ... is not copied" and the copy's ACL is
   private unless the request grants one ("the ACL is not preserved").
   https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
   moto keeps the redirect and applies the bucket's ACL. Likewise an object completed from a multipart upload
   without an ACL is private (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html, "Default
   ACL"); moto leaves it with no ACL at all.
6. Object Ownership. New buckets are created with `BucketOwnerEnforced` (ACLs disabled) since April 2023.
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
   moto creates buckets with no ownership controls.
7. Object Lock on copies. The Content-MD5 / checksum requirement for Object Lock parameters protects an upload's
   body (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html); CopyObject has no body and lists no
   such requirement (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). moto applies it to copies.
9. Object annotations. moto 5.2.5 has no annotations API; ListObjectAnnotations here lists what a test attached
   with `annotate()` (none by default), in the documented response shape.
   https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectAnnotations.html
10. Bucket default encryption. DeleteBucketEncryption "resets the default encryption for the bucket as server-side
    encryption with Amazon S3 managed keys (SSE-S3)", so GetBucketEncryption reports the AES256 rule rather than
    "not found"; and a rule's BlockedEncryptionTypes is returned as it was put.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html ,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_BlockedEncryptionTypes.html
    moto answers ServerSideEncryptionConfigurationNotFoundError and drops BlockedEncryptionTypes.
11. KMS key ids. EnableKey, DisableKey, CancelKeyDeletion and ScheduleKeyDeletion take "the key ID or key ARN".
    https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKey.html
    moto 5.2.5 looks the KeyId up as a bare key id only (KeyError on an ARN).
12. EventBridge arrays of objects. EventBridge's matcher (Event Ruler) matches a pattern field against each element
    of an array, fields of objects inside arrays included: `{"detail": {"resources": {"ARN": [...]}}}` matches a
    CloudTrail event whose `detail.resources` holds an object with that ARN.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html ,
    https://github.com/aws/event-ruler (README, "arrays")
    moto 5.2.5 flattens nested objects only, so such a pattern never matches there.
8. KMS keys. Writing with SSE-KMS/DSSE-KMS makes S3 call kms:GenerateDataKey; a disabled or pending-deletion key
   fails the write (S3 relays `KMS.DisabledException` / `KMS.KMSInvalidStateException`).
   https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
   moto's S3 never consults KMS.
13. Security Hub GetFindings filters. "Filters: The finding attributes used to define a condition to filter the
    returned findings"; a string filter with `Comparison: EQUALS` keeps the findings whose attribute equals one of
    the values. https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_GetFindings.html ,
    https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_StringFilter.html
    moto 5.2.5 ignores Filters and answers every finding. Here the EQUALS string filters on top-level string
    attributes (Id, ProductArn, RecordState, ...) are applied; other filters are left as moto has them.
14. Security Hub BatchImportFindings on an existing finding (same Id): "If UpdatedAt on the update occurs before
    UpdatedAt on the existing finding, then the update is ignored", and an update cannot change Note,
    UserDefinedFields, VerificationState or Workflow ("Any content in those fields and objects is ignored").
    https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html
    A new finding's workflow is NEW ("The initial state of a finding"), and Security Hub "resets WorkFlowStatus from
    NOTIFIED or RESOLVED to NEW" when "the record state changes from ARCHIVED to ACTIVE" or "the compliance status
    changes from PASSED to either WARNING, FAILED, or NOT_AVAILABLE".
    https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_Workflow.html
    moto 5.2.5 applies every import over the stored finding (dict.update), sets no Workflow and never reopens one.
    Here an update that is not later than the stored UpdatedAt is ignored (an equal one too: "the value of this field
    must be more recent than all of the previous values", asff-required-attributes.html; counted as a success, which
    the documentation does not settle), the four customer fields are kept, and the workflow starts NEW and reopens.
15. Replication rules as put. GetBucketReplication "Returns the replication configuration of a bucket"; "If you
    include the Filter element in a replication configuration, you must also include the DeleteMarkerReplication and
    Priority elements. The response also returns those elements."
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketReplication.html ; a rule's SourceSelectionCriteria
    (SseKmsEncryptedObjects, ReplicaModifications) and ExistingObjectReplication are members of the ReplicationRule
    it returns (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ReplicationRule.html).
    moto 5.2.5 answers every rule with `Filter: {Prefix: ""}` and `DeleteMarkerReplication: Disabled` and drops
    SourceSelectionCriteria and ExistingObjectReplication, so a rule that opts in to replicating KMS-encrypted objects
    reads back as one that does not.
16. EventBridge notifications. GetBucketNotificationConfiguration returns the NotificationConfiguration, whose
    EventBridgeConfiguration "Enables delivery of events to Amazon EventBridge" (an empty element when enabled).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html ,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_NotificationConfiguration.html
    moto 5.2.5 stores it from PutBucketNotificationConfiguration but leaves it out of the answer.
17. Bucket owner condition on the bucket configuration reads. "If the actual bucket owner doesn't match the expected
    bucket owner, the request fails" with Access Denied; each read's x-amz-expected-bucket-owner: "If the account ID
    that you provide does not match the actual owner of the bucket, the request fails with the HTTP status code 403
    Forbidden (access denied)". https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html ,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicy.html
    moto 5.2.5 ignores the header and answers. Here the bucket GETs of the configurations the reader-safety gate reads
    (website, policy, acl, publicAccessBlock, replication, tagging, versioning, lifecycle, notification) answer 403
    AccessDenied when the header names another account than the bucket's; other calls are left as moto has them.
18. KMS GetKeyPolicy's PolicyName: "If no policy name is specified, the default value is default", and the response
    carries `PolicyName` ("The name of the key policy. The only valid value is default").
    https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
    moto 5.2.5 answers a request without PolicyName with NotFoundException and leaves PolicyName out of the answer.
19. Block Public Access on new buckets. "By default, new buckets, access points, and objects don't allow public
    access": since April 2023 S3 turns on all four Block Public Access settings of every new bucket, so
    GetPublicAccessBlock answers them rather than NoSuchPublicAccessBlockConfiguration until DeletePublicAccessBlock.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-block-public-access-bucket.html ,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
    moto 5.2.5 creates buckets with none. (moto enforces no Block Public Access setting either way.)
20. Organization trails in member accounts. An organization trail "logs events for the management account and all
    member accounts"; "Users with CloudTrail permissions in member accounts can see this trail ... when they run AWS
    CLI commands such as describe-trail" (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html):
    DescribeTrails with shadow trails returns "the replication of an organization trail in member accounts"
    (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html), and GetTrailStatus
    answers a member account that names it by "the full ARN of that trail"
    (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetTrailStatus.html).
    moto 5.2.5 shows a trail in its own account only. Here a member account of a moto organization also sees its
    management account's organization trails (multi-Region ones in every Region, the others in their home Region)
    and reads their status by ARN. GetEventSelectors is left as moto has it (TrailNotFoundException in a member
    account): no page documents that a member account may read an organization trail's selectors.
21. One kind of event selectors. "You can use either AdvancedEventSelectors or EventSelectors, but not both. If you
    apply AdvancedEventSelectors to a trail, any existing EventSelectors are overwritten", and the reverse for
    EventSelectors (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventSelectors.html).
    moto 5.2.5 keeps a trail's advanced selectors when basic ones are put, so GetEventSelectors answers both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.cloudtrail import models as cloudtrail_models
from moto.core.responses import ActionResult
from moto.events import models as events_models
from moto.kms import models as kms_models
from moto.kms import responses as kms_responses
from moto.kms.models import kms_backends
from moto.organizations.models import organizations_backends
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import (
    CopyObjectMustChangeSomething,
    MissingKey,
    PreconditionFailed,
    ReplicationConfigurationNotFoundError,
    S3AccessDeniedError,
    S3ClientError,
)
from moto.securityhub import models as securityhub_models

_KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
_ANNOTATIONS: dict[tuple[str, str], list[str]] = {}


def annotate(bucket: str, key: str, name: str) -> None:
    """Attach an annotation name to an object (see 9 above)."""
    _ANNOTATIONS.setdefault((bucket, key), []).append(name)


def _etag_matches(condition: str, etag: str) -> bool:
    return condition.strip().strip('"') == etag.strip('"')


def _headers(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _check_kms_key(key_id: str | None) -> None:
    """Checks keys given as ARNs (what the product sends); others are left to moto."""
    if not key_id or not key_id.startswith("arn:"):
        return
    _, _, _, region, account_id, _ = key_id.split(":", 5)
    backend = kms_backends[account_id][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:
        raise S3ClientError("KMS.NotFoundException", f"Invalid keyId {key_id}") from None
    if key.key_state == "Disabled":
        raise S3ClientError("KMS.DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise S3ClientError("KMS.KMSInvalidStateException", f"{key.arn} is {key.key_state}.")


@contextmanager
def applied() -> Iterator[None]:
    undo = apply()
    try:
        yield
    finally:
        undo()


Patch = Callable[[Any, str, Any], None]  # patch(owner, name, new): replaces owner.name, recorded for undo


def apply() -> Callable[[], None]:
    """Patch moto in this process; returns a function that undoes every patch."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, new)

    # Each item wraps what is there, so where items share a method (PutObject: 1 and 8; CopyObject: 3, 4, 5 and 8;
    # the key POST: 3 and 8) the one applied last runs first: applied from the last down, the lower numbers check
    # first.
    for item in reversed(_ITEMS):
        item(patch)

    def undo() -> None:
        _ANNOTATIONS.clear()
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)

    return undo


def _default_encryption(patch: Patch) -> None:
    """1: SSE-S3 by default."""
    original_put = s3_models.S3Backend.put_object

    @functools.wraps(original_put)
    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        bucket = self.get_bucket(kwargs.get("bucket_name", args[0] if args else None))
        if not kwargs.get("encryption") and not bucket.encryption:
            kwargs["encryption"] = "AES256"
        return original_put(self, *args, **kwargs)

    patch(s3_models.S3Backend, "put_object", put_object)


def _dsse_key_id(patch: Patch) -> None:
    """2: report the key id for DSSE objects too."""
    original_response_dict: Any = s3_models.FakeKey.__dict__["response_dict"]  # the property object

    def response_dict(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_response_dict.fget(self)
        if self.encryption == "aws:kms:dsse" and self.kms_key_id:
            result["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        return result

    patch(s3_models.FakeKey, "response_dict", property(response_dict))


def _conditional_copies(patch: Patch) -> None:
    """3: conditional copies."""
    response_cls = s3_responses.S3Response

    # CopyObject: the source condition and the destination If-Match.
    original_copy = response_cls.copy_object

    @functools.wraps(original_copy)
    def copy_object(self: Any) -> Any:
        headers = _headers(self)
        source = _copy_source_object(self, headers)
        dest_key = self.parse_key_name()
        current = self.backend.get_object(self.bucket_name, dest_key)
        if source is not None:
            if "x-amz-copy-source-if-match" in headers:
                _check_source_if_match(headers["x-amz-copy-source-if-match"], source)
            if "if-match" in headers:
                _check_if_match(headers["if-match"], current, dest_key)
        return original_copy(self)

    patch(response_cls, "copy_object", copy_object)

    # UploadPartCopy source condition.
    original_part_copy = response_cls.upload_part_copy

    @functools.wraps(original_part_copy)
    def upload_part_copy(self: Any) -> Any:
        headers = _headers(self)
        condition = headers.get("x-amz-copy-source-if-match")
        if condition:
            source = _copy_source_object(self, headers)
            if source is not None:
                _check_source_if_match(condition, source)
        return original_part_copy(self)

    patch(response_cls, "upload_part_copy", upload_part_copy)

    # CompleteMultipartUpload destination If-Match.
    original_post = response_cls._key_response_post

    @functools.wraps(original_post)
    def key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str) -> Any:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if query.get("uploadId") and "if-match" in headers:
            _check_if_match(headers["if-match"], self.backend.get_object(bucket_name, key_name), key_name)
        return original_post(self, request, body, bucket_name, query, key_name)

    patch(response_cls, "_key_response_post", key_response_post)


def _copy_onto_itself(patch: Patch) -> None:
    """4: a copy onto itself must change something."""
    original_copy = s3_responses.S3Response.copy_object

    @functools.wraps(original_copy)
    def copy_object(self: Any) -> Any:
        headers = _headers(self)
        source = _copy_source_object(self, headers)
        dest_key = self.parse_key_name()
        if source is not None:
            same_object = source.bucket_name == self.bucket_name and source.name == dest_key
            changes = (
                headers.get("x-amz-storage-class"),
                headers.get("x-amz-server-side-encryption"),
                headers.get("x-amz-metadata-directive", "").upper() == "REPLACE",
                headers.get("x-amz-website-redirect-location"),
            )
            if same_object and not any(changes):
                raise CopyObjectMustChangeSomething()
        return original_copy(self)

    patch(s3_responses.S3Response, "copy_object", copy_object)


def _what_a_copy_does_not_carry(patch: Patch) -> None:
    """5: what a copy does not carry."""
    # CopyObject: no website redirect; private unless the request grants an ACL.
    original_copy = s3_responses.S3Response.copy_object

    @functools.wraps(original_copy)
    def copy_object(self: Any) -> Any:
        headers = _headers(self)
        dest_key = self.parse_key_name()
        result = original_copy(self)
        new_key = self.backend.get_object(self.bucket_name, dest_key)
        if new_key is not None:
            if not headers.get("x-amz-website-redirect-location"):
                new_key.website_redirect_location = None
            if self._acl_from_headers(self.headers) is None:
                new_key.set_acl(s3_models.get_canned_acl("private"))
        return result

    patch(s3_responses.S3Response, "copy_object", copy_object)

    # A completed multipart upload without ACL headers is private.
    original_complete = s3_models.S3Backend.complete_multipart_upload

    @functools.wraps(original_complete)
    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = original_complete(self, *args, **kwargs)
        if key is not None and key.acl is None:
            key.set_acl(s3_models.get_canned_acl("private"))
        return key

    patch(s3_models.S3Backend, "complete_multipart_upload", complete_multipart_upload)


def _object_ownership(patch: Patch) -> None:
    """6: BucketOwnerEnforced unless the CreateBucket request says otherwise."""
    original_bucket_init = s3_models.FakeBucket.__init__

    @functools.wraps(original_bucket_init)
    def bucket_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_bucket_init(self, *args, **kwargs)
        self.ownership_rule = "BucketOwnerEnforced"

    patch(s3_models.FakeBucket, "__init__", bucket_init)


def _object_lock_on_copies(patch: Patch) -> None:
    """7: Object Lock parameters on a copy need no body checksum."""
    original_key_put = s3_responses.S3Response._key_response_put

    @functools.wraps(original_key_put)
    def key_response_put(self: Any, query: Any, key_name: str) -> Any:
        headers = _headers(self)
        if "x-amz-copy-source" in headers and "uploadId" not in query and "x-amz-sdk-checksum-algorithm" not in headers:
            from requests.structures import CaseInsensitiveDict

            patched = CaseInsensitiveDict(self.headers)
            patched["x-amz-sdk-checksum-algorithm"] = "not-needed-for-copies"
            self.headers = patched
        return original_key_put(self, query, key_name)

    patch(s3_responses.S3Response, "_key_response_put", key_response_put)


def _kms_keys(patch: Patch) -> None:
    """8: KMS keys must be usable."""
    # PutObject.
    original_put = s3_models.S3Backend.put_object

    @functools.wraps(original_put)
    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        if (kwargs.get("encryption") or "") in _KMS_ALGORITHMS:
            _check_kms_key(kwargs.get("kms_key_id"))
        return original_put(self, *args, **kwargs)

    patch(s3_models.S3Backend, "put_object", put_object)

    # CopyObject.
    response_cls = s3_responses.S3Response
    original_copy = response_cls.copy_object

    @functools.wraps(original_copy)
    def copy_object(self: Any) -> Any:
        headers = _headers(self)
        if _copy_source_object(self, headers) is not None:
            _check_requested_kms_key(headers)
        return original_copy(self)

    patch(response_cls, "copy_object", copy_object)

    # KMS key at CreateMultipartUpload.
    original_post = response_cls._key_response_post

    @functools.wraps(original_post)
    def key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str) -> Any:
        if "uploads" in query:
            _check_requested_kms_key({k.lower(): v for k, v in request.headers.items()})
        return original_post(self, request, body, bucket_name, query, key_name)

    patch(response_cls, "_key_response_post", key_response_post)


def _object_annotations(patch: Patch) -> None:
    """9: ListObjectAnnotations."""
    original_key_get = s3_responses.S3Response._key_response_get

    @functools.wraps(original_key_get)
    def key_response_get(self: Any, query: Any, key_name: str) -> Any:
        if "annotation" in query and "annotationName" not in query:
            names = _ANNOTATIONS.get((self.bucket_name, key_name), [])
            entries = "".join(f"<AnnotationEntry><AnnotationName>{n}</AnnotationName></AnnotationEntry>" for n in names)
            items = f"<Annotations>{entries}</Annotations>" if names else ""
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListObjectAnnotationsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Bucket>{self.bucket_name}</Bucket><Key>{key_name}</Key>{items}"
                f"<AnnotationCount>{len(names)}</AnnotationCount></ListObjectAnnotationsResult>"
            )
            return 200, {"Content-Type": "application/xml"}, body
        return original_key_get(self, query, key_name)

    patch(s3_responses.S3Response, "_key_response_get", key_response_get)


def _bucket_default_encryption(patch: Patch) -> None:
    """10: GetBucketEncryption."""

    def get_bucket_encryption(self: Any) -> Any:
        self.data["Action"] = "GetBucketEncryption"
        stored = self.backend.get_bucket_encryption(self.bucket_name)
        rule: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
        if stored:
            raw = stored["Rule"]
            rule = {
                "ApplyServerSideEncryptionByDefault": raw["ApplyServerSideEncryptionByDefault"],
                "BucketKeyEnabled": str(raw.get("BucketKeyEnabled", "false")).lower() == "true",
            }
            if raw.get("BlockedEncryptionTypes") is not None:
                types = (raw["BlockedEncryptionTypes"] or {}).get("EncryptionType") or []
                rule["BlockedEncryptionTypes"] = {"EncryptionType": [types] if isinstance(types, str) else types}
        return self.serialized(ActionResult({"ServerSideEncryptionConfiguration": {"Rules": [rule]}}))

    patch(s3_responses.S3Response, "get_bucket_encryption", get_bucket_encryption)


def _kms_key_ids(patch: Patch) -> None:
    """11: KMS operations that take a key ARN as well as a key id."""
    kms_backend_cls = kms_models.KmsBackend
    for name in ("enable_key", "disable_key", "cancel_key_deletion", "schedule_key_deletion"):
        patch(kms_backend_cls, name, _accepting_key_arns(kms_backend_cls.__dict__[name]))


def _event_pattern_arrays(patch: Patch) -> None:
    """12: arrays of objects in event patterns."""
    patch(events_models.EventPattern, "_flatten_dict", staticmethod(_flatten_event))


def _findings_filters(patch: Patch) -> None:
    """13: GetFindings applies its EQUALS string filters."""
    hub_cls = securityhub_models.SecurityHubBackend
    original_get_findings = hub_cls.get_findings

    @functools.wraps(original_get_findings)
    def get_findings(self: Any, filters: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        answer: Any = original_get_findings(self, filters, *args, **kwargs)
        paged = isinstance(answer, tuple)  # moto's paginator answers (findings, next token)
        found: list[dict[str, Any]] = answer[0] if paged else answer
        for attribute, conditions in (filters or {}).items():
            wanted = {c.get("Value") for c in conditions if c.get("Comparison") == "EQUALS"}
            if wanted and all(isinstance(f.get(attribute), str) for f in found):
                found = [f for f in found if f.get(attribute) in wanted]
        return (found, *answer[1:]) if paged else found

    patch(hub_cls, "get_findings", get_findings)


def _findings_updates(patch: Patch) -> None:
    """14: BatchImportFindings updates only later, keeps the customer's fields, and reopens a workflow."""
    hub_cls = securityhub_models.SecurityHubBackend
    original_import_findings = hub_cls.batch_import_findings

    @functools.wraps(original_import_findings)
    def batch_import_findings(self: Any, findings: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        stored = {finding.id: finding.data for finding in self.findings}
        accepted, ignored = [], 0
        for finding in findings:
            before = stored.get(finding.get("Id"))
            if before is None:
                accepted.append({"Workflow": {"Status": "NEW"}} | finding)
            elif not _later_than(finding.get("UpdatedAt"), before.get("UpdatedAt")):
                ignored += 1
            else:
                update = {name: value for name, value in finding.items() if name not in _CUSTOMER_FIELDS}
                if _reopens(before, update):
                    update["Workflow"] = {"Status": "NEW"}
                accepted.append(update)
        failed, succeeded, failures = original_import_findings(self, accepted, *args, **kwargs)
        return failed, succeeded + ignored, failures

    patch(hub_cls, "batch_import_findings", batch_import_findings)


def _replication_as_put(patch: Patch) -> None:
    """15: GetBucketReplication answers each rule as it was put."""

    def get_bucket_replication(self: Any) -> Any:
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = [_replication_rule(rule) for rule in replication["Rule"]]
        return self.serialized(
            ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
        )

    patch(s3_responses.S3Response, "get_bucket_replication", get_bucket_replication)


def _eventbridge_notifications(patch: Patch) -> None:
    """16: GetBucketNotificationConfiguration reports EventBridge delivery."""

    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        self.data["Action"] = "GetBucketNotificationConfiguration"
        if not config:
            return self.serialized(ActionResult({}))
        result: dict[str, Any] = {
            "TopicConfigurations": [_notification(t, "TopicArn") for t in config.topic],
            "QueueConfigurations": [_notification(q, "QueueArn") for q in config.queue],
            "LambdaFunctionConfigurations": [_notification(f, "LambdaFunctionArn") for f in config.cloud_function],
        }
        if config.event_bridge is not None:
            result["EventBridgeConfiguration"] = {}
        return self.serialized(ActionResult(result))

    patch(s3_responses.S3Response, "get_bucket_notification", get_bucket_notification)


# The bucket configurations the reader-safety gate reads (aws/bucket_access.py), by their GET subresource.
_GATE_SUBRESOURCES = (
    "website",
    "policy",
    "acl",
    "publicAccessBlock",
    "replication",
    "tagging",
    "versioning",
    "lifecycle",
    "notification",
)


def _expected_bucket_owner(patch: Patch) -> None:
    """17: a configuration read of a bucket another account owns is refused."""
    original_get = s3_responses.S3Response._bucket_response_get

    @functools.wraps(original_get)
    def bucket_response_get(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        expected = _headers(self).get("x-amz-expected-bucket-owner")
        reads_configuration = any(name in querystring for name in _GATE_SUBRESOURCES)
        # get_bucket raises NoSuchBucket first, as S3 answers a missing bucket.
        if expected and reads_configuration and self.backend.get_bucket(bucket_name).account_id != expected:
            raise S3AccessDeniedError()
        return original_get(self, bucket_name, querystring)

    patch(s3_responses.S3Response, "_bucket_response_get", bucket_response_get)


def _key_policy_name(patch: Patch) -> None:
    """18: GetKeyPolicy defaults PolicyName to `default` and names it in the answer."""

    def get_key_policy(self: Any) -> str:
        name = self._get_param("PolicyName") or "default"
        kms_responses._assert_default_policy(name)
        key_id = self._get_param("KeyId")
        self._validate_cmk_id(key_id)
        return json.dumps({"Policy": self.kms_backend.get_key_policy(key_id) or "{}", "PolicyName": name})

    patch(kms_responses.KmsResponse, "get_key_policy", get_key_policy)


def _new_buckets_block_public_access(patch: Patch) -> None:
    """19: a new bucket blocks public access (all four settings) until told otherwise."""
    original_bucket_init = s3_models.FakeBucket.__init__

    @functools.wraps(original_bucket_init)
    def bucket_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_bucket_init(self, *args, **kwargs)
        self.public_access_block = s3_models.PublicAccessBlock(True, True, True, True)

    patch(s3_models.FakeBucket, "__init__", bucket_init)


def _organization_trails(patch: Patch) -> None:
    """20: a member account sees its organization's trails and reads their status by ARN."""
    backend_cls = cloudtrail_models.CloudTrailBackend
    original_describe = backend_cls.describe_trails
    original_status = backend_cls.get_trail_status

    def organization_trails(backend: Any) -> list[Any]:
        management = organizations_backends.master_accounts.get(backend.account_id)
        if management is None or management[0] == backend.account_id:
            return []
        regions = cloudtrail_models.cloudtrail_backends[management[0]].values()
        return [
            trail
            for other in regions
            for trail in other.trails.values()
            if trail.is_org_trail and (trail.is_multi_region or trail.region_name == backend.region_name)
        ]

    @functools.wraps(original_describe)
    def describe_trails(self: Any, include_shadow_trails: bool) -> Any:
        found = list(original_describe(self, include_shadow_trails))
        return found + (organization_trails(self) if include_shadow_trails else [])

    @functools.wraps(original_status)
    def get_trail_status(self: Any, name: str) -> Any:
        for trail in organization_trails(self):
            if trail.arn == name:
                return trail.status
        return original_status(self, name)

    patch(backend_cls, "describe_trails", describe_trails)
    patch(backend_cls, "get_trail_status", get_trail_status)


def _one_kind_of_event_selectors(patch: Patch) -> None:
    """21: putting one kind of event selectors removes the other."""
    trail_cls = cloudtrail_models.Trail

    def put_event_selectors(self: Any, event_selectors: Any, advanced_event_selectors: Any) -> None:
        if event_selectors:
            self.event_selectors, self.advanced_event_selectors = event_selectors, []
        elif advanced_event_selectors:
            self.event_selectors, self.advanced_event_selectors = [], advanced_event_selectors

    patch(trail_cls, "put_event_selectors", put_event_selectors)


# The numbered items above, in order.
_ITEMS: tuple[Callable[[Patch], None], ...] = (
    _default_encryption,  # 1
    _dsse_key_id,  # 2
    _conditional_copies,  # 3
    _copy_onto_itself,  # 4
    _what_a_copy_does_not_carry,  # 5
    _object_ownership,  # 6
    _object_lock_on_copies,  # 7
    _kms_keys,  # 8
    _object_annotations,  # 9
    _bucket_default_encryption,  # 10
    _kms_key_ids,  # 11
    _event_pattern_arrays,  # 12
    _findings_filters,  # 13
    _findings_updates,  # 14
    _replication_as_put,  # 15
    _eventbridge_notifications,  # 16
    _expected_bucket_owner,  # 17
    _key_policy_name,  # 18
    _new_buckets_block_public_access,  # 19
    _organization_trails,  # 20
    _one_kind_of_event_selectors,  # 21
)


def _copy_source_object(response: Any, headers: dict[str, str]) -> Any:
    """The object a CopyObject or UploadPartCopy request reads (None if there is none)."""
    return response.backend.get_object(*_copy_source(headers["x-amz-copy-source"]))


def _check_source_if_match(condition: str, source: Any) -> None:
    """3: x-amz-copy-source-if-match against the source's ETag."""
    if not _etag_matches(condition, source.etag):
        raise PreconditionFailed("x-amz-copy-source-If-Match")


def _check_if_match(condition: str, current: Any, key_name: str) -> None:
    """3: the destination If-Match: the object must exist and have that ETag."""
    if current is None:
        raise MissingKey(key=key_name)
    if not _etag_matches(condition, current.etag):
        raise PreconditionFailed("If-Match")


def _check_requested_kms_key(headers: dict[str, str]) -> None:
    """8: the KMS key a request's SSE-KMS or DSSE-KMS headers name."""
    if headers.get("x-amz-server-side-encryption") in _KMS_ALGORITHMS:
        _check_kms_key(headers.get("x-amz-server-side-encryption-aws-kms-key-id"))


_CUSTOMER_FIELDS = ("Note", "UserDefinedFields", "VerificationState", "Workflow")


def _later_than(update: Any, stored: Any) -> bool:
    """Whether the update's UpdatedAt is after the stored one; unreadable timestamps are left to moto."""
    try:
        return _moment(update) > _moment(stored)
    except (TypeError, ValueError):
        return True


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reopens(before: dict[str, Any], update: dict[str, Any]) -> bool:
    """A NOTIFIED or RESOLVED workflow goes back to NEW when the finding turns ACTIVE or its compliance fails (14)."""
    if (before.get("Workflow") or {}).get("Status") not in ("NOTIFIED", "RESOLVED"):
        return False
    activated = before.get("RecordState") == "ARCHIVED" and update.get("RecordState") == "ACTIVE"
    was, now = ((finding.get("Compliance") or {}).get("Status") for finding in (before, update))
    return activated or (was == "PASSED" and now in ("WARNING", "FAILED", "NOT_AVAILABLE"))


def _flatten_event(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
    """moto's flattening, plus arrays of objects: each leaf path collects the values of every element."""
    result = {} if result is None else result
    if not isinstance(node, dict):
        return result
    for name, value in node.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict) and value:
            _flatten_event(value, path, result)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                for leaf, leaf_value in _flatten_event(item, path).items():
                    values = result.setdefault(leaf, [])
                    values.extend(leaf_value if isinstance(leaf_value, list) else [leaf_value])
        else:
            result[path] = value
    return result


def _accepting_key_arns(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
        return method(self, self.get_key_id(key_id), *args, **kwargs)

    return wrapper


def _copy_source(header: str) -> tuple[str, str, str | None]:
    from urllib.parse import parse_qs, unquote, urlparse

    parsed = urlparse(header)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    return bucket, key, parse_qs(parsed.query).get("versionId", [None])[0]


def _replication_rule(stored: dict[str, Any]) -> dict[str, Any]:
    """15: a stored rule (PutBucketReplication's XML, parsed) in GetBucketReplication's shape, empty elements as ""."""
    rule = {name: _empty_as_blank(value) for name, value in stored.items()}
    if "Prefix" not in rule:  # a V2 rule (Filter) is answered with its DeleteMarkerReplication, as the page says
        rule.setdefault("Filter", {"Prefix": ""})
        rule.setdefault("DeleteMarkerReplication", {"Status": "Disabled"})
    return rule


def _empty_as_blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _empty_as_blank(item) for name, item in value.items()}
    return "" if value is None else value


def _notification(item: Any, arn_key: str) -> dict[str, Any]:
    """16: one topic, queue or function configuration, as moto answers it."""
    config: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
    if item.filters:
        config["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
    return config
