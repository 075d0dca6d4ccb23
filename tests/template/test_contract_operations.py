"""The alarms and the dashboard watch the metrics the code emits: the EMF metrics the handlers write when an alert,
a forwarded event or a finding could not be delivered, in the namespace and with the service dimension the template
gives Powertools (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from dsse_remediation.alerts import ForwardFailed
from dsse_remediation.canary import Probe, ProbeOutcome, Tick
from dsse_remediation.findings import FindingImportFailed
from dsse_remediation.model import Encryption, Failure, ObjectResult, Outcome
from dsse_remediation.reporting import Reporter
from tests.cfn import Resolved
from tests.template.scenarios import ALL_ON, OBJECT


def emitted(template: Resolved, *failures: Exception) -> dict[str, Any]:
    """The EMF metric set a handler of this template emits when these alerts fail."""
    shared = template.function_environment(OBJECT)
    metrics = Metrics(namespace=shared["POWERTOOLS_METRICS_NAMESPACE"], service=shared["POWERTOOLS_SERVICE_NAME"])
    reporter = Reporter(Logger(), metrics)
    for failure in failures:
        reporter.alert_failed(failure)
    found: dict[str, Any] = metrics.serialize_metric_set()
    metrics.clear_metrics()
    return found


def named(metric: list[Any]) -> str | None:
    """A metric line's name; None for a metric-math expression (a one-element list holding {"expression": ...})."""
    return metric[1] if len(metric) > 1 and isinstance(metric[0], str) else None


def expressions(template: Resolved) -> list[str]:
    """The dashboard's metric-math expressions."""
    return [m[0]["expression"] for m in charted(template) if named(m) is None and "expression" in m[0]]


def charted(template: Resolved) -> list[list[Any]]:
    """Every metric of the dashboard's widgets."""
    dashboard = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))
    return [m for w in dashboard["widgets"] for m in w["properties"]["metrics"]]


def test_the_publish_failure_alarm_watches_the_metric_the_code_emits() -> None:
    """The alarm on alerts that could not be published reads the EMF metric the handlers emit, in the namespace and
    with the service dimension the template gives Powertools."""
    template = Resolved()
    alarm = template.value(template.resource("AlertPublishFailedAlarm")["Properties"])
    metric_set = emitted(template, RuntimeError("publish failed"))
    (directive,) = metric_set["_aws"]["CloudWatchMetrics"]

    assert alarm["Namespace"] == directive["Namespace"]
    assert alarm["MetricName"] in [metric["Name"] for metric in directive["Metrics"]]
    assert [d["Name"] for d in alarm["Dimensions"]] in directive["Dimensions"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": metric_set["service"]}
    assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 300)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [template.value({"Ref": "AlertTopic"})]
    assert [m for m in charted(template) if "AlertPublishFailed" in m]


def test_forward_and_finding_failures_are_counted_where_the_alarm_and_the_dashboard_look() -> None:
    """A lost event for the security account is counted apart from a lost SNS alert and alarmed on this stack's
    topic; a finding that could not be imported is counted (never a failure of the remediation) and charted."""
    template = Resolved(ALL_ON)
    alarm = template.value(template.resource("AlertForwardFailedAlarm")["Properties"])
    metric_set = emitted(
        template,
        ForwardFailed(Failure.DENIED, "AccessDeniedException: no", "AccessDeniedException"),
        FindingImportFailed(Failure.OTHER, "InvalidAccess: not subscribed", "InvalidAccess"),
    )
    (directive,) = metric_set["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for metric in directive["Metrics"]]

    assert sorted(names) == ["AlertForwardFailed", "FindingImportFailed"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (directive["Namespace"], "AlertForwardFailed")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": metric_set["service"]}
    assert alarm["AlarmActions"] == [template.value({"Ref": "AlertTopic"})]
    assert not Resolved().exists("AlertForwardFailedAlarm")
    assert {"AlertForwardFailed", "FindingImportFailed"} <= {named(m) for m in charted(template)}


def latency_and_canary_metrics(template: Resolved) -> dict[str, Any]:
    """The EMF metric set a handler of this template emits for one remediation 42 s after its write, and one canary
    tick that judged a write remediated 7 s after it was written and one that missed its SLO."""
    shared = template.function_environment(OBJECT)
    metrics = Metrics(namespace=shared["POWERTOOLS_METRICS_NAMESPACE"], service=shared["POWERTOOLS_SERVICE_NAME"])
    reporter = Reporter(Logger(), metrics)
    reporter.latency(ObjectResult(bucket="b", key="k", outcome=Outcome.REMEDIATED, reason="r", latency_seconds=42.0))
    written = datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC)
    probes = tuple(
        Probe(
            bucket="b",
            key="canary/20261120T091502Z",
            written_at=written,
            outcome=outcome,
            reason="r",
            age_seconds=900.0,
            slo_seconds=300,
            encryption=Encryption("AES256"),
            expected_key_arn="k",
            latency_seconds=latency,
        )
        for outcome, latency in ((ProbeOutcome.PASSED, 7.0), (ProbeOutcome.MISSED, None))
    )
    reporter.canary(Tick("b", probes, "canary/20261120T093002Z", Encryption("AES256")))
    found: dict[str, Any] = metrics.serialize_metric_set()
    metrics.clear_metrics()
    return found


def test_the_canary_alarm_watches_the_metric_the_canary_emits_and_stays_put_between_ticks() -> None:
    """One notification when the event path breaks: CanaryMissed is 1 per missed write and 0 per write remediated
    in time, and no data (between ticks) leaves the alarm as it is; it returns to OK at the first write in time."""
    template = Resolved(ALL_ON)
    alarm = template.value(template.resource("CanaryMissedAlarm")["Properties"])
    metric_set = latency_and_canary_metrics(template)
    (directive,) = metric_set["_aws"]["CloudWatchMetrics"]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}

    assert (alarm["Namespace"], alarm["MetricName"]) == (directive["Namespace"], "CanaryMissed")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": metric_set["service"]}
    assert metric_set["CanaryMissed"] == [0.0, 1.0]
    assert (metric_set["CanaryLatency"], units["CanaryLatency"]) == ([7.0], "Seconds")
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Maximum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["AlarmActions"] == [template.value({"Ref": "AlertTopic"})]
    errors = template.value(template.resource("CanaryFunctionErrorsAlarm")["Properties"])
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": template.value({"Ref": "CanaryFunction"})}]


