"""LOG_FORMAT=text gives a person one short line per record; json (the default) stays what CloudWatch gets."""
import json
import logging
import os
import re
import subprocess
import sys

import pytest

from chalicelib.observability import TextFormatter, correlated, logger, make_logger
from chalicelib.settings import PROJECT_ROOT


def record(message: str, *args, level: int = logging.INFO, **extra) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "beacon.probes", "levelno": level, "levelname": logging.getLevelName(level),
                                  "msg": message, "args": args})
    made.__dict__.update(extra)
    return made


def test_a_record_in_text_mode_is_one_short_line_with_its_fields():
    # GIVEN a probe cycle's summary, logged inside the cycle's correlated block
    with correlated("cycle-42", operation="ProbeCycle"):
        # WHEN it is formatted as text
        line = TextFormatter().format(record("probe cycle: %d probes, %d change", 14, 1, shard="a"))

    # THEN it is one line: the time, what happened, the caller's own fields; no JSON, no correlation keys
    assert re.fullmatch(r"\d\d:\d\d:\d\d probe cycle: 14 probes, 1 change shard=a", line), line
    assert "{" not in line and "cycle-42" not in line


def test_a_warning_in_text_mode_says_its_level_and_a_failure_keeps_its_traceback():
    formatter = TextFormatter()
    assert " WARNING probe state changed" in formatter.format(record("probe state changed", level=logging.WARNING))
    try:
        raise RuntimeError("bucket gone")
    except RuntimeError:
        failure = record("Publish failed", level=logging.ERROR, exc_info=sys.exc_info())
    first, *rest = formatter.format(failure).splitlines()
    assert first.endswith(" ERROR Publish failed") and rest[-1] == "RuntimeError: bucket gone"


def test_json_mode_is_the_default_and_writes_the_structured_line(capsys):
    # GIVEN the logger as a deployed function makes it (LOG_FORMAT unset)
    assert os.environ.get("LOG_FORMAT", "json") == "json"
    stream = logger.registered_handler.setStream(sys.stdout)
    try:
        # WHEN a line is logged inside an operation's block
        with correlated("n-1", operation="DeliverNotifications"):
            logger.info("sent: 3 email", extra={"batch": 2})
    finally:
        logger.registered_handler.setStream(stream)

    # THEN it is one JSON document with the message, the level, the correlation keys and the extra field
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["level"], line["message"], line["correlation_id"], line["operation"], line["batch"]) == (
        "INFO", "sent: 3 email", "n-1", "DeliverNotifications", 2)


def test_an_unknown_log_format_is_refused_with_the_variable_and_the_choices():
    with pytest.raises(ValueError, match="LOG_FORMAT is 'xml'; use one of json, text"):
        make_logger("xml")


def test_text_on_the_terminal_and_json_in_log_file_one_line_each(tmp_path):
    # GIVEN a function's process as the local stack runs it: Chalice's app first (whose logger is also
    # "beacon"), LOG_FORMAT=text and LOG_FILE set
    log_file = tmp_path / "beacon.log"
    program = ("import logging, app\n"
               "from chalicelib.observability import correlated\n"
               "with correlated('cycle-7'):\n"
               "    logging.getLogger('beacon.incidents').info('incident opened: Facebook is down')\n")
    env = {**os.environ, "LOG_FORMAT": "text", "LOG_FILE": str(log_file)}

    # WHEN it logs one line
    done = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)

    # THEN the terminal has that one readable line, and the file the full JSON record
    assert re.fullmatch(r"\d\d:\d\d:\d\d incident opened: Facebook is down\n", done.stdout), done.stdout
    (written,) = log_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(written)["correlation_id"] == "cycle-7"
