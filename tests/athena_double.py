"""Athena for the tests: results seeded into moto, what moto's Athena lacks supplied by a documented double, and a
scripted `Queries` for the posture's unit tests.

What moto 5.2.5's Athena does (moto/athena/models.py, responses.py): StartQueryExecution records the query and, at
once, takes the next seeded `QueryResults` from `athena_backends[account][region].query_results_queue` (so a DDL
statement takes one too: seed an empty result for it); GetQueryExecution answers SUCCEEDED at once (moto's
state manager by default skips QUEUED and RUNNING); GetQueryResults returns the whole seeded result, never a NextToken;
Statistics.DataScannedInBytes is always 0; no query ever FAILS. It executes no SQL.

moto 5.2.5 cannot serve this botocore (1.44): its Athena model is now rest-json, and moto routes only the JSON
protocol's `POST /` (moto/athena/urls.py), so every call answers 404 "Not yet implemented". `MotoAthena` is a
boto3-client-shaped object over moto's own Athena backend (the same model: its executions, states and seeded results),
shaping each answer as moto's responses.py does.

What documented Athena does that moto lacks, and `AthenaDouble` adds over a moto client:
- a query that fails ends in state FAILED with a StateChangeReason and an AthenaError (ErrorCategory, Retryable)
  (https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatus.html ,
  https://docs.aws.amazon.com/athena/latest/APIReference/API_AthenaError.html);
- GetQueryResults pages its rows with NextToken, MaxResults rows at most per page
  (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html): the double serves `page_size`
  rows per page, so the adapter's paging is exercised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from moto.athena.models import QueryResults, athena_backends

Row = Sequence[str | None]


def result(columns: Sequence[str], rows: Iterable[Row]) -> QueryResults:
    """A SELECT's result as Athena returns it: the header row (the column labels) first, NULL as no VarCharValue."""
    info = [{"Name": name, "Label": name, "Type": "varchar"} for name in columns]
    header = [{"Data": [{"VarCharValue": name} for name in columns]}]
    body = [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows]
    return QueryResults(rows=header + body, column_info=info)


def ddl_result() -> QueryResults:
    """What a CREATE TABLE returns: no rows."""
    return QueryResults(rows=[], column_info=[])


def seed(account: str, region: str, *results: QueryResults) -> None:
    """Queue results in moto: each StartQueryExecution takes the next one, in order."""
    athena_backends[account][region].query_results_queue.extend(results)


class MotoAthena:
    """The four calls the adapter makes, served by moto's AthenaBackend in `account`/`region` (see the docstring)."""

    def __init__(self, account: str, region: str) -> None:
        self.backend = athena_backends[account][region]

    def start_query_execution(self, **request: Any) -> Any:
        query_id = self.backend.start_query_execution(
            query=request["QueryString"],
            context=request["QueryExecutionContext"],
            config=request.get("ResultConfiguration", {}),
            workgroup=request["WorkGroup"],
            execution_parameters=None,
        )
        return {"QueryExecutionId": query_id}

    def get_query_execution(self, QueryExecutionId: str) -> Any:
        execution = self.backend.get_query_execution(QueryExecutionId)
        return {
            "QueryExecution": {
                "QueryExecutionId": QueryExecutionId,
                "Query": execution.query,
                "QueryExecutionContext": execution.context,
                "Status": {"State": execution.status},
                "Statistics": {"DataScannedInBytes": 0},
            }
        }

    def get_query_results(self, QueryExecutionId: str, **_: Any) -> Any:
        return self.backend.get_query_results(QueryExecutionId).to_dict()

    def stop_query_execution(self, QueryExecutionId: str) -> Any:
        self.backend.stop_query_execution(QueryExecutionId)
        return {}

    def executions(self) -> list[Any]:
        return list(self.backend.executions.values())


class AthenaDouble:
    """A moto Athena client, with FAILED queries and paged results (see the module docstring)."""

    def __init__(self, client: Any, *, page_size: int = 1000) -> None:
        self._client = client
        self.page_size = page_size
        self.failing: dict[str, tuple[str, bool]] = {}  # text in a query -> (StateChangeReason, Retryable)
        self.started: list[str] = []
        self.pages_served = 0

    def fail_when(self, text: str, reason: str, *, retryable: bool = False) -> None:
        self.failing[text] = (reason, retryable)

    def start_query_execution(self, **request: Any) -> Any:
        self.started.append(request["QueryString"])
        return self._client.start_query_execution(**request)

    def get_query_execution(self, **request: Any) -> Any:
        answer = self._client.get_query_execution(**request)
        execution = answer["QueryExecution"]
        for text, (reason, retryable) in self.failing.items():
            if text in execution["Query"] and execution["Status"]["State"] == "SUCCEEDED":
                execution["Status"]["State"] = "FAILED"
                execution["Status"]["StateChangeReason"] = reason
                execution["Status"]["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": retryable}
        return answer

    def get_query_results(self, QueryExecutionId: str, MaxResults: int = 1000, NextToken: str | None = None) -> Any:
        whole = self._client.get_query_results(QueryExecutionId=QueryExecutionId)
        rows = whole["ResultSet"]["Rows"]
        start = int(NextToken or 0)
        end = start + min(MaxResults, self.page_size)
        self.pages_served += 1
        page: dict[str, Any] = {
            "ResultSet": {"Rows": rows[start:end], "ResultSetMetadata": whole["ResultSet"]["ResultSetMetadata"]}
        }
        if end < len(rows):
            page["NextToken"] = str(end)
        return page

    def stop_query_execution(self, **request: Any) -> Any:
        return self._client.stop_query_execution(**request)


class ScriptedQueries:
    """A `Queries` for unit tests: answers each statement with the rows of the first script entry whose marker is in
    its text, and records every statement. A marker mapped to an Exception raises it."""

    def __init__(self, script: dict[str, list[list[str | None]] | Exception]) -> None:
        self.script = script
        self.sent: list[tuple[str, str]] = []

    def run(self, sql: str, database: str) -> list[list[str | None]]:
        self.sent.append((sql, database))
        for marker, answer in self.script.items():
            if marker in sql:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        return []
