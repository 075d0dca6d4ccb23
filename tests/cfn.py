"""template.yaml as the tests see it: decoded by cfn-lint, intrinsic functions resolved for given parameter values.

Only what the template uses is resolved (Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If, Fn::GetAtt,
Fn::Equals, Fn::Not, Fn::And, Condition). Resources resolve to stable fake identifiers, enough to read patterns,
policies and variables.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from moto.events.models import EventPattern

OBJECT = "ObjectRemediationFunction"
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "dsse-remediation",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/dsse-remediation/"
    "51af3dc0-da77-11e4-872e-1234567db123",
}
SECURITY_BUS = "SecurityBusArn"  # what rule_target names the forwarding rule's target: the parameter's bus
_NO_VALUE = object()


@functools.cache
def _decoded() -> str:
    template, problems = decode(str(TEMPLATE))
    assert template is not None, problems
    return json.dumps(template)


def load() -> dict[str, Any]:
    """template.yaml as cfn-lint decodes it, parsed once per process (the parse is the template tests' costliest
    step: about 0.17 s, once per Resolved), a fresh copy each call: a test may change its own."""
    template: dict[str, Any] = json.loads(_decoded())
    return template


def partition_of(region: str) -> str:
    """The partition of a Region (AWS General Reference, ARNs): cn-* aws-cn, us-gov-* aws-us-gov, others aws."""
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


class Resolved:
    def __init__(
        self,
        parameters: Mapping[str, str] | None = None,
        template: dict[str, Any] | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.template = template or load()
        self.region = region
        self.partition = partition_of(region)
        self.pseudo = {
            name: value.replace("arn:aws:", f"arn:{self.partition}:").replace("us-east-1", region)
            for name, value in PSEUDO.items()
        } | {"AWS::Region": region, "AWS::Partition": self.partition}
        self.parameters: dict[str, Any] = {}
        for name, spec in self.template["Parameters"].items():
            value = (parameters or {}).get(name, spec.get("Default"))
            if name == "DsseKmsKeyArn" and value is None:
                value = PLACEHOLDER_KEY.replace("arn:aws:", f"arn:{self.partition}:").replace("us-east-1", region)
            assert value is not None, f"parameter {name} needs a value"
            listed = [item.strip() for item in str(value).split(",")]  # CloudFormation trims list items
            self.parameters[name] = listed if spec["Type"] == "CommaDelimitedList" else str(value)
        self.conditions: dict[str, bool] = {}
        for name in self.template["Conditions"]:
            self.conditions[name] = self._condition(name)

    def resource(self, name: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][name]
        return resource

    def exists(self, name: str) -> bool:
        condition = self.resource(name).get("Condition")
        return condition is None or self.conditions[condition]

    def value(self, node: Any) -> Any:
        result = self._value(node)
        return None if result is _NO_VALUE else result

    def function_environment(self, name: str) -> dict[str, str]:
        shared = self.template["Globals"]["Function"]["Environment"]["Variables"]
        own = self.resource(name)["Properties"].get("Environment", {}).get("Variables", {})
        return {key: str(self.value(v)) for key, v in (shared | own).items()}

    def function_statements(self, name: str) -> list[dict[str, Any]]:
        statements = []
        for policy in self.value(self.resource(name)["Properties"]["Policies"]) or []:
            statements.extend(policy["Statement"])
        return statements

    def role_statements(self, name: str) -> list[dict[str, Any]]:
        """The inline policies of an AWS::IAM::Role."""
        statements = []
        for policy in self.value(self.resource(name)["Properties"]["Policies"]) or []:
            statements.extend(policy["PolicyDocument"]["Statement"])
        return statements

    # -- intrinsic functions

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._value(self.template["Conditions"][name]))
        return self.conditions[name]

    def _value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self._value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            handler = getattr(self, "_" + function.replace("Fn::", "fn_").replace("::", "_"), None)
            if function in ("Ref", "Condition") or function.startswith("Fn::"):
                assert handler is not None, f"{function} is not resolved by tests/cfn.py"
                return handler(argument)
        return {k: v for k, v in ((k, self._value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _Ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name.endswith((".Alias", ".Version")):  # SAM: a function's AutoPublishAlias alias, or its version
            function, what = name.rsplit(".", 1)
            alias = self.resource(function)["Properties"]["AutoPublishAlias"]
            return f"{self.function_arn(function)}:{alias if what == 'Alias' else '1'}"
        kind = self.resource(name)["Type"]
        if kind in ("AWS::Glue::Database", "AWS::Athena::WorkGroup"):  # Ref gives the name the template sets
            properties = self.resource(name)["Properties"]
            return self._value(properties.get("DatabaseInput", properties)["Name"])
        return {
            "AWS::SNS::Topic": f"arn:{self.partition}:sns:{self.region}:123456789012:{name}",
            "AWS::SQS::Queue": f"https://sqs.{self.region}.amazonaws.com/123456789012/{name}",
            "AWS::S3::Bucket": f"dsse-remediation-{name.lower()}",  # bucket names are lower case
        }.get(kind, f"dsse-remediation-{name}")

    def function_arn(self, name: str) -> str:
        """A function's unqualified ARN, named as Ref names it."""
        return f"arn:{self.partition}:lambda:{self.region}:123456789012:function:{self._Ref(name)}"

    def _type(self, name: str) -> str:
        """A resource's type, SAM's generated rules included (an EventBridgeRule event E of function F is rule FE)."""
        if name in self.template["Resources"]:
            return str(self.resource(name)["Type"])
        for function, resource in self.template["Resources"].items():
            for event, spec in resource.get("Properties", {}).get("Events", {}).items():
                if resource["Type"] == "AWS::Serverless::Function" and function + event == name:
                    assert spec["Type"] == "EventBridgeRule", name
                    return "AWS::Events::Rule"
        raise KeyError(name)

    def _Condition(self, name: str) -> bool:
        return self._condition(name)

    def _fn_GetAtt(self, argument: Any) -> str:
        name, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        kind = self._type(name)
        if attribute == "Arn" and kind in ("AWS::S3::Bucket", "AWS::Serverless::Function", "AWS::IAM::Role"):
            # ARNs the IAM tests compare with the ARNs of real calls: shaped as AWS shapes them.
            return {
                "AWS::S3::Bucket": f"arn:{self.partition}:s3:::{self._Ref(name)}",
                "AWS::Serverless::Function": self.function_arn(name),
                "AWS::IAM::Role": f"arn:{self.partition}:iam::123456789012:role/{self._Ref(name)}",
            }[kind]
        service = kind.split("::")[1].lower()
        name_property = (
            self.resource(name).get("Properties", {}).get("Name") if name in self.template["Resources"] else None
        )
        if attribute == "Arn" and kind == "AWS::Events::Rule" and name_property is not None:
            # a named rule's ARN
            return f"arn:{self.partition}:events:{self.region}:123456789012:rule/{self.value(name_property)}"
        arn = f"arn:{self.partition}:{service}:{self.region}:123456789012:{name}"
        return arn if attribute == "Arn" else f"{name}-{attribute}"

    def _fn_Sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self._value(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self._fn_GetAtt(name)
            return str(self._Ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _fn_Join(self, argument: Any) -> str:
        separator, items = argument
        return str(self._value(separator)).join(str(v) for v in self._value(items))

    def _fn_Split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self._value(text)).split(separator)

    def _fn_Select(self, argument: Any) -> Any:
        index, items = argument
        return self._value(items)[int(self._value(index))]

    def _fn_If(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self._value(when_true if self._condition(name) else when_false)

    def _fn_Equals(self, argument: Any) -> bool:
        left, right = (self._value(a) for a in argument)
        return bool(left == right)

    def _fn_Not(self, argument: Any) -> bool:
        return not self._value(argument[0])

    def _fn_And(self, argument: Any) -> bool:
        return all(self._value(a) for a in argument)


def rule_patterns(template: Resolved) -> dict[str, dict[str, Any]]:
    """Every EventBridge pattern the stack deploys, by rule: the rules in Resources (their EventPattern is a JSON
    string), and SAM's EventBridgeRule events (named <function><event>, as SAM names the rule). Rules whose condition
    is false are left out."""
    found: dict[str, dict[str, Any]] = {}
    for name, resource in template.template["Resources"].items():
        if not template.exists(name):
            continue
        if resource["Type"] == "AWS::Events::Rule":
            pattern = template.value(resource["Properties"]["EventPattern"])
            found[name] = json.loads(pattern) if isinstance(pattern, str) else pattern
        elif resource["Type"] == "AWS::Serverless::Function":
            for event_name, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] == "EventBridgeRule":
                    found[name + event_name] = template.value(event["Properties"]["Pattern"])
    return found


def rule_target(template: Resolved, rule: str) -> str:
    """The function a rule of Resources delivers to: the object function through the object queue (its only event
    source), or a function it targets directly; or SECURITY_BUS for the bus the parameter names (the forwarding
    rule). One target per rule."""
    (target,) = [target["Arn"] for target in template.resource(rule)["Properties"]["Targets"]]
    if target == {"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}:
        return OBJECT
    if target == {"Ref": SECURITY_BUS}:
        return SECURITY_BUS
    (name, attribute) = target["Fn::GetAtt"]
    assert attribute == "Arn", (rule, target)
    assert template.resource(name)["Type"] == "AWS::Serverless::Function", (rule, target)
    return str(name)


def routes(template: Resolved) -> dict[str, list[EventPattern]]:
    """Each function's EventBridge patterns: SAM EventBridgeRule events, and the rules of Resources by their target."""
    sources = template.resource(OBJECT)["Properties"]["Events"]["ObjectEvents"]
    assert sources["Properties"]["Queue"] == {"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}
    patterns = rule_patterns(template)
    found: dict[str, list[EventPattern]] = {}
    for name, resource in template.template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            for event_name, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] == "EventBridgeRule" and name + event_name in patterns:
                    found.setdefault(name, []).append(EventPattern.load(json.dumps(patterns[name + event_name])))
        elif resource["Type"] == "AWS::Events::Rule" and name in patterns:
            found.setdefault(rule_target(template, name), []).append(EventPattern.load(json.dumps(patterns[name])))
    return found
