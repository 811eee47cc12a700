import pytest
import msgspec
import yaml

from chalicelib.config import SiteConfigError, load_site, missing_translations, parse_site
from chalicelib.playbooks import gsm7_length
from tests.conftest import EXAMPLE_SITE

SMALL_SITE = """
brand:
  name: Lumen Coffee Roasters
  website: https://www.lumencoffee.com
  page_url: https://status.lumencoffee.com
  description: Live status of Lumen's shop.
  contacts:
    - id: email
      kind: email
      label: Email support
      url: mailto:hello@lumencoffee.com
      note: We answer within 4 hours.
components:
  - id: website
    name: Online shop
    description: Checkout and subscriptions.
    probes:
      - kind: http
        url: https://www.lumencoffee.com/
        headers: {de: "1", en: "2"}
  - id: facebook
    name: Facebook
playbooks:
  - id: facebook-down
    components: {facebook: major_outage}
    name: Facebook is down
    body: "Email us instead. Next update: {eta}."
    sms_text: "Lumen: Facebook is down. Update {eta}."
    resolve: {body: Facebook works again.}
    variables: {eta: within the hour}
"""


def small_site() -> dict:
    return yaml.safe_load(SMALL_SITE)


def parsed(data: dict):
    return parse_site(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "site.yml")


def problems_of(data: dict) -> list[str]:
    with pytest.raises(SiteConfigError) as caught:
        parsed(data)
    return caught.value.problems


@pytest.fixture
def site_in_english_and_german():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status of Lumen's shop.", "de": "Aktueller Status von Lumens Shop."}
    data["components"][0]["name"] = {"en": "Online shop", "de": "Onlineshop"}
    data["playbooks"][0]["sms_text"] = {"en": "Lumen: Facebook is down. Update {eta}.",
                                        "de": "Lumen: Facebook ist gestört. Update {eta}."}
    data["playbooks"][0]["variables"]["eta"] = {"en": "within the hour", "de": "in einer Stunde"}
    return parsed(data)


def test_a_site_without_languages_is_read_in_english_only():
    # GIVEN a site.yml that names no languages  WHEN it is read
    site = parsed(small_site())
    # THEN it is in English, reads the same in it, and misses nothing
    assert site.languages == ("en",)
    assert site.default_language == "en"
    assert site.in_language("en") is site
    assert missing_translations(site) == {}


def test_translation_maps_give_each_language_its_text(site_in_english_and_german):
    # WHEN the site is read in its default language and in German
    site = site_in_english_and_german
    german = site.in_language("de")
    # THEN each reads its own text, and plain strings read the same in both
    assert site.languages == ("en", "de")
    assert site.brand.description == "Live status of Lumen's shop."
    assert german.brand.description == "Aktueller Status von Lumens Shop."
    assert german.components[0].name == "Onlineshop"
    assert german.components[1].name == site.components[1].name == "Facebook"
    assert german.playbook("facebook-down").rendered({})["sms_text"] == "Lumen: Facebook ist gestört. Update in einer Stunde."
    assert site.playbook("facebook-down").rendered({})["sms_text"] == "Lumen: Facebook is down. Update within the hour."


def test_a_language_a_map_leaves_out_reads_the_default_text():
    # GIVEN a German site whose description is given in German only
    data = small_site()
    data["languages"] = ["de", "en"]
    data["brand"]["description"] = {"de": "Aktueller Status."}
    # WHEN the site is read in English  THEN it shows the German text
    assert parsed(data).in_language("en").brand.description == "Aktueller Status."


def test_a_language_beacon_has_no_words_in_is_refused_with_the_way_to_add_it():
    data = small_site()
    data["languages"] = ["en", "fr"]
    with pytest.raises(SiteConfigError, match="Beacon has no words in 'fr' yet .* Adding a language"):
        parsed(data)


def test_in_language_is_made_once_and_leads_back_to_the_default(site_in_english_and_german):
    site = site_in_english_and_german
    german = site.in_language("de")
    assert site.in_language("de") is german
    assert german.in_language("en") is site
    assert german.in_language("de") is german
    # Sites compare by their fields, whatever they have read
    assert german != site
    assert site == parse_site(yaml.safe_dump(msgspec.to_builtins(site)), "site.yml")


def test_an_unknown_language_is_refused_with_the_ones_there_are(site_in_english_and_german):
    with pytest.raises(ValueError, match="no language 'fr'; use one of en, de"):
        site_in_english_and_german.in_language("fr")


def test_a_copy_reads_its_own_fields_in_every_language(site_in_english_and_german):
    # GIVEN a copy of the site with other FAQ entries
    site = site_in_english_and_german
    site.in_language("de")
    copy = site.replace(faq=())
    # WHEN it is read in German  THEN it keeps its own fields and the German texts of the others
    german = copy.in_language("de")
    assert german.faq == ()
    assert german.brand.description == "Aktueller Status von Lumens Shop."
    assert german is not site.in_language("de")


def test_a_language_missing_from_languages_names_the_text_and_the_codes_allowed():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["components"][0]["description"] = {"en": "Checkout.", "fr": "Paiement."}
    assert problems_of(data) == [
        "components[0] (id 'website').description: 'fr' is not one of the site's languages; "
        "use one of en, de, or add the language to 'languages'"
    ]


def test_a_map_without_the_default_language_is_refused():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["contacts"][0]["note"] = {"de": "Wir antworten innerhalb von 4 Stunden."}
    (problem,) = problems_of(data)
    assert problem.startswith("brand.contacts[0] (id 'email').note: gives no text in 'en', the default language")


def test_a_translation_that_is_no_text_is_refused():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status.", "de": None}
    assert problems_of(data) == ["brand.description.de: give the text in 'de' as a string"]


