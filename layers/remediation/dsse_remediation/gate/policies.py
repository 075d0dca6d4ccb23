"""IAM policy documents (a bucket policy, a key policy) read as AWS evaluates them, for the questions the gate asks:
who may read or write the bucket's objects, and whether the key policy lets a given principal use the key.

Why each reading (the page beside the fact):
- A statement list may be one object or a list; an explicit Deny that covers the request wins over any Allow
  (IAM User Guide, reference_policies_evaluation-logic). `Principal: "*"` and `{"AWS": "*"}` are everyone; an account
  id and `arn:aws:iam::ACCOUNT:root` both mean the whole account; a CloudFront OAI is
  `arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity ID` (reference_policies_elements_principal).
  Action names are case-insensitive, `*` and `?` are wildcards in actions and resources.
- S3 calls a bucket policy public unless each grant is limited to fixed values (no wildcard, no policy variable) of a
  principal or of aws:SourceIp (not broader than /8 IPv4, /32 IPv6), aws:SourceArn, aws:SourceVpc, aws:SourceVpce,
  aws:SourceOwner, aws:SourceAccount, s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid, s3:DataAccessPointArn
  or s3:DataAccessPointAccount; aws:PrincipalOrgID (and so aws:PrincipalAccount, aws:PrincipalArn) count as principals.
  With a public policy, RestrictPublicBuckets leaves only AWS service principals and the owner's account: it also
  cuts non-public cross-account grants (S3 User Guide, access-control-block-public-access, "The meaning of public").
- A key policy is the only way into a KMS key. Its account-root statement lets IAM policies of the key's own account
  grant access; a principal of another account needs the key policy to name that account (or the principal) and its
  own IAM policy too (KMS Developer Guide, key-policy-default, key-policy-modifying-external-accounts).
  `Principal: "*"` with aws:PrincipalOrgID, kms:CallerAccount or kms:ViaService narrows who (conditions-kms).

Never guess. When a document cannot be read with certainty the answer is the conservative one: for who reads or
writes the bucket, the grantee is kept (marked `doubt`, or kind UNPROVEN); for the key, "not allowed", with a reason
that says it could not be proven. So: Allow with NotPrincipal is an UNPROVEN grantee ("everyone except", IAM User
Guide, reference_policies_elements_notprincipal); a Deny removes a grantee only when it has no Condition, names that
principal (or "*"), names the action and covers every object; a key Allow counts only when its principal, action,
resource and every condition are known to hold (NotPrincipal/NotAction/NotResource, ForAnyValue/ForAllValues, IfExists
on an unknown key and policy variables are not relied upon); a key Deny counts unless it certainly does not apply.
`Principal: "*"` in a key Allow is not relied upon for service principals.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from dsse_remediation.gate import iam
from dsse_remediation.partitions import dns_suffix

MEANING_OF_PUBLIC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
    "#access-control-block-public-access-policy-status"
)
EXTERNAL_ACCOUNTS = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html"
ELB_LOGS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"

# The Elastic Load Balancing account that writes access logs in each Region that predates the
# logdelivery.elasticloadbalancing.amazonaws.com service principal (ELB User Guide, enable-access-logging, "Attach a
# policy to your S3 bucket"; newer Regions and Outposts use the service principals below).
ELB_ACCOUNTS: Mapping[str, str] = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ca-central-1": "985666609251",
    "eu-central-1": "054676820928", "eu-west-1": "156460612806", "eu-west-2": "652711504416",
    "eu-south-1": "635631232127", "eu-west-3": "009996457667", "eu-north-1": "897822967062",
    "ap-east-1": "754344448648", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378", "me-south-1": "076674570225", "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
}  # fmt: skip
ELB_SERVICE_PRINCIPALS = ("logdelivery.elasticloadbalancing.amazonaws.com", "logdelivery.elb.amazonaws.com")

_OAI = re.compile(r"arn:aws[a-z-]*:iam::cloudfront:user/CloudFront Origin Access Identity (\S+)")
_IAM_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[^*?]+")
# The condition keys that make a `Principal: "*"` grant non-public (S3 "The meaning of public"), by what they scope.
_SCOPE_KEYS = {
    "aws:principalarn": "principal", "aws:principalaccount": "account", "aws:principalorgid": "organization",
    "aws:sourcearn": "source", "aws:sourceaccount": "source", "aws:sourceowner": "source",
    "s3:dataaccesspointarn": "access-point", "s3:dataaccesspointaccount": "access-point",
    "aws:sourceip": "network", "aws:sourcevpc": "network", "aws:sourcevpce": "network",
    "aws:userid": "other", "s3:x-amz-server-side-encryption-aws-kms-key-id": "other",
}  # fmt: skip


class Kind(StrEnum):
    """Who a grant reaches; the values read in a sentence ("{kind} {name}")."""

    PUBLIC = "anyone"  # anonymous requests included
    ACCOUNT = "account"  # every principal of one account
    PRINCIPAL = "principal"  # one IAM principal (user, role, session)
    ORGANIZATION = "Organization"  # the principals of an Organization (aws:PrincipalOrgID)
    SERVICE = "service principal"  # for a source (aws:SourceArn / aws:SourceAccount) or any
    OAI = "CloudFront OAI"  # a CloudFront origin access identity
    CANONICAL_USER = "canonical user"  # an OAI's or an account's S3 canonical id: not mappable to a key grant
    NETWORK = "anyone from"  # aws:SourceIp, aws:SourceVpc, aws:SourceVpce: anonymous requests included
    ACCESS_POINT = "access points with"  # whoever the access points' own policies let in
    UNPROVEN = "a grantee not proven"  # a grant the gate cannot read with certainty


@dataclass(frozen=True)
class Grantee:
    """Who one bucket-policy statement lets act on the bucket's objects."""

    kind: Kind
    name: str  # "*", an account id, a principal ARN, an Organization id, a service principal, an OAI ARN, ...
    account: str | None = None  # ACCOUNT and PRINCIPAL: the principal's account
    source_arn: str | None = None  # SERVICE: the aws:SourceArn it is limited to (None: any)
    source_account: str | None = None  # SERVICE: the aws:SourceAccount it is limited to (None: any)
    organization: str | None = None  # the Organization a fixed aws:PrincipalOrgID condition limits it to
    sid: str = ""
    doubt: str = ""  # why the reading is not certain; "" when it is

    def describe(self) -> str:
        text = self.kind.value if self.name == "*" else f"{self.kind.value} {self.name}"
        if self.source_arn or self.source_account:
            text += f" for {self.source_arn or self.source_account}"
        return text + (f" (statement {self.sid})" if self.sid else "")


