"""`make run` as a person meets it: restart at once, the site file they chose, a bad file stops it cleanly."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.local_stacks import local_stack_on_free_ports
from tools.local.stack import PortInUse, check_port_free


def _time_wait_port() -> int:
    """A port whose last connection the server side closed first: it waits out TIME-WAIT, nobody listens."""
    server = socket.socket()
    # As the stack's servers do (http.server and werkzeug set allow_reuse_address).
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first, as a stopped stack does
    time.sleep(0.05)
    client.close()
    server.close()
    return port


def _in_time_wait(port: int) -> bool:
    # /proc/net/tcp: "local_address rem_address st", the port in hex, state 06 is TIME_WAIT.
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "06" for row in rows)


def test_a_port_left_in_time_wait_by_the_last_run_is_free_at_once():
    # GIVEN the port of a stack stopped a moment ago, its last connection in TIME-WAIT
    port = _time_wait_port()
    assert _in_time_wait(port), "the connection should be in TIME-WAIT for this test to mean anything"
    # WHEN make run checks it THEN it is free
    check_port_free(port, "API_PORT")
    # AND a port something listens on is still refused, with the variable to change
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(PortInUse, match="API_PORT"):
            check_port_free(listener.getsockname()[1], "API_PORT")


def test_a_bad_site_file_stops_make_run_before_anything_starts(tmp_path):
    # GIVEN a site file with a mistake
    bad = tmp_path / "site.yml"
    bad.write_text("brand:\n  name: Shop\ncomponents: []\nsurprise: true\n", encoding="utf-8")
    checked = subprocess.run([str(Path(sys.executable).parent / "beacon"), "check-site", str(bad)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    # WHEN make run starts with it
    started = subprocess.run([sys.executable, "-m", "tools.local"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60, env={**os.environ, "SITE_CONFIG": str(bad), "AWS_PORT": "0",
                                              "API_PORT": "0", "PAGE_PORT": "0", "CHAT_PORT": "0"})
    # THEN it exits non-zero with check-site's own message, no trace, and nothing was started
    assert checked.returncode == 1 and checked.stderr.strip()
    assert started.returncode == 1
    assert checked.stderr.strip() in started.stderr
    assert "Traceback" not in started.stderr and "nothing was started" in started.stderr
    assert "Beacon is running" not in started.stdout


@pytest.fixture
def small_shop_stack(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint, SITE_CONFIG="examples/small-shop.yml") as stack:
        yield stack


def test_make_run_runs_the_site_file_a_person_chose(small_shop_stack):
    # GIVEN SITE_CONFIG=examples/small-shop.yml make run
    # THEN the API and the page are the small shop's, not the default site's
    health = requests.get(f"http://127.0.0.1:{small_shop_stack.ports.api}/health", timeout=5).json()
    assert health["site"] == "Kleine Kerze"
    page = requests.get(f"http://127.0.0.1:{small_shop_stack.ports.page}/", timeout=5).text
    assert "Kleine Kerze" in page and "Lumen" not in page
    assert small_shop_stack.site_config.name == "small-shop.yml"
