"""What the console's browser tests share: `make run`'s stack on free ports, its addresses, a page
opener and the API as the tests call it. Each test module that imports these gets a stack of its own."""
from __future__ import annotations

import os
import time

import pytest
import requests

from tests.local_stacks import local_stack_on_free_ports

PHONE_SIZE, DESKTOP = {"width": 375, "height": 812}, {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def stack(moto_endpoint):
    """GIVEN `make run`'s stack (emulator, API, page server, scheduler, poller, chat receiver) on free ports."""
    with local_stack_on_free_ports(moto_endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def urls(stack):
    page = f"http://127.0.0.1:{stack.ports.page}"
    return {"page": page, "console": f"{page}/admin/", "api": f"http://127.0.0.1:{stack.ports.api}",
            "aws": f"http://127.0.0.1:{stack.ports.aws}", "chat": f"http://127.0.0.1:{stack.ports.chat}",
            "admin_key": os.environ["BEACON_ADMIN_KEY"]}


@pytest.fixture(scope="module")
def shots(artifacts):
    folder = artifacts / "console"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def browser_page(chromium):
    contexts = []

    def open_page(size=PHONE_SIZE, scheme="light"):
        context = chromium.new_context(viewport=size, color_scheme=scheme, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def api(urls, method, path, key=None, **kwargs):
    return requests.request(method, urls["api"] + path, timeout=20,
                            headers={"Authorization": f"Bearer {key or urls['admin_key']}"}, **kwargs)


def page_once_it_shows(page, url, needle):
    """The page's text once it shows ``needle``: a publish asked for while another runs is done by that one,
    moments later."""
    deadline = time.monotonic() + 30
    while True:
        page.goto(url)
        text = page.locator("main").inner_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def no_axe_violations(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def sign_in_with_link(page, urls, key=None):
    page.goto(f"{urls['console']}#key={key or urls['admin_key']}")
    page.get_by_role("heading", level=1, name="Now").wait_for()