@dataclass(frozen=True)
class PolicyGrants:
    grantees: tuple[Grantee, ...]
    public: bool  # S3 calls the policy public, so RestrictPublicBuckets applies to it

    def restricted(self) -> tuple[Grantee, ...]:
        """The grantees RestrictPublicBuckets leaves: with a public policy, AWS service principals and the owner's
        account only. OAI, canonical-user and unproven grantees are kept: the page does not say, so no guess."""
        if not self.public:
            return self.grantees
        keep = {Kind.SERVICE, Kind.OAI, Kind.CANONICAL_USER, Kind.UNPROVEN}
        return tuple(grantee for grantee in self.grantees if grantee.kind in keep)


def readers(policy: Mapping[str, Any] | None, bucket: str, partition: str = "aws") -> PolicyGrants:
    """Who the bucket policy lets read the bucket's objects (s3:GetObject)."""
    return grantees(policy, bucket, "s3:GetObject", partition)


def writers(policy: Mapping[str, Any] | None, bucket: str, partition: str = "aws") -> PolicyGrants:
    """Who the bucket policy lets write objects into the bucket (s3:PutObject), log-delivering services among them."""
    return grantees(policy, bucket, "s3:PutObject", partition)


def grantees(policy: Mapping[str, Any] | None, bucket: str, action: str, partition: str = "aws") -> PolicyGrants:
    statements = iam.statements(policy)
    denies = [s for s in statements if iam.effect(s) == "deny" and _denies_everywhere(s, bucket, action, partition)]
    found: list[Grantee] = []
    public = False
    for statement in (s for s in statements if iam.effect(s) == "allow"):
        granted = _classify(statement)
        public = public or any(grantee.kind is Kind.PUBLIC for grantee in granted)
        if _may_apply(statement, bucket, action, partition):
            found.extend(g for g in granted if not any(_removes(deny, g) for deny in denies))
    return PolicyGrants(tuple(dict.fromkeys(found)), public)


