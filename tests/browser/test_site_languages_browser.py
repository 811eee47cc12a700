"""The German page (``/de/``) in real Chromium: its words, its links, its form, on a phone and a desktop."""
import pytest

from chalicelib.model import utcnow
from tests.browser.consoles import no_axe_violations
from tests.browser.test_site_browser import open_page, page_server, publish, subscriber_api  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def german_outage(table, example_site, page_server):  # noqa: F811 - the fixture imported above
    publish(table, example_site, utcnow())
    return page_server


def test_the_german_page_reads_in_german_fits_a_phone_and_has_no_axe_violations(chromium, german_outage, artifacts):
    for width, scheme in ((320, "light"), (375, "dark"), (1280, "light")):
        context, page, _ = open_page(chromium, german_outage + "/de", width=width, scheme=scheme)
        # THEN the page says it is German and says the outage in German, umlauts and all
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.locator("#overall").inner_text().strip().startswith("Facebook ist gestört")
        assert "Schwere Störung" in page.locator(".comp", has_text="Facebook").first.locator(".st").inner_text()
        # AND it links its English twin for readers and search engines
        assert page.locator('link[rel=alternate][hreflang=en]').get_attribute("href").endswith("/")
        assert page.locator('nav.lang a[aria-current=page]').inner_text() == "Deutsch"
        # AND nothing runs off the side of a phone
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        no_axe_violations(page)
        page.screenshot(path=str(artifacts / f"page-de-{width}-{scheme}.png"), full_page=True)
        context.close()


def test_without_script_the_switcher_and_the_german_form_work(chromium, german_outage, subscriber_api):  # noqa: F811
    context, page, _ = open_page(chromium, german_outage + "/de", javascript=False)
    # WHEN a reader switches to English and back, with nothing but links
    page.click("nav.lang >> text=English")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#overall").inner_text().strip().startswith("Facebook is down")
    page.click("nav.lang >> text=Deutsch")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "de"
    # AND signs up from the German page with a plain form post
    page.fill("#sub-email", "lena@example.de")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    # THEN the sign-up says it came from the German page
    url, received = subscriber_api
    assert received == [("/subscribers", "application/x-www-form-urlencoded",
                         {"email": ["lena@example.de"], "language": ["de"]})]
    context.close()


def test_with_script_the_german_form_sends_its_language_and_speaks_german(chromium, german_outage,
                                                                          subscriber_api):  # noqa: F811
    context, page, _ = open_page(chromium, german_outage + "/de")
    page.click("button[type=submit]")
    assert page.locator("#sub-result").inner_text() == "Geben Sie eine E-Mail-Adresse oder eine Handynummer ein."
    page.fill("#sub-phone", "+49 151 23456789")
    page.click("button[type=submit]")
    page.locator("#sub-code").wait_for()
    assert page.locator("label[for=sub-code]").inner_text() == "6-stelliger Code aus der SMS"
    url, received = subscriber_api
    assert received == [("/subscribers", "application/json",
                         {"components": [], "phone": "+49 151 23456789", "language": "de"})]
    context.close()
