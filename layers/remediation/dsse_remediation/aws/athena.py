"""Athena adapter: one SQL statement run to its end, its rows read page by page.

The API (Amazon Athena API Reference):
- StartQueryExecution (QueryString, QueryExecutionContext.Database, WorkGroup, optionally
  ResultConfiguration.OutputLocation when the workgroup sets none) returns a QueryExecutionId; the query runs
  asynchronously. https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html
- GetQueryExecution's Status.State is QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED; StateChangeReason says why a
  query failed, AthenaError.Retryable whether running it again may succeed; Statistics.DataScannedInBytes is what the
  query is billed on. https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatus.html ,
  https://docs.aws.amazon.com/athena/latest/APIReference/API_AthenaError.html
- GetQueryResults pages the rows (MaxResults 1 to 1000, NextToken); each Datum's VarCharValue is absent for a SQL
  NULL. https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
- StopQueryExecution ends a query this adapter gave up waiting for (so it is not billed on).

The header row: a SELECT's first row of its first page holds the column labels (what the console and the JDBC/ODBC
drivers skip). The API reference does not state it, so the adapter skips the first row only when it equals the
labels that ResultSetMetadata.ColumnInfo lists; no posture query can return a data row equal to its labels (their
counts and sizes are numbers).

Polling: GetQueryExecution first after FIRST_POLL_SECONDS, then each wait doubled up to MAX_POLL_SECONDS, until the
query ends or the caller's time is up (`timeout`): then the query is stopped and AwsFailure(OUT_OF_TIME) raised.
Sleep and clock are injected: the tests never sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import AwsFailure
from ..model import Failure
from . import errors

FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 600.0
PAGE = 1000  # GetQueryResults' MaxResults upper bound
ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

Row = list[str | None]


@dataclass(frozen=True)
class Execution:
    """One query as it ended: its id, state, what it scanned (billed on) and, when it failed, why."""

    query_id: str
    state: str
    scanned_bytes: int
    reason: str | None = None
    retryable: bool = False  # AthenaError.Retryable of a failed query


class AthenaQueries:
    """`client`: a boto3 Athena client. `workgroup`: the workgroup the queries run in (its result location, its
    limits). `output_location`: s3://... for the results, only when the workgroup sets none."""

    def __init__(
        self,
        client: Any,
        workgroup: str,
        *,
        output_location: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._workgroup = workgroup
        self._output = output_location
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout
        self.executions: list[Execution] = []  # every query that ended, in order (their scanned bytes: the cost)

    def run(self, sql: str, database: str, *, timeout: float | None = None) -> Iterator[Row]:
        """The statement's rows (each a list of column values, None for NULL), the header row left out. The query
        is started and waited for before the first row is yielded; `timeout` (seconds, default the constructor's):
        the time it may take, e.g. a Lambda Deadline's remaining(). FAILED or CANCELLED: AwsFailure carrying
        Athena's StateChangeReason."""
        execution = self.execute(sql, database, timeout=timeout)
        return self._rows(execution.query_id)

    def execute(self, sql: str, database: str, *, timeout: float | None = None) -> Execution:
        """Start the statement and wait for it to end (a DDL statement, whose rows nobody reads)."""
        deadline = self._clock() + (self._timeout if timeout is None else timeout)
        query_id = self._start(sql, database)
        wait = FIRST_POLL_SECONDS
        while True:
            execution = self._state(query_id)
            if execution.state in ENDED:
                break
            if self._clock() + wait > deadline:
                self._stop(query_id)
                raise AwsFailure(
                    Failure.OUT_OF_TIME,
                    f"Athena query {query_id} still {execution.state} when its time ran out: stopped "
                    "(StopQueryExecution); run it again with more time",
                    "QueryTimeout",
                )
            self._sleep(wait)
            wait = min(wait * 2, MAX_POLL_SECONDS)
        self.executions.append(execution)
        if execution.state != "SUCCEEDED":
            raise AwsFailure(
                Failure.TRANSIENT if execution.retryable else Failure.OTHER,
                f"Athena query {query_id} {execution.state}: {execution.reason or 'no reason given'}",
                f"Query{execution.state.title()}",
            )
        return execution

    @errors.translated
    def _start(self, sql: str, database: str) -> str:
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": database},
            "WorkGroup": self._workgroup,
        }
        if self._output:
            request["ResultConfiguration"] = {"OutputLocation": self._output}
        return str(self._client.start_query_execution(**request)["QueryExecutionId"])

    @errors.translated
    def _state(self, query_id: str) -> Execution:
        found = self._client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = found.get("Status", {})
        return Execution(
            query_id,
            str(status.get("State", "")),
            int(found.get("Statistics", {}).get("DataScannedInBytes") or 0),
            status.get("StateChangeReason"),
            bool((status.get("AthenaError") or {}).get("Retryable", False)),
        )

    @errors.translated
    def _stop(self, query_id: str) -> None:
        self._client.stop_query_execution(QueryExecutionId=query_id)

    def _rows(self, query_id: str) -> Iterator[Row]:
        token: str | None = None
        first = True
        while True:
            request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE}
            if token:
                request["NextToken"] = token
            try:
                page = self._client.get_query_results(**request)
            except (ClientError, BotoCoreError) as exc:
                raise errors.failure(exc) from exc
            result = page.get("ResultSet", {})
            rows = [[datum.get("VarCharValue") for datum in row.get("Data", [])] for row in result.get("Rows", [])]
            if first and rows:
                labels = [
                    column.get("Label", column.get("Name"))
                    for column in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                ]
                if rows[0] == labels:
                    rows = rows[1:]
            first = False
            yield from rows
            token = page.get("NextToken")
            if not token:
                return