def elb_region(account: str | None) -> str | None:
    """The Region whose Elastic Load Balancing account this is (ELB_ACCOUNTS), if it is one."""
    return next((region for region, elb in ELB_ACCOUNTS.items() if elb == account), None)


# --- the key policy -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """Who would call KMS for an object request (S3 calls it on the requester's behalf)."""

    account: str | None = None
    principal_arn: str | None = None
    organization: str | None = None
    service: str | None = None  # a service principal; "*" for any service
    source_arn: str | None = None
    source_account: str | None = None

    @classmethod
    def of(cls, grantee: Grantee) -> Requester:
        if grantee.kind is Kind.SERVICE:
            return cls(service=grantee.name, source_arn=grantee.source_arn, source_account=grantee.source_account)
        if grantee.kind is Kind.ORGANIZATION:
            return cls(organization=grantee.name)
        arn = grantee.name if grantee.kind is Kind.PRINCIPAL else None
        return cls(account=grantee.account, principal_arn=arn, organization=grantee.organization)


@dataclass(frozen=True)
class KeyAnswer:
    allowed: bool
    why: str


def key_allows(
    key_policy: Mapping[str, Any] | None, key_arn: str, action: str, requester: Requester, bucket: str | None = None
) -> KeyAnswer:
    """Whether the key policy lets `requester` use the key for `action` (kms:Decrypt for readers, kms:GenerateDataKey
    for writers) when S3 calls KMS for an object of `bucket`; "not allowed" unless it is certain."""
    if key_policy is None:
        return KeyAnswer(False, "the key policy could not be read, so no grant could be proven")
    context = _context(requester, key_arn, bucket)
    statements = iam.statements(key_policy)
    for statement in statements:
        if iam.effect(statement) == "deny" and _key_deny_may_apply(statement, key_arn, action, requester, context):
            why = f"key-policy statement {iam.sid(statement)} denies {action} (or may: it is not proven not to)"
            return KeyAnswer(False, why)
    unproven = ""
    for statement in statements:
        if iam.effect(statement) != "allow":
            continue
        applies = _key_allow_applies(statement, key_arn, action, requester, context)
        if applies:
            return KeyAnswer(True, f"key-policy statement {iam.sid(statement)} allows {action}")
        if applies is None:
            unproven = unproven or iam.sid(statement)
    if unproven:
        return KeyAnswer(False, f"key-policy statement {unproven} may allow {action}, but could not be proven to")
    return KeyAnswer(False, f"no key-policy statement allows {action}")


def _key_allow_applies(
    statement: Mapping[str, Any], key_arn: str, action: str, requester: Requester, context: Mapping[str, str]
) -> bool | None:
    """True only when the principal, the action, the resource and every condition certainly hold; None: may."""
    if "NotPrincipal" in statement:
        return None
    if not _covers(statement.get("Principal"), requester):
        return False
    if "NotAction" in statement or "NotResource" in statement:
        return None
    if not iam.matches(statement.get("Action"), action, fold=True) or not iam.matches(
        statement.get("Resource"), key_arn
    ):
        return False
    return iam.all_hold(iam.conditions(statement), context)