@pytest.mark.parametrize("languages, problem", [
    (["en", "DE"], "languages: 'DE' is not a language code; use lower-case two-letter ISO 639-1 codes such as 'en' or 'de'"),
    (["en", "german"], "languages: 'german' is not a language code; use lower-case two-letter ISO 639-1 codes such as 'en' or 'de'"),
    (["en", "de", "en"], "languages: en is listed twice; list each language once"),
    ([], "languages: give a list of language codes, the default language first, e.g. [en, de]"),
    ("en", "languages: give a list of language codes, the default language first, e.g. [en, de]"),
])
def test_bad_language_lists_are_refused(languages, problem):
    data = small_site()
    data["languages"] = languages
    assert problems_of(data) == [problem]


def test_an_unquoted_no_is_explained():
    # GIVEN Norwegian written as YAML reads it: a boolean
    text = SMALL_SITE + "languages: [en, no]\n"
    with pytest.raises(SiteConfigError) as caught:
        parse_site(text, "site.yml")
    assert "write the code in quotes" in caught.value.problems[0]


def test_a_german_text_too_long_for_its_field_names_the_path_and_the_language():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status.", "de": "Aktueller Status. " * 20}
    assert problems_of(data) == [
        "brand.description (language 'de'): has 360 characters, at most 300 fit; shorten it by 60"]


def test_a_german_sms_that_outgrows_a_segment_names_the_playbook_and_the_language():
    # GIVEN a German default for {eta} that makes the SMS longer than one segment
    data = small_site()
    data["languages"] = ["en", "de"]
    data["playbooks"][0]["variables"]["eta"] = {"en": "within the hour", "de": "sehr bald " * 14}
    (problem,) = problems_of(data)
    assert problem.startswith("playbooks[0] (id 'facebook-down') (language 'de'): sms_text: is ")
    assert "one SMS holds 160" in problem


def test_default_language_errors_read_as_before():
    # GIVEN a too long English description given in a translation map
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status. " * 30, "de": "Aktueller Status."}
    assert problems_of(data) == [
        "brand.description: has 390 characters, at most 300 fit; shorten it by 90"]


def test_translations_are_cleaned_like_every_text():
    # GIVEN a German description pasted with a line break and a bidi override
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status.", "de": "Aktueller\u2028Status\u202e."}
    # WHEN it is read in German  THEN only what was meant is kept
    assert parsed(data).in_language("de").brand.description == "Aktueller Status."


def test_missing_translations_list_prose_left_untranslated_but_not_names():
    # GIVEN a German site.yml with the brand description translated and the rest given once
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["description"] = {"en": "Live status.", "de": "Aktueller Status."}
    data["components"][0]["description"] = {"en": "Checkout."}
    # WHEN its missing translations are listed
    missing = missing_translations(parsed(data))
    # THEN each prose text and map without German is named, names given once are not
    assert missing == {"de": [
        "brand.contacts[0] (id 'email').note",
        "components[0] (id 'website').description",
        "playbooks[0] (id 'facebook-down').body",
        "playbooks[0] (id 'facebook-down').name",
        "playbooks[0] (id 'facebook-down').resolve.body",
        "playbooks[0] (id 'facebook-down').sms_text",
        "playbooks[0] (id 'facebook-down').variables.eta",
    ]}


def test_probe_headers_keyed_like_languages_stay_headers(site_in_english_and_german):
    # GIVEN a probe header named 'de' on a site in English and German
    site = site_in_english_and_german
    # THEN it is a header in every language, not a translation
    assert site.components[0].probes[0].headers == {"de": "1", "en": "2"}
    assert site.in_language("de").components[0].probes[0].headers == {"de": "1", "en": "2"}


def test_a_translation_map_where_no_text_is_allowed_is_refused():
    data = small_site()
    data["languages"] = ["en", "de"]
    data["brand"]["website"] = {"en": "https://www.lumencoffee.com", "de": "https://www.lumencoffee.de"}
    assert problems_of(data) == ["brand.website: give a text, not a mapping of keys"]


def test_the_example_site_is_in_english_and_german_and_fully_translated(example_site):
    german = example_site.in_language("de")
    assert example_site.languages == ("en", "de")
    assert missing_translations(example_site) == {"de": []}
    assert german.brand.description != example_site.brand.description
    assert [q.answer for q in german.faq] != [q.answer for q in example_site.faq]
    for english, translated in zip(example_site.playbooks, german.playbooks):
        assert translated.sms_text != english.sms_text
        rendered, original = translated.rendered({}), english.rendered({})
        for key in ("sms_text", "resolve.sms_text"):
            # German SMS fit wherever the English ones do: no longer, and GSM-7 throughout
            assert gsm7_length(rendered[key]) is not None, (english.id, key)
            assert gsm7_length(rendered[key]) <= gsm7_length(original[key]), (english.id, key)


def test_check_site_warns_about_missing_translations_and_exits_zero(tmp_path, capsys):
    from tools.cli import main

    # GIVEN the example site with one German FAQ answer left out
    data = yaml.safe_load(EXAMPLE_SITE.read_text())
    del data["faq"][1]["answer"]["de"]
    path = tmp_path / "site.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    # WHEN it is checked
    assert main(["check-site", str(path)]) == 0
    # THEN it is valid, with a warning naming the text
    out, err = capsys.readouterr()
    assert "valid" in out
    assert err == ("warning: de: 1 text has no translation into 'de', readers see the 'en' text:\n"
                   "  - faq[1].answer\n")
    assert load_site(path).in_language("de").faq[1].answer == load_site(path).faq[1].answer


def test_check_site_is_quiet_about_the_example_site(capsys):
    from tools.cli import main

    assert main(["check-site", str(EXAMPLE_SITE)]) == 0
    assert capsys.readouterr().err == ""
