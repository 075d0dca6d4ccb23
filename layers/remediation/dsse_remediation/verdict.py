"""The compliance verdict for one object, from its HeadObject state alone (no AWS calls)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .model import DSSE, ObjectState

# Objects in these classes must be restored before S3 can read them for a copy (InvalidObjectState).
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


class Verdict(StrEnum):
    COMPLIANT = "compliant"
    REMEDIABLE = "remediable"
    UNREMEDIABLE = "unremediable"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(state: ObjectState, key_arn: str, remediate_restored_archives: bool = False) -> Judgement:
    """Compliant, remediable, or unremediable with the reason and what a human can do.

    A restored GLACIER / DEEP_ARCHIVE object is readable, but its in-place copy is a new object in the archive class:
    the restored copy a reader asked for is gone with it. So it is remediated only with the opt-in
    (REMEDIATE_RESTORED_ARCHIVES), and the result says that the restore ended.
    """
    encryption = state.encryption
    if encryption.algorithm == DSSE and encryption.kms_key_id == key_arn:
        return Judgement(Verdict.COMPLIANT, f"DSSE-KMS under the configured key {key_arn}")
    if state.storage_class in ARCHIVE_CLASSES:
        restored = restored_until(state)
        if restored is None:
            then = (
                "When a restore of it completes, it is remediated (REMEDIATE_RESTORED_ARCHIVES is on), which ends "
                "that restore"
                if remediate_restored_archives
                else "Nothing remediates it automatically: after restoring it, run `dsse-remediate fix` on it with "
                "--remediate-restored-archives when the restored copy is no longer needed, or deploy with "
                "RemediateRestoredArchives=true"
            )
            return Judgement(
                Verdict.UNREMEDIABLE,
                f"archived in {state.storage_class} (encrypted with {encryption}): S3 cannot copy it until it is "
                f"restored (RestoreObject). {then}",
            )
        if not remediate_restored_archives:
            return Judgement(
                Verdict.UNREMEDIABLE,
                f"a restored copy of a {state.storage_class} object (readable until {restored}), encrypted with "
                f"{encryption}: left as it is, because its copy in place would be a new {state.storage_class} "
                "object and end this restore. Remediate it once the restored copy is no longer needed "
                "(REMEDIATE_RESTORED_ARCHIVES / --remediate-restored-archives)",
            )
    if state.storage_class == "INTELLIGENT_TIERING" and state.archive_status:
        return Judgement(
            Verdict.UNREMEDIABLE,
            f"in the Intelligent-Tiering {state.archive_status} tier: restore it (RestoreObject) and it can be "
            "remediated in the Frequent Access tier (no restore is lost: the copy stays in Intelligent-Tiering)",
        )
    return Judgement(Verdict.REMEDIABLE, f"encrypted with {encryption}, expected DSSE-KMS under {key_arn}")


def restored_until(state: ObjectState) -> str | None:
    """The expiry of a completed restore (HeadObject's `Restore: ongoing-request="false", expiry-date="..."`)."""
    restore = state.restore or ""
    if 'ongoing-request="false"' not in restore:
        return None
    found = _EXPIRY.search(restore)
    return found.group(1) if found else "its expiry date"


def ends_a_restore(state: ObjectState) -> bool:
    return state.storage_class in ARCHIVE_CLASSES and restored_until(state) is not None