def _key_deny_may_apply(
    statement: Mapping[str, Any], key_arn: str, action: str, requester: Requester, context: Mapping[str, str]
) -> bool:
    if "NotPrincipal" in statement:
        principal = not _covers(statement["NotPrincipal"], requester)
    else:
        principal = _may_cover(statement.get("Principal"), requester)
    if "NotAction" in statement:
        acts = not iam.matches(statement["NotAction"], action, fold=True)
    else:
        acts = iam.matches(statement.get("Action"), action, fold=True)
    if "NotResource" in statement:
        resource = not iam.matches(statement["NotResource"], key_arn)
    else:
        resource = iam.matches(statement.get("Resource", "*"), key_arn)
    return principal and acts and resource and iam.all_hold(iam.conditions(statement), context) is not False


def _covers(principal: Any, requester: Requester) -> bool:
    """The Principal element certainly includes every principal the requester stands for."""
    for kind, value in iam.principals(principal):
        if kind == "service" and requester.service == value.lower():
            return True
        if kind != "aws" or requester.service:
            continue
        if value == "*" or value == requester.principal_arn:
            return True
        if requester.account and iam.account_of(value) == requester.account:
            return True  # an account grant delegates to that account's IAM policies
    return False


def _may_cover(principal: Any, requester: Requester) -> bool:
    """The Principal element may include one of the principals the requester stands for."""
    many = requester.principal_arn is None
    for kind, value in iam.principals(principal):
        if kind == "service":
            if requester.service in (value.lower(), "*"):
                return True
        elif kind != "aws" or value == "*":
            if value == "*" or not requester.service:
                return True
        elif requester.service:
            continue
        elif _covers({"AWS": value}, requester):
            return True
        elif many and requester.account in (None, iam.account_of(value) or iam.arn_account(value)):
            return True  # the requester stands for many principals (an account, an Organization): one may be denied
    return False


def _context(requester: Requester, key_arn: str, bucket: str | None) -> dict[str, str]:
    """What is known of the request S3 makes to KMS; a key absent here is unknown, never taken as absent."""
    parts = key_arn.split(":")
    # kms:ViaService is "SERVICE.REGION.amazonaws.com" (kms developer guide, conditions-kms.html#conditions-kms-via-
    # service); the value S3 presents in the China Regions (their endpoints end in amazonaws.com.cn) is not documented
    # there, so outside the partitions whose endpoints end in amazonaws.com it is unknown rather than guessed.
    suffix_known = len(parts) > 3 and parts[3] and dns_suffix_of(parts[1]) == "amazonaws.com"
    context = {"kms:viaservice": f"s3.{parts[3]}.amazonaws.com"} if suffix_known else {}
    if bucket and len(parts) > 1:  # DSSE has no Bucket Keys: the context is each object's ARN
        context["kms:encryptioncontext:aws:s3:arn"] = f"arn:{parts[1]}:s3:::{bucket}/*"
    known = {
        "aws:principalaccount": requester.account, "kms:calleraccount": requester.account,
        "aws:principalarn": requester.principal_arn, "aws:principalorgid": requester.organization,
        "aws:sourcearn": requester.source_arn, "aws:sourceaccount": requester.source_account,
    }  # fmt: skip
    return context | {key: value for key, value in known.items() if value}


# --- the bucket policy --------------------------------------------------------------------------------------------


