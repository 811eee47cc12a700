"""Playbooks in site.yml: checked like the rest of the file; texts rendered with variables."""
from pathlib import Path

import pytest
import yaml

from chalicelib.config import SiteConfigError, parse_site
from chalicelib.playbooks import gsm7_length, sms_problem

EXAMPLE = Path(__file__).resolve().parents[2] / "site.yml"


def site_with_playbook(**changes):
    data = yaml.safe_load(EXAMPLE.read_text())
    playbook = dict(data["playbooks"][0])
    playbook.update(changes)
    data["playbooks"] = [playbook]
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_example_ships_a_playbook_per_social_channel():
    site = parse_site(EXAMPLE.read_text())
    assert {p.id for p in site.playbooks} == {"facebook-outage", "instagram-outage", "whatsapp-outage",
                                              "x-outage", "linkedin-outage"}
    assert site.playbook_for("facebook").id == "facebook-outage"
    assert site.playbook_for("hubspot") is None
    for playbook in site.playbooks:
        texts = playbook.rendered({})
        assert sms_problem(texts["sms_text"]) is None and sms_problem(texts["resolve.sms_text"]) is None


def test_references_to_missing_components_and_contacts_are_named_with_the_fix():
    with pytest.raises(SiteConfigError) as caught:
        parse_site(site_with_playbook(components={"myspace": "major_outage"}, contacts_first=["fax"]))
    problems = "\n".join(caught.value.problems)
    assert "playbooks[0] (id 'facebook-outage').components: no component 'myspace'; use one of" in problems
    assert "playbooks[0] (id 'facebook-outage').contacts_first: no contact 'fax'; declare it under 'brand.contacts'" \
        in problems


def test_a_variable_without_a_default_and_a_long_sms_are_refused():
    with pytest.raises(SiteConfigError) as caught:
        parse_site(site_with_playbook(body="Back at {time}.", sms_text="x" * 161))
    problems = "\n".join(caught.value.problems)
    assert "body: uses {time} but 'variables' gives it no default" in problems


def test_an_sms_over_one_segment_is_refused_with_the_excess():
    with pytest.raises(SiteConfigError) as caught:
        parse_site(site_with_playbook(sms_text="x" * 161))
    assert "sms_text: is 161 GSM-7 characters; one SMS holds 160, shorten it by 1" in str(caught.value)


def test_variables_fill_the_texts_and_unknown_ones_are_refused():
    playbook = parse_site(EXAMPLE.read_text()).playbook("facebook-outage")
    assert "Next update: 15:00." in playbook.rendered({"eta": "15:00"})["body"]
    assert "Next update: within the hour." in playbook.rendered({})["body"]
    with pytest.raises(ValueError, match="has no variable when; it takes: eta"):
        playbook.rendered({"when": "soon"})
    with pytest.raises(ValueError, match="sms_text of playbook 'facebook-outage' with these variables is"):
        playbook.rendered({"eta": "much later, " * 10})


def test_gsm7_counts_the_extension_set_twice_and_refuses_emoji():
    assert gsm7_length("Hi €") == 5
    assert gsm7_length("Hi ☕") is None
    assert "outside GSM-7" in sms_problem("Coffee ☕")
