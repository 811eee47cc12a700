import json
import subprocess
import sys

import pytest
import yaml

from chalicelib.config import SiteConfigError, load_site, parse_site, parsed_copy, parsed_copy_path
from tests.conftest import EXAMPLE_SITE, ROOT


def example_data():
    return yaml.safe_load(EXAMPLE_SITE.read_text())


def problems_of(data) -> list[str]:
    with pytest.raises(SiteConfigError) as caught:
        parse_site(yaml.safe_dump(data, sort_keys=False), "site.yml")
    return caught.value.problems


def test_example_site_is_a_realistic_brand(example_site):
    # GIVEN the shipped site.yml  THEN it declares the brand's channels, tools and ways to reach it
    ids = example_site.component_ids
    assert {"website", "facebook", "instagram", "whatsapp", "x", "linkedin", "hubspot", "hootsuite"} <= ids
    kinds = {c.kind for c in example_site.brand.contacts}
    assert {"website", "email", "sms", "phone"} <= kinds
    assert example_site.brand.zone.key == "Europe/Berlin"


def test_typo_in_a_component_key_names_its_path():
    # GIVEN a component with 'grup' for 'group'
    data = example_data()
    data["components"][3]["grup"] = data["components"][3].pop("group")
    # WHEN it is loaded  THEN the message names the key path and the fix
    problems = problems_of(data)
    assert problems == ["components[3] (id 'facebook').grup: unknown key; remove it or check its spelling"]


def test_dangling_group_reference_is_refused():
    data = example_data()
    data["components"][0]["group"] = "shopp"
    (problem,) = problems_of(data)
    assert problem.startswith("components[0] (id 'website').group: no group 'shopp'")
    assert "declare it under 'groups'" in problem


def test_contact_depending_on_a_missing_component_is_refused():
    data = example_data()
    data["brand"]["contacts"][0]["depends_on"] = ["helpdesk"]
    (problem,) = problems_of(data)
    assert problem.startswith("brand.contacts[0] (id 'help-centre').depends_on: no component 'helpdesk'")


def test_duplicate_ids_are_refused():
    data = example_data()
    data["components"][8]["id"] = "facebook"  # HubSpot: nothing else refers to it
    (problem,) = problems_of(data)
    assert problem == "components[8].id: 'facebook' is used twice; ids must be unique, rename one"


def test_wrong_types_and_values_name_each_field():
    data = example_data()
    data["components"][1]["position"] = "second"
    data["brand"]["time_zone"] = "Berlin"
    data["brand"]["accent_color"] = "brown"
    problems = problems_of(data)
    assert any(p.startswith("components[1] (id 'help-centre').position:") for p in problems)
    assert any(p.startswith("brand.time_zone: unknown time zone 'Berlin'") for p in problems)
    assert any(p.startswith("brand.accent_color:") for p in problems)


def test_missing_required_key_says_to_add_it():
    data = example_data()
    del data["brand"]["page_url"]
    assert problems_of(data) == ["brand.page_url: required key is missing; add it"]


def test_bad_id_explains_the_allowed_form():
    data = example_data()
    data["components"][0]["id"] = "Online Shop"
    (problem,) = problems_of(data)
    assert "is not a valid id; use lower-case letters, digits and dashes" in problem


def test_duplicate_yaml_keys_are_refused_with_the_line():
    text = EXAMPLE_SITE.read_text().replace("  time_zone: Europe/Berlin\n", "  time_zone: Europe/Berlin\n  time_zone: UTC\n")
    with pytest.raises(SiteConfigError) as caught:
        parse_site(text, "site.yml")
    assert "duplicate key 'time_zone'" in str(caught.value)
    assert "line" in str(caught.value)


def test_a_yaml_error_quotes_the_line_with_a_caret_under_the_column():
    text = EXAMPLE_SITE.read_text().replace("  time_zone: Europe/Berlin\n", "  time_zone: Europe/Berlin\n   bad: [\n", 1)
    with pytest.raises(SiteConfigError) as caught:
        parse_site(text, "site.yml")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row == "   bad: [")
    assert f"line {line}, column 7:\n       bad: [\n          ^" in str(caught.value)


def test_a_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(SiteConfigError, match="must be a mapping"):
        parse_site("- just\n- a list\n", "site.yml")


