"""The key path: a KMS event on a configured DSSE key threatens every object it protects. Alert, and opt-in revert."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .alerts import Alerts
from .aws.kms import KeyRing, KmsGateway
from .config import Mode, Settings
from .exceptions import AwsFailure
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
    def __init__(self, settings: Settings, keys: KeyRing, kms: KmsGateway, alerts: Alerts) -> None:
        self.settings = settings
        self.keys = keys
        self.kms = kms
        self.alerts = alerts

    def handle(self, event: KeyEvent) -> KeyResult:
        """A CloudTrail KMS event (alerted, critical), or a manual look at a key (`event_name` None, not alerted)."""
        key_arn = self._configured_key(event)
        if key_arn is None:
            named = event.alias_name or ", ".join(event.key_arns) or "no key"
            reason = f"{named} is not a configured DSSE key"
            return KeyResult(key_arn=named, outcome=Outcome.OUT_OF_SCOPE, reason=reason, event_name=event.event_name)
        common: dict[str, Any] = {
            "key_arn": key_arn,
            "event_name": event.event_name,
            "dry_run": event.dry_run,
            "trigger": event.trigger,
            "protects": tuple(
                scope for ref in self.keys.references_of(key_arn) for scope in self.settings.buckets_using(ref)
            ),
        }
        actions: list[str] = []
        try:
            if event.event_name is None:
                return KeyResult(**common, **self._inspect(key_arn))
            result = KeyResult(**common, **self._respond(event, key_arn, actions))
        except AwsFailure as exc:
            reason = f"{event.event_name} on the DSSE key; handling it failed: {exc}"
            result = KeyResult(**common, outcome=Outcome.FAILED, reason=reason, actions=tuple(actions))
        error = self.alerts.send(result)
        return replace(result, alert_error=error) if error else result

    def _configured_key(self, event: KeyEvent) -> str | None:
        """Alias events matter only for a configured alias; every other event, for a configured key ARN."""
        if event.event_name in ALIAS_CHANGES:
            return self.keys.aliases.get(event.alias_name or "")
        return next((arn for arn in event.key_arns if arn in self.keys.arns), None)

    def _respond(self, event: KeyEvent, key_arn: str, actions: list[str]) -> dict[str, Any]:
        """The fields of the result of a KMS event; `actions` records each revert call as it is made."""
        name = event.event_name or ""
        found: dict[str, Any] = {"deletion_date": event.response.get("deletionDate")}
        if name == "PutKeyPolicy":
            statements = policy_summary(event.request.get("policy"), key_arn.split(":")[4])
            found["policy_statements"] = tuple(statements) if statements is not None else None
        if name in HUMAN_DECISIONS:
            found |= {"outcome": Outcome.UNREMEDIABLE, "reason": f"{name} on the DSSE key: {HUMAN_DECISIONS[name]}"}
        elif not self.settings.key_guard_revert or event.dry_run or self.settings.mode is Mode.ALERT_ONLY:
            if event.dry_run:
                why = "dry run"
            elif self.settings.mode is Mode.ALERT_ONLY:
                why = "alert-only mode writes nothing, KEY_GUARD_REVERT included"
            else:
                why = "revert is off (KEY_GUARD_REVERT=false)"
            reason = f"{name} on the DSSE key; {why}: a human must run {' then '.join(REVERTS[name])}"
            found |= {"outcome": Outcome.WOULD_REMEDIATE, "reason": reason}
        else:
            for action in REVERTS[name]:
                getattr(self.kms, _REVERT_CALLS[action])(key_arn)
                actions.append(action)
            reason = f"{name} on the DSSE key was reverted: {' then '.join(actions)}"
            # deletion_date None: the deletion was cancelled
            found |= {"outcome": Outcome.REMEDIATED, "reason": reason, "actions": tuple(actions), "deletion_date": None}
        facts = self.kms.facts(key_arn)
        found["key_state"] = facts.state
        if facts.deletion_date and not actions:
            found["deletion_date"] = facts.deletion_date.isoformat()
        return found

    def _inspect(self, key_arn: str) -> dict[str, Any]:
        facts = self.kms.facts(key_arn)
        rotation = self.kms.rotation_enabled(key_arn)
        problems = [p for p in (facts.unusable_for_dsse(), None if rotation else "rotation is off") if p]
        return {
            "outcome": Outcome.WOULD_REMEDIATE if problems else Outcome.COMPLIANT,
            "reason": "; ".join(problems) if problems else "enabled, symmetric, rotation on",
            "key_state": facts.state,
            "rotation_enabled": rotation,
            "deletion_date": facts.deletion_date.isoformat() if facts.deletion_date else None,
        }


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