def test_the_dashboard_shows_remediation_latency_percentiles_beside_eventbridges_own() -> None:
    """RemediationLatency (seconds, the object handler's EMF metric) at p50/p90/p99, beside EventBridge's
    IngestionToInvocationSuccessLatency of the object rule: on the default bus its only dimension is RuleName
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html)."""
    template = Resolved()
    metric_set = latency_and_canary_metrics(template)
    (directive,) = metric_set["_aws"]["CloudWatchMetrics"]
    widgets = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))["widgets"]
    ours = [m for w in widgets for m in w["properties"]["metrics"] if named(m) == "RemediationLatency"]
    theirs = [
        m for w in widgets for m in w["properties"]["metrics"] if named(m) == "IngestionToInvocationSuccessLatency"
    ]

    assert metric_set["RemediationLatency"] == [42.0]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]}["RemediationLatency"] == "Seconds"
    assert ours[0][:4] == [directive["Namespace"], "RemediationLatency", "service", metric_set["service"]]
    assert [m[-1]["stat"] for m in ours] == [m[-1]["stat"] for m in theirs] == ["p50", "p90", "p99"]
    rule = template.value({"Ref": "ObjectWritesRule"})  # the rule's name, as Ref gives it
    assert theirs[0][:4] == ["AWS/Events", "IngestionToInvocationSuccessLatency", "RuleName", rule]
    assert not [m for m in charted(template) if named(m) in ("CanaryLatency", "CanaryMissed")]  # no canary, no widget


def test_with_the_canary_the_dashboard_charts_its_latency_against_the_slo_and_its_misses() -> None:
    template = Resolved(ALL_ON | {"CanarySloSeconds": "240"})
    widgets = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))["widgets"]
    (canary,) = [w for w in widgets if any(named(m) == "CanaryLatency" for m in w["properties"]["metrics"])]

    assert {m[1] for m in canary["properties"]["metrics"]} == {"CanaryLatency", "CanaryMissed"}
    assert canary["properties"]["annotations"]["horizontal"] == [{"label": "SLO", "value": 240}]


def test_the_posture_widgets_search_the_metrics_the_posture_emits_per_bucket() -> None:
    """PercentDsseUnderKey and BytesNotDsse, per bucket: one line per Bucket value (a SEARCH over the namespace and
    the dimensions the handler's single_metric gives them: Bucket and service); no widget without PostureSchedule."""
    namespace = Resolved().template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]

    found = expressions(Resolved(ALL_ON))

    assert found == [
        f"SEARCH('{{{namespace},Bucket,service}} MetricName=\"PercentDsseUnderKey\"', 'Minimum', 86400)",
        f"SEARCH('{{{namespace},Bucket,service}} MetricName=\"BytesNotDsse\"', 'Maximum', 86400)",
    ]
    assert expressions(Resolved(ALL_ON | {"PostureSchedule": ""})) == []
