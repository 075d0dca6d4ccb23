"""The S3 Batch Operations parts of the template: the task function's pinning and concurrency, the report bucket, the
stack's own buckets out of scope, and the alarms and dashboard that watch the two batch functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cfn import Resolved

TASK, JOBS, OBJECT = "BatchTaskFunction", "BatchJobsFunction", "ObjectRemediationFunction"
FUNCTIONS = ("ObjectRemediationFunction", "BucketRemediationFunction", "KeyGuardFunction", TASK, JOBS)


def properties(template: Resolved, name: str) -> Any:
    return template.value(template.resource(name)["Properties"])


class TestTaskFunction:
    def test_jobs_can_pin_a_published_version(self) -> None:
        """AutoPublishAlias publishes a version on each change and points `live` at it; a job names that version
        (resolved with GetAlias at creation), so a redeploy mid-job does not switch its code."""
        task = Resolved().resource(TASK)["Properties"]

        assert task["AutoPublishAlias"] == "live"
        assert (
            Resolved()
            .function_environment(JOBS)["BATCH_TASK_FUNCTION"]
            .endswith(":function:dsse-remediation-BatchTaskFunction:live")
        )

    @pytest.mark.parametrize("concurrency", ["1", "50", "400"])
    def test_its_reserved_concurrency_is_the_parameter(self, concurrency: str) -> None:
        template = Resolved({"BatchTaskConcurrency": concurrency})

        assert properties(template, TASK)["ReservedConcurrentExecutions"] == concurrency

    def test_the_concurrency_parameter_documents_the_kms_arithmetic(self) -> None:
        spec = Resolved().template["Parameters"]["BatchTaskConcurrency"]

        assert spec["Default"] == 50
        for words in ("GenerateDataKey", "Decrypt", "10,000 requests/s", "500-1,000 KMS requests/s"):
            assert words in spec["Description"], words

    def test_it_runs_the_object_path_as_long_as_the_object_function(self) -> None:
        """A task can be a multipart copy of a large object."""
        template = Resolved()
        task, obj = properties(template, TASK), properties(template, OBJECT)

        assert (task["Timeout"], task["CodeUri"], task["Handler"]) == (
            obj["Timeout"],
            "functions/batch_task/",
            "app.lambda_handler",
        )
        assert "ALERT_TOPIC_ARN" not in template.function_environment(TASK)


class TestReportBucket:
    @pytest.fixture
    def bucket(self) -> Any:
        return properties(Resolved(), "ReportBucket")

    def test_dsse_kms_under_the_key_without_a_bucket_key(self, bucket: Any) -> None:
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]

        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms:dsse",
            "KMSMasterKeyID": Resolved().parameters["DsseKmsKeyArn"],
        }
        assert rule["BucketKeyEnabled"] is False

    def test_private_versioned_and_owner_enforced(self, bucket: Any) -> None:
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(bucket["PublicAccessBlockConfiguration"]) == 4

    def test_tls_only(self) -> None:
        template = Resolved()
        (statement,) = properties(template, "ReportBucketPolicy")["PolicyDocument"]["Statement"]
        arn = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})

        assert statement == {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }

    @pytest.mark.parametrize("days", ["7", "90", "400"])
    def test_reports_and_manifests_expire_the_backstop_record_does_not(self, days: str) -> None:
        rules = properties(Resolved({"ReportRetentionDays": days}), "ReportBucket")["LifecycleConfiguration"]["Rules"]
        expiring = {rule.get("Prefix"): rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}

        # not backstop/last-run.json, nor the dated posture documents (posture/); Athena's query results do
        assert expiring == {"reports/": days, "manifests/": days, "athena/": days}
        (versions,) = [rule for rule in rules if "NoncurrentVersionExpiration" in rule]
        assert "Prefix" not in versions
        assert versions["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
        assert versions["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}

    @pytest.mark.parametrize("trail", ["true", "false"])
    @pytest.mark.parametrize("excluded", ["", "logs-*,tmp-*"])
    @pytest.mark.parametrize("function", FUNCTIONS)
    def test_the_stacks_own_buckets_are_out_of_scope_everywhere(self, function: str, trail: str, excluded: str) -> None:
        """The backstop writes to the report bucket on every run: in scope, it would find new objects every day."""
        template = Resolved({"CreateDataEventTrail": trail, "ExcludedBuckets": excluded})
        listed = [name for name in template.function_environment(function)["EXCLUDED_BUCKETS"].split(",") if name]
        own = [template.value({"Ref": "ReportBucket"})]
        own += [template.value({"Ref": "TrailLogBucket"})] if trail == "true" else []

        assert listed == [name for name in excluded.split(",") if name] + own


class TestOperations:
    @pytest.mark.parametrize(("alarm", "function"), [("BatchTaskErrorsAlarm", TASK), ("BatchJobsErrorsAlarm", JOBS)])
    def test_errors_of_each_batch_function_raise_an_alarm_like_the_others(self, alarm: str, function: str) -> None:
        template = Resolved()
        found, reference = properties(template, alarm), properties(template, "BucketFunctionErrorsAlarm")

        assert found["Dimensions"] == [{"Name": "FunctionName", "Value": template.value({"Ref": function})}]
        for name in ("Namespace", "MetricName", "Statistic", "Threshold", "ComparisonOperator", "AlarmActions"):
            assert found[name] == reference[name], name

    def test_the_dashboard_shows_both_batch_functions(self) -> None:
        template = Resolved()
        body = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))
        shown = json.dumps(body)

        for function in (TASK, JOBS):
            assert template.value({"Ref": function}) in shown