def _classify(statement: Mapping[str, Any]) -> list[Grantee]:
    sid = iam.sid(statement)
    conditions = iam.conditions(statement)
    unknown = [op for op, _, _ in conditions if not iam.known(op)]
    doubt = f"a condition the gate cannot read ({', '.join(unknown)}) may narrow it, not proven" if unknown else ""
    if "NotPrincipal" in statement:
        return [Grantee(Kind.UNPROVEN, f"everyone except {statement['NotPrincipal']}", sid=sid,
                        doubt="NotPrincipal grants to everyone not listed")]  # fmt: skip
    found: list[Grantee] = []
    for kind, value in iam.principals(statement.get("Principal")):
        if kind == "service":
            found += _services(value.lower(), conditions, sid, doubt)
        elif kind == "canonicaluser":
            found.append(Grantee(Kind.CANONICAL_USER, value, sid=sid, doubt=doubt))
        elif kind == "federated":  # S3's own example of a public policy
            found.append(Grantee(Kind.PUBLIC, value, sid=sid, doubt=doubt))
        elif kind == "aws" and value == "*":
            found += _scoped(conditions, sid, doubt)
        elif kind == "aws":
            orgs = [org for org in _positive_values(conditions, "aws:principalorgid") if _fixed("", org)]
            found.append(replace(_aws_principal(value, sid, doubt), organization=orgs[0] if len(orgs) == 1 else None))
        else:
            found.append(Grantee(Kind.UNPROVEN, f"{kind}:{value}", sid=sid, doubt="a principal type not read"))
    return found


def _aws_principal(value: str, sid: str = "", doubt: str = "") -> Grantee:
    if account := iam.account_of(value):
        return Grantee(Kind.ACCOUNT, account, account=account, sid=sid, doubt=doubt)
    if _OAI.fullmatch(value):
        return Grantee(Kind.OAI, value, sid=sid, doubt=doubt)
    if match := _IAM_PRINCIPAL.fullmatch(value):
        return Grantee(Kind.PRINCIPAL, value, account=match.group(1), sid=sid, doubt=doubt)
    return Grantee(Kind.UNPROVEN, value, sid=sid, doubt="not an account, an IAM principal ARN or a CloudFront OAI")


def _scoped(conditions: list[iam.Condition], sid: str, doubt: str) -> list[Grantee]:
    """`Principal: "*"`: who the fixed-value conditions leave (S3 "The meaning of public"). Conditions are ANDed, so
    the narrowest principal scope found names who it is; without one the grant is public."""
    fixed: dict[str, list[str]] = {}
    unread: list[str] = []
    for operator, key, values in conditions:
        scope = _SCOPE_KEYS.get(key.lower())
        if scope is None:
            continue
        if operator.lower() not in iam.POSITIVE:
            unread.append(f"{operator} {key}")
        elif all(_fixed(key.lower(), value) for value in values):
            fixed.setdefault(key.lower(), []).extend(values)
    scopes = {_SCOPE_KEYS[key] for key in fixed}
    if "principal" in scopes:
        return [_aws_principal(arn, sid, doubt) for arn in fixed["aws:principalarn"]]
    if "account" in scopes:
        return [Grantee(Kind.ACCOUNT, a, account=a, sid=sid, doubt=doubt) for a in fixed["aws:principalaccount"]]
    if "organization" in scopes:
        return [Grantee(Kind.ORGANIZATION, org, sid=sid, doubt=doubt) for org in fixed["aws:principalorgid"]]
    if "source" in scopes:
        return _services("*", conditions, sid, doubt)
    for scope, kind in (("access-point", Kind.ACCESS_POINT), ("network", Kind.NETWORK), ("other", Kind.UNPROVEN)):
        if scope in scopes:
            named = "; ".join(
                f"{key} {', '.join(values)}" for key, values in fixed.items() if _SCOPE_KEYS[key] == scope
            )
            why = doubt or ("not mappable to a key grant" if scope == "other" else "")
            return [Grantee(kind, named, sid=sid, doubt=why)]
    if unread:
        why = f"whether {', '.join(unread)} keeps it non-public could not be proven"
        return [Grantee(Kind.UNPROVEN, "*", sid=sid, doubt=why)]
    return [Grantee(Kind.PUBLIC, "*", sid=sid, doubt=doubt)]


