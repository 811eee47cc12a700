"""Log lines carry the unit of work's correlation id; failures are logged and counted, then raised."""
import io
import json
import logging
import threading

import pytest

from chalicelib.observability import correlated, logger, operation
from chalicelib.probes.runner import run_probes


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def log_lines():
    """The JSON lines the logger writes, as CloudWatch would receive them."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield lambda: json_lines(buffer.getvalue())
    logger.registered_handler.setStream(previous)


def test_log_lines_inside_carry_the_correlation_id_and_lose_it_after(log_lines):
    with correlated("cycle-42", component="facebook"):
        logger.info("probe failed")
    logger.info("outside")
    inside, outside = log_lines()
    assert (inside["correlation_id"], inside["component"]) == ("cycle-42", "facebook")
    assert "correlation_id" not in outside and "component" not in outside


def test_a_failing_operation_logs_counts_and_reraises(log_lines, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    with pytest.raises(RuntimeError):
        with operation("Publish", "n-1"):
            raise RuntimeError("bucket gone")
    (failure,) = [line for line in log_lines() if line.get("message") == "Publish failed"]
    assert failure["correlation_id"] == "n-1" and "bucket gone" in failure["exception"]
    (emf,) = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert emf["PublishErrors"] == [1.0] and "PublishDuration" in emf


def test_two_operations_at_once_each_log_their_own_correlation_id(log_lines):
    # GIVEN two requests served at the same time by two threads, each inside its own operation
    both_inside = threading.Barrier(2, timeout=5)

    def request(correlation_id: str) -> None:
        with operation("Request", correlation_id):
            both_inside.wait()  # the other thread has set its id by now
            logger.info("handled", extra={"by": correlation_id})
            both_inside.wait()  # and has not left its operation yet

    # WHEN both run
    threads = [threading.Thread(target=request, args=(cid,)) for cid in ("req-a", "req-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN each line carries the id of the operation that wrote it
    handled = [line for line in log_lines() if line.get("message") == "handled"]
    assert sorted((line["by"], line["correlation_id"]) for line in handled) == [("req-a", "req-a"), ("req-b", "req-b")]


def test_leaving_a_nested_block_restores_the_keys_around_it(log_lines):
    with correlated("request-1", path="/incidents"):
        with correlated("cycle-7"):
            logger.info("inner")
        logger.info("outer again")
    inner, outer = log_lines()
    assert inner["correlation_id"] == "cycle-7"
    assert (outer["correlation_id"], outer["path"]) == ("request-1", "/incidents")


def test_probe_threads_log_the_correlation_id_of_the_cycle_that_started_them(log_lines):
    # GIVEN a probe whose check logs from the runner's thread pool
    def run_one(probe, context):
        logging.getLogger("beacon.probes").warning("checking %s", probe)
        return probe

    # WHEN two cycles run their probes at once
    def cycle(correlation_id: str) -> None:
        with operation("ProbeCycle", correlation_id):
            run_probes([f"{correlation_id}/facebook", f"{correlation_id}/x"], None, deadline_seconds=5,
                       max_workers=2, run_one=run_one)

    threads = [threading.Thread(target=cycle, args=(cid,)) for cid in ("cycle-1", "cycle-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN every probe's line carries its own cycle's id
    checks = [line for line in log_lines() if line.get("message", "").startswith("checking")]
    assert len(checks) == 4
    assert all(line["message"].startswith(f"checking {line['correlation_id']}/") for line in checks)
