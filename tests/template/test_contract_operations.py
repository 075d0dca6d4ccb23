"""The alarms and the dashboard watch the metrics the code emits: the EMF metrics the handlers write when an alert,
a forwarded event or a finding could not be delivered, in the namespace and with the service dimension the template
gives Powertools (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from dsse_remediation.alerts import ForwardFailed
from dsse_remediation.findings import FindingImportFailed
from dsse_remediation.model import Failure
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
    assert {"AlertForwardFailed", "FindingImportFailed"} <= {m[1] for m in charted(template)}
