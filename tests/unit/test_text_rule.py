"""Text people type is cleaned at every door by one rule: the API, site.yml and playbook variables."""
import msgspec
import pytest
import yaml

from chalicelib.api import models
from chalicelib.schema import Invalid, Problem, read
from chalicelib.config import parse_site
from tests.conftest import EXAMPLE_SITE

# What word processors and copy-paste bring along: a soft line break, a page break, a NUL,
# a right-to-left override that makes "exe.txt" read as "txt.exe", and an isolate.
PASTED_NAME = "Checkout\u000bis\u000cslow\u0000 \u202eexe.txt\u202c and \u2066more\u2069"
PASTED_BODY = "First line\u000bsecond line\u000cthird\u0000 line\u2028fourth\r\nfifth\u202e."
XML_FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\ud800", "\ufffe", "\uffff"]
BIDI = [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]


def test_an_incident_posted_with_pasted_controls_keeps_its_words_and_line_breaks_only():
    # WHEN an incident arrives through the API with a pasted name and body
    request = read(models.CreateIncident, {"name": PASTED_NAME, "body": PASTED_BODY})
    # THEN the name is one line of the words typed, the body keeps its breaks as newlines
    assert request.name == "Checkout is slow exe.txt and more"
    assert request.body == "First line\nsecond line\nthird line\nfourth\nfifth."


@pytest.mark.parametrize("character", XML_FORBIDDEN + BIDI)
def test_no_character_xml_forbids_and_no_bidi_override_is_kept_by_any_api_text(character):
    # WHEN every kind of API text carries the character
    texts = {
        "incident": read(models.CreateIncident, {"name": f"a{character}b", "body": f"c{character}d"}),
        "rename": read(models.EditIncident, {"name": f"a{character}b"}),
        "update": read(models.EditUpdate, {"body": f"a{character}b"}),
        "notice": read(models.CreateNotice, {"title": f"a{character}b", "body": f"c{character}d"}),
        "trigger": read(models.TriggerPlaybook, {"variables": {"eta": f"a{character}b"},
                                                          "cause": f"c{character}d"}),
    }
    # THEN none of them keeps it
    assert character not in repr({name: msgspec.to_builtins(request) for name, request in texts.items()})


def test_a_title_that_is_nothing_but_controls_is_refused_naming_the_field():
    # WHEN a notice's title is only invisible characters
    with pytest.raises(Invalid) as refused:
        read(models.CreateNotice, {"title": "\u000b\u0000\u202e"})
    # THEN it is refused as empty, the field named
    assert refused.value.problems == [Problem(("title",), "must not be empty; write a text")]


def test_a_cleaned_text_is_measured_after_cleaning():
    # GIVEN a name of 200 letters and a few invisible characters
    name = "x" * 200 + "\u0000\u202e"
    # WHEN it is posted  THEN it fits: only what is kept counts
    assert read(models.CreateIncident, {"name": name, "body": "b"}).name == "x" * 200


def test_site_yml_texts_are_cleaned_by_the_same_rule():
    # GIVEN a site.yml whose brand name, component name and FAQ answer were pasted from a document
    data = yaml.safe_load(EXAMPLE_SITE.read_text())
    data["brand"]["name"] = "Lumen\u000bCoffee\u202e"
    data["components"][0]["name"] = "Online\u0000 shop"
    data["faq"][0]["answer"] = "Write to us.\u000cWe answer\u0001 within a day."
    # WHEN it is loaded
    site = parse_site(yaml.safe_dump(data, allow_unicode=True))
    # THEN the texts hold only what was meant
    assert site.brand.name == "Lumen Coffee"
    assert site.components[0].name == "Online shop"
    assert site.faq[0].answer == "Write to us.\nWe answer within a day."


def test_playbook_texts_and_variables_are_cleaned_in_site_yml_and_at_trigger():
    # GIVEN the example's Facebook playbook with a pasted default for {eta} and a pasted name
    data = yaml.safe_load(EXAMPLE_SITE.read_text())
    playbook = data["playbooks"][0]
    playbook["variables"] = {"eta": "within\u000bthe hour\u202e"}
    playbook["name"] = "Facebook is down\u0000"
    site = parse_site(yaml.safe_dump(data, allow_unicode=True))
    facebook = site.playbook("facebook-outage")
    # WHEN it is rendered with its default, and triggered with a pasted variable
    default = facebook.rendered({})
    triggered = facebook.rendered({"eta": "at\u000c15:00\u2066"})
    # THEN no text carries a control or an override
    assert default["name"] == "Facebook is down"
    assert default["body"].endswith("Next update: within the hour.")
    assert triggered["body"].endswith("Next update: at 15:00.")
