"""Log lines carry the unit of work's correlation id; failures are logged and counted, then raised."""
import io
import json

import pytest

from chalicelib.observability import correlated, logger, operation


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
