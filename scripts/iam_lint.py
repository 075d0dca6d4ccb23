"""Every IAM policy of a CloudFormation template, resolved for one Region, through parliament (an offline IAM linter
that checks each action against the resource types the Service Authorization Reference gives it), and every ARN of
those policies checked against the Region's partition. Run with a Python that has parliament (requirements-tools.txt):

    .venv-tools/bin/python scripts/iam_lint.py --region us-gov-west-1 .aws-sam/transformed-us-gov-west-1.json org/*.yaml

The template is resolved as CloudFormation would resolve it with every parameter at its default: pseudo parameters
for the Region (AWS::Partition from the Region: us-east-1 -> aws, us-gov-west-1 -> aws-us-gov, cn-north-1 ->
aws-cn), conditions evaluated, a resource's Ref/GetAtt Arn written in the ARN shape of its type. A parameter without a
default gets a value of the shape its AllowedPattern asks (a KMS key ARN in the Region). Exit status 1 on a finding at
or above --fail-at (default MEDIUM: parliament's MEDIUM and above are wrong ARN shapes, actions on resource types they
do not apply to, unknown condition keys and malformed policies; LOW are style remarks such as Resource "*" or a
missing Version), on an unknown action or service prefix (LOW in parliament, a typo here), or on any ARN in another
partition. KNOWN_FALSE_POSITIVES lists, with reasons, the findings that are parliament's error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ACCOUNT = "123456789012"
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
# The partition of a Region's name (AWS General Reference, "Amazon Resource Names": aws, aws-cn, aws-us-gov).
PARTITION_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
ARN = re.compile(r"arn:(?P<partition>[^:]*):")

# Issues parliament rates LOW that still fail here: an action or service prefix IAM does not know is a typo or a
# grant that never applies.
ALWAYS_FAIL = frozenset({"UNKNOWN_ACTION", "UNKNOWN_PREFIX"})
# Documented false positives, each with its reason: (issue, the finding's detail as parliament writes it).
KNOWN_FALSE_POSITIVES: dict[tuple[str, str], str] = {
    # S3 object annotation actions: not in parliament 1.6.4's bundled IAM definitions (its data predates them), so
    # parliament calls them unknown; the grants themselves are specified by tests/template's IAM model.
    ("UNKNOWN_ACTION", "Unknown action s3:GetObjectAnnotation"): "newer than parliament's IAM data",
    ("UNKNOWN_ACTION", "Unknown action s3:PutObjectAnnotation"): "newer than parliament's IAM data",
    ("UNKNOWN_ACTION", "Unknown action s3:ListObjectAnnotations"): "newer than parliament's IAM data",
}
_NO_VALUE = object()


def partition_of(region: str) -> str:
    for prefix, partition in PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


def arn_of(kind: str, name: str, partition: str, region: str) -> str:
    """The ARN a resource of this type has (each service's "Resource types" table in the Service Authorization
    Reference), for the types these templates name; other types get a generic ARN of their service."""
    service = kind.split("::")[1].lower()
    shapes = {
        "AWS::S3::Bucket": f"arn:{partition}:s3:::{name.lower()}",
        "AWS::KMS::Key": f"arn:{partition}:kms:{region}:{ACCOUNT}:key/1111aaaa-11aa-11aa-11aa-111111111111",
        "AWS::SQS::Queue": f"arn:{partition}:sqs:{region}:{ACCOUNT}:{name}",
        "AWS::SNS::Topic": f"arn:{partition}:sns:{region}:{ACCOUNT}:{name}",
        "AWS::Lambda::Function": f"arn:{partition}:lambda:{region}:{ACCOUNT}:function:{name}",
        "AWS::IAM::Role": f"arn:{partition}:iam::{ACCOUNT}:role/{name}",
        "AWS::Events::Rule": f"arn:{partition}:events:{region}:{ACCOUNT}:rule/{name}",
        "AWS::Events::EventBus": f"arn:{partition}:events:{region}:{ACCOUNT}:event-bus/{name}",
        "AWS::Logs::LogGroup": f"arn:{partition}:logs:{region}:{ACCOUNT}:log-group:{name}:*",
        "AWS::CloudTrail::Trail": f"arn:{partition}:cloudtrail:{region}:{ACCOUNT}:trail/{name}",
        "AWS::Scheduler::Schedule": f"arn:{partition}:scheduler:{region}:{ACCOUNT}:schedule/default/{name}",
    }
    return shapes.get(kind, f"arn:{partition}:{service}:{region}:{ACCOUNT}:{name}")


def sample_value(name: str, spec: Mapping[str, Any], partition: str, region: str) -> str:
    """A value for a parameter without a default, of the shape its AllowedPattern asks for."""
    pattern = str(spec.get("AllowedPattern", ""))
    if ":kms:" in pattern:
        return arn_of("AWS::KMS::Key", name, partition, region)
    if "event-bus" in pattern:
        return arn_of("AWS::Events::EventBus", name, partition, region)
    if "OrganizationId" in name or "o-" in pattern:
        return "o-abcdefghij"
    return f"{name.lower()}-sample"


class Resolver:
    """CloudFormation's intrinsic functions, for the ones these templates use."""

    def __init__(self, template: Mapping[str, Any], region: str) -> None:
        self.template = template
        self.region = region
        self.partition = partition_of(region)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::Partition": self.partition,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "dsse-remediation",
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{region}:{ACCOUNT}:stack/dsse-remediation/id",
        }
        self.parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = spec.get("Default")
            value = sample_value(name, spec, self.partition, region) if value is None else str(value)
            listed = spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<")
            self.parameters[name] = [v.strip() for v in value.split(",")] if listed else value
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def exists(self, resource: Mapping[str, Any]) -> bool:
        name = resource.get("Condition")
        return name is None or self.condition(name)

    def value(self, node: Any) -> Any:
        result = self._value(node)
        return None if result is _NO_VALUE else result

    def _value(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic function
        if isinstance(node, list):
            return [v for v in (self._value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::If":
                name, when_true, when_false = argument
                return self._value(when_true if self.condition(name) else when_false)
            if function == "Fn::Sub":
                return self.sub(argument)
            if function == "Fn::Join":
                return str(argument[0]).join(str(v) for v in self._value(argument[1]))
            if function == "Fn::Split":
                return str(self._value(argument[1])).split(argument[0])
            if function == "Fn::Select":
                return self._value(argument[1])[int(self._value(argument[0]))]
            if function == "Fn::GetAtt":
                return self.get_att(*(argument.split(".", 1) if isinstance(argument, str) else argument))
            if function == "Fn::Equals":
                left, right = (self._value(a) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self._value(argument[0])
            if function == "Fn::And":
                return all(self._value(a) for a in argument)
            if function == "Fn::Or":
                return any(self._value(a) for a in argument)
            if function.startswith("Fn::"):
                raise SystemExit(f"{function} is not resolved by scripts/iam_lint.py")
        return {k: v for k, v in ((k, self._value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.template["Resources"][name]["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::KMS::Key") or kind.startswith("AWS::Lambda::"):
            return arn_of(kind, name, self.partition, self.region)  # Ref is the ARN (topic), the key id (key)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{name}"
        return name.lower()

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.template["Resources"][name]["Type"]
        if attribute == "Arn":
            return arn_of(kind, name, self.partition, self.region)
        return f"{name}-{attribute}"

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self._value(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


POLICY_DOCUMENT_TYPES = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
    }
)


def policy_documents(template: Mapping[str, Any], resolver: Resolver) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for every identity and resource policy of the template's existing resources. Trust policies
    (AssumeRolePolicyDocument) are left out: parliament's checks are about actions on resources."""
    for name, resource in template.get("Resources", {}).items():
        if not resolver.exists(resource):
            continue
        kind = resource["Type"]
        properties = resolver.value(resource.get("Properties", {})) or {}
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{name} {policy.get('PolicyName', '')}", policy["PolicyDocument"]
        elif kind in POLICY_DOCUMENT_TYPES:
            yield name, properties["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield name, properties["KeyPolicy"]
        elif kind == "AWS::Logs::ResourcePolicy":
            yield name, json.loads(properties["PolicyDocument"])
        elif kind == "AWS::Events::EventBusPolicy" and "Statement" in properties:
            yield name, {"Version": "2012-10-17", "Statement": [properties["Statement"]]}


@dataclass(frozen=True)
class Problem:
    where: str
    severity: str
    issue: str
    detail: str

    def __str__(self) -> str:
        return f"{self.severity:8} {self.issue:28} {self.where}: {self.detail}"


def foreign_arns(document: Any, partition: str) -> Iterator[str]:
    """ARNs in a policy that name another partition than the Region's."""
    if isinstance(document, dict):
        for value in document.values():
            yield from foreign_arns(value, partition)
    elif isinstance(document, list):
        for value in document:
            yield from foreign_arns(value, partition)
    elif isinstance(document, str):
        for match in ARN.finditer(document):
            if match["partition"] not in (partition, "*"):
                yield document


def lint(path: Path, region: str, fail_at: str) -> tuple[list[Problem], int]:
    """(problems at or above fail_at, policies checked) for one template in one Region."""
    # The tools environment's; imported here so --help needs nothing. enhance_finding gives a finding the severity
    # parliament's config.yaml sets for its issue (analyze_policy_string leaves it unset; parliament's CLI does this).
    from parliament import analyze_policy_string, enhance_finding  # type: ignore[import-not-found, unused-ignore]

    template, matches = decode(str(path))
    if template is None:
        raise SystemExit(f"{path}: {matches}")
    resolver = Resolver(template, region)
    problems: list[Problem] = []
    checked = 0
    for where, document in policy_documents(template, resolver):
        checked += 1
        for arn in foreign_arns(document, resolver.partition):
            problems.append(Problem(where, "HIGH", "ARN_IN_ANOTHER_PARTITION", arn))
        policy = analyze_policy_string(json.dumps(document))
        for finding in map(enhance_finding, policy.findings):
            detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail)
            if (finding.issue, detail) in KNOWN_FALSE_POSITIVES:
                continue
            if finding.issue in ALWAYS_FAIL or SEVERITIES.index(finding.severity) >= SEVERITIES.index(fail_at):
                problems.append(Problem(where, finding.severity, finding.issue, detail))
    return problems, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", type=Path, nargs="+")
    parser.add_argument("--region", required=True, help="the Region the templates are resolved for")
    parser.add_argument("--fail-at", default="MEDIUM", choices=SEVERITIES)
    args = parser.parse_args(argv)
    failed = False
    for path in args.templates:
        problems, checked = lint(path, args.region, args.fail_at)
        print(f"{path} in {args.region} ({partition_of(args.region)}): {checked} policies, {len(problems)} findings")
        for problem in problems:
            print(f"  {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
