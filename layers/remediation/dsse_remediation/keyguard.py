"""The key path: a KMS event on a configured DSSE key threatens every object it protects. Alert, and opt-in revert."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Publisher, key_alert, publish
from .aws import errors
from .aws.kms import KeyRing, KmsGateway
from .config import Mode, Settings
from .model import ALIAS_CHANGES, KeyEvent, KeyResult, Outcome

# What undoes each revertible event, in order. CancelKeyDeletion leaves the key Disabled, hence EnableKey after it.
REVERTS: dict[str, tuple[str, ...]] = {
    "DisableKey": ("EnableKey",),
    "ScheduleKeyDeletion": ("CancelKeyDeletion", "EnableKey"),
    "DisableKeyRotation": ("EnableKeyRotation",),
}
HUMAN_DECISIONS = {
    "PutKeyPolicy": "the key policy changed; reverting a policy is a human's decision: review the statements below",
    "DeleteImportedKeyMaterial": "the imported key material was deleted: the key is unusable until the same material "
    "is imported again (ImportKeyMaterial)",
    "UpdateAlias": "the configured alias now points at another key: new Lambda containers resolve it to that key, "
    "and objects would be re-encrypted under it. Point the alias back, or configure the key ARN",
    "DeleteAlias": "the configured alias was deleted: new Lambda containers fail to start until it exists again, "
    "or the key ARN is configured",
}
_REVERT_CALLS = {
    "EnableKey": "enable_key",
    "CancelKeyDeletion": "cancel_key_deletion",
    "EnableKeyRotation": "enable_key_rotation",
}


class KeyGuard:
    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        kms: KmsGateway,
        publisher: Publisher | None = None,
        on_alert_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.kms = kms
        self.publisher = publisher
        self._on_alert_error = on_alert_error

    def handle(self, event: KeyEvent) -> KeyResult:
        """A CloudTrail KMS event (alerted, critical), or a manual look at a key (`event_name` None, not alerted)."""
        key_arn = self._configured_key(event)
        if key_arn is None:
            named = event.alias_name or ", ".join(event.key_arns) or "no key"
            return KeyResult(named, Outcome.OUT_OF_SCOPE, f"{named} is not a configured DSSE key", event.event_name)
        result = KeyResult(key_arn, Outcome.COMPLIANT, "", event.event_name, dry_run=event.dry_run)
        result.trigger = event.trigger
        result.protects = [
            scope for ref in self.keys.references_of(key_arn) for scope in self.settings.buckets_using(ref)
        ]
        try:
            if event.event_name is None:
                self._inspect(result)
                return result
            self._respond(event, result)
        except (ClientError, BotoCoreError) as exc:
            result.outcome = Outcome.FAILED
            result.reason = f"{event.event_name} on the DSSE key; handling it failed: {_message(exc)}"
        result.alert_error = publish(
            self.publisher, key_alert(result, self.settings.alert_context), self._on_alert_error
        )
        return result

    def _configured_key(self, event: KeyEvent) -> str | None:
        """Alias events matter only for a configured alias; every other event, for a configured key ARN."""
        if event.event_name in ALIAS_CHANGES:
            return self.keys.aliases.get(event.alias_name or "")
        return next((arn for arn in event.key_arns if arn in self.keys.arns), None)

    def _respond(self, event: KeyEvent, result: KeyResult) -> None:
        name = event.event_name or ""
        result.deletion_date = event.response.get("deletionDate")
        if name == "PutKeyPolicy":
            result.policy_statements = policy_summary(event.request.get("policy"), result.key_arn.split(":")[4])
        if name in HUMAN_DECISIONS:
            result.outcome = Outcome.UNREMEDIABLE
            result.reason = f"{name} on the DSSE key: {HUMAN_DECISIONS[name]}"
        elif not self.settings.key_guard_revert or event.dry_run or self.settings.mode is Mode.ALERT_ONLY:
            if event.dry_run:
                why = "dry run"
            elif self.settings.mode is Mode.ALERT_ONLY:
                why = "alert-only mode writes nothing, KEY_GUARD_REVERT included"
            else:
                why = "revert is off (KEY_GUARD_REVERT=false)"
            result.outcome = Outcome.WOULD_REMEDIATE
            result.reason = f"{name} on the DSSE key; {why}: a human must run {' then '.join(REVERTS[name])}"
        else:
            for action in REVERTS[name]:
                getattr(self.kms, _REVERT_CALLS[action])(result.key_arn)
                result.actions.append(action)
            result.outcome = Outcome.REMEDIATED
            result.reason = f"{name} on the DSSE key was reverted: {' then '.join(result.actions)}"
            result.deletion_date = None  # the deletion was cancelled
        facts = self.kms.facts(result.key_arn)
        result.key_state = facts.state
        if facts.deletion_date and not result.actions:
            result.deletion_date = facts.deletion_date.isoformat()

    def _inspect(self, result: KeyResult) -> None:
        facts = self.kms.facts(result.key_arn)
        result.key_state = facts.state
        result.rotation_enabled = self.kms.rotation_enabled(result.key_arn)
        result.deletion_date = facts.deletion_date.isoformat() if facts.deletion_date else None
        problems = [p for p in (facts.unusable_for_dsse(), None if result.rotation_enabled else "rotation is off") if p]
        if problems:
            result.outcome = Outcome.WOULD_REMEDIATE
            result.reason = "; ".join(problems)
        else:
            result.reason = "enabled, symmetric, rotation on"


def policy_summary(policy: Any, account: str) -> list[dict[str, Any]] | None:
    """Each statement of the new key policy (CloudTrail does not log the previous one): Sid, Effect, Principal,
    Action, and `outsideAccount` when an Allow reaches a principal of another account or everyone."""
    try:
        parsed = json.loads(policy) if isinstance(policy, str) else policy
        found = parsed["Statement"]
    except (ValueError, TypeError, KeyError):
        return None
    statements = [found] if isinstance(found, dict) else found
    summary = []
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        entry = {k: statement.get(k) for k in ("Sid", "Effect", "Principal", "Action")}
        entry["outsideAccount"] = statement.get("Effect") == "Allow" and _reaches_outside(
            statement.get("Principal"), account
        )
        summary.append(entry)
    return summary


def _reaches_outside(principal: Any, account: str) -> bool:
    if principal == "*":
        return True
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    values = [values] if isinstance(values, str) else values
    return any(v == "*" or (v.split(":")[4] if v.startswith("arn:") else v) != account for v in values)


def _message(exc: Exception) -> str:
    return errors.message(exc) if isinstance(exc, ClientError) else str(exc)