def test_unreadable_file_names_the_file_and_the_variable(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(SiteConfigError) as caught:
        load_site(missing)
    assert str(missing) in str(caught.value)
    assert "SITE_CONFIG" in str(caught.value)


def test_error_message_names_the_file():
    with pytest.raises(SiteConfigError) as caught:
        parse_site("brand: {}\n", "/etc/beacon/site.yml")
    assert str(caught.value).startswith("/etc/beacon/site.yml is not valid, nothing was applied:")


def test_check_site_command_exits_non_zero_on_a_bad_file(tmp_path, capsys):
    from tools.cli import main

    bad = tmp_path / "site.yml"
    bad.write_text(EXAMPLE_SITE.read_text().replace("    group: social\n", "    groop: social\n", 1))
    assert main(["check-site", str(bad)]) == 1
    assert "groop: unknown key" in capsys.readouterr().err
    assert main(["check-site", str(EXAMPLE_SITE)]) == 0


def test_a_non_utf8_file_names_the_byte_and_the_fix(tmp_path):
    site = tmp_path / "site.yml"
    site.write_bytes(EXAMPLE_SITE.read_bytes().replace(b"Lumen", b"Lum\xe9n", 1))
    with pytest.raises(SiteConfigError, match=r"byte \d+ is not UTF-8; save the file as UTF-8"):
        load_site(site)


def shipped(tmp_path, source: bytes, copy: bytes | None = None):
    """site.yml in ``tmp_path`` with a parsed copy beside it, as make package ships them."""
    site = tmp_path / "site.yml"
    site.write_bytes(source)
    parsed_copy_path(site).write_bytes(parsed_copy(source) if copy is None else copy)
    return site


def test_the_parsed_copy_is_read_when_it_is_of_the_very_file(tmp_path):
    source = EXAMPLE_SITE.read_bytes()
    # GIVEN site.yml with its parsed copy, whose brand was renamed after parsing (so that the test can
    # tell which one was read)
    copy = json.loads(parsed_copy(source))
    copy["data"]["brand"]["name"] = "Read From The Copy"
    site = shipped(tmp_path, source, json.dumps(copy).encode())
    # WHEN the site is loaded  THEN it comes from the copy, validated in each language like the file
    loaded = load_site(site)
    assert loaded.brand.name == "Read From The Copy"
    assert loaded.in_language("de").components == load_site(EXAMPLE_SITE).in_language("de").components
    # AND a copy of the untouched text describes the same site as the file
    assert load_site(shipped(tmp_path, source)) == load_site(EXAMPLE_SITE)


def test_a_copy_of_another_text_is_ignored_and_the_file_parsed(tmp_path):
    source = EXAMPLE_SITE.read_bytes()
    # GIVEN a copy parsed from site.yml before one byte of it changed
    site = shipped(tmp_path, source)
    site.write_bytes(source.replace(b"name: Lumen Coffee Roasters", b"name: Lumen Coffee Roaster_", 1))
    # THEN the file as it is now is read
    assert load_site(site).brand.name == "Lumen Coffee Roaster_"
    # AND a copy that is not one (a truncated upload) is ignored the same way
    parsed_copy_path(site).write_bytes(b'{"source_sha256": "')
    assert load_site(site).brand.name == "Lumen Coffee Roaster_"


def test_a_copy_is_validated_like_the_file(tmp_path):
    source = EXAMPLE_SITE.read_bytes()
    copy = json.loads(parsed_copy(source))
    copy["data"]["brand"]["time_zone"] = "Mars/Olympus"
    # GIVEN a copy holding a mistake  WHEN it is read  THEN it is refused as the file would be
    with pytest.raises(SiteConfigError, match="brand.time_zone"):
        load_site(shipped(tmp_path, source, json.dumps(copy).encode()))


@pytest.mark.parametrize("yaml_text", ["brand: {opened: 2026-05-01}\n", "variables: {1: one}\n", "threshold: .nan\n",
                                       "tags: !!set {a, b}\n"])
def test_what_json_cannot_hold_exactly_ships_without_a_copy(yaml_text):
    # GIVEN a date, a key that is not a text, NaN, a set  THEN there is no copy: the file is parsed where it is read
    assert parsed_copy(yaml_text.encode()) is None


def test_a_copy_keeps_booleans_integers_and_floats_apart():
    copy = json.loads(parsed_copy(b"flag: yes\ncount: 1\nratio: 1.0\nname: Lumen\n"))
    assert copy["data"] == {"flag": True, "count": 1, "ratio": 1.0, "name": "Lumen"}
    assert [type(value) for value in copy["data"].values()] == [bool, int, float, str]


def test_reading_the_copy_does_not_import_pyyaml(tmp_path):
    site = shipped(tmp_path, EXAMPLE_SITE.read_bytes())
    code = ("import sys\nfrom chalicelib.config import load_site\n"
            f"print(load_site({str(site)!r}).brand.name, 'yaml' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Lumen", "Coffee", "Roasters", "False"]
