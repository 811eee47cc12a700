"""app.Beacon registers its routes on the first read of the route table, once, and whole for every thread."""
import threading
import time

import pytest

from app import Beacon


def _slow_registration(started: threading.Event):
    def register(app):
        started.set()
        app.route("/first", methods=["GET"])(lambda: {})
        time.sleep(0.3)  # another request thread arrives while the table is half built
        app.route("/second", methods=["GET"])(lambda: {})
    return register


def test_a_thread_reading_during_registration_waits_for_the_whole_table():
    # GIVEN an app whose registration is slow, read by a first request thread
    started = threading.Event()
    app = Beacon("routes-test", _slow_registration(started))
    first = threading.Thread(target=lambda: app.routes)
    first.start()
    assert started.wait(5)
    # WHEN a second thread reads the table while the first is registering
    seen = sorted(app.routes)
    first.join(5)
    # THEN it sees every route, not the half table
    assert seen == ["/first", "/second"]


def test_a_failed_registration_leaves_no_half_table_and_is_tried_again():
    calls = []

    def register(app):
        calls.append(1)
        app.route("/only", methods=["GET"])(lambda: {})
        if len(calls) == 1:
            raise RuntimeError("the first registration fails")

    app = Beacon("routes-test", register)
    with pytest.raises(RuntimeError):
        app.routes
    assert sorted(app.routes) == ["/only"] and len(calls) == 2