def _fixed(key: str, value: str) -> bool:
    if key == "aws:sourceip":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return network.prefixlen >= (8 if network.version == 4 else 32) or network.is_private
    if key == "s3:dataaccesspointarn":  # the access point name may be a wildcard if the account is fixed
        parts = value.split(":")
        return len(parts) > 4 and iam.ACCOUNT_ID.fullmatch(parts[4]) is not None and "${" not in value
    return not any(mark in value for mark in ("*", "?", "${"))


def _services(name: str, conditions: list[iam.Condition], sid: str, doubt: str) -> list[Grantee]:
    arns = _positive_values(conditions, "aws:sourcearn")
    accounts = _positive_values(conditions, "aws:sourceaccount") + _positive_values(conditions, "aws:sourceowner")
    sole = accounts[0] if len(accounts) == 1 else None
    if arns:
        return [Grantee(Kind.SERVICE, name, source_arn=arn, source_account=iam.arn_account(arn) or sole, sid=sid,
                        doubt=doubt) for arn in arns]  # fmt: skip
    if accounts:
        return [Grantee(Kind.SERVICE, name, source_account=a, sid=sid, doubt=doubt) for a in accounts]
    return [Grantee(Kind.SERVICE, name, sid=sid, doubt=doubt)]


def _positive_values(conditions: list[iam.Condition], key: str) -> list[str]:
    return [v for op, k, values in conditions if k.lower() == key and op.lower() in iam.POSITIVE for v in values]


def _may_apply(statement: Mapping[str, Any], bucket: str, action: str, partition: str) -> bool:
    if "NotAction" in statement:
        acts = not iam.matches(statement["NotAction"], action, fold=True)
    else:
        acts = iam.matches(statement.get("Action", "*"), action, fold=True)
    if "NotResource" in statement:
        return acts and not _covers_every_object(statement["NotResource"], bucket, partition)
    return acts and _some_object(statement.get("Resource", "*"), bucket, partition)


def _denies_everywhere(statement: Mapping[str, Any], bucket: str, action: str, partition: str) -> bool:
    """A Deny relied upon to remove a grantee: no Condition, a Principal, the action, every object."""
    if any(element in statement for element in ("Condition", "NotPrincipal", "NotAction", "NotResource")):
        return False
    return iam.matches(statement.get("Action"), action, fold=True) and _covers_every_object(
        statement.get("Resource"), bucket, partition
    )


def _removes(deny: Mapping[str, Any], grantee: Grantee) -> bool:
    for kind, value in iam.principals(deny.get("Principal")):
        if kind == "aws" and value == "*":
            return True
        if kind == "aws":
            denied = _aws_principal(value)
        elif kind in ("service", "canonicaluser"):
            denied = Grantee(Kind.SERVICE if kind == "service" else Kind.CANONICAL_USER, value.lower())
        else:
            continue
        if denied.kind is Kind.ACCOUNT and grantee.kind in (Kind.ACCOUNT, Kind.PRINCIPAL):
            if grantee.account == denied.account:
                return True
        elif denied.kind is not Kind.UNPROVEN and (grantee.kind, grantee.name.lower()) == (
            denied.kind,
            denied.name.lower(),
        ):
            return True
    return False


def _some_object(resources: Any, bucket: str, partition: str) -> bool:
    for pattern in iam.strings(resources):
        head, slash, _ = pattern.partition("/")
        arn = f"arn:{partition}:s3:::{bucket}"
        if iam.glob(head).fullmatch(arn) if slash else iam.glob(pattern).fullmatch(arn + "/key"):
            return True
    return False


def _covers_every_object(resources: Any, bucket: str, partition: str) -> bool:
    """A pattern ending in `*` that matches `arn:...:bucket/` matches every key after it as well."""
    everything = f"arn:{partition}:s3:::{bucket}/"
    return any(p.endswith("*") and iam.glob(p).fullmatch(everything) for p in iam.strings(resources))


def dns_suffix_of(partition: str) -> str | None:
    """The partition's endpoint DNS suffix; None for a partition botocore does not know."""
    try:
        return dns_suffix(partition)
    except ValueError:
        return None
