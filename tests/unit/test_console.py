"""The marketer console as published: its objects under admin/, its weight, a strict policy of its own, and the
one-time sign-in link the local stack prints."""
import gzip
import re
import shutil
from html.parser import HTMLParser

from chalicelib.api.console import sms_preview
from chalicelib.site.publish import upload_rank
from chalicelib.site.render import LONG_CACHE, console_objects
from chalicelib.site.validate import object_problems
from tests.conftest import ROOT
from tools.local.provision import load_template
from tools.local.startup import console_links
from tools.local.static import CONSOLE_POLICY, PAGE_POLICY, policy_for, policy_headers

TEMPLATES = ROOT / "templates"
SOURCE = TEMPLATES / "console"
BUDGET_BYTES = 100 * 1024
API = "https://api.lumen.example"


def test_the_whole_console_transfers_in_under_100_kb_gzipped():
    # WHEN every object of the console is compressed as the distribution compresses it
    objects = console_objects(TEMPLATES, API)
    transfer = sum(len(gzip.compress(obj.body, compresslevel=6)) for obj in objects)
    # THEN the whole console fits the budget
    assert transfer <= BUDGET_BYTES, f"the console is {transfer} bytes gzipped; the budget is {BUDGET_BYTES}"
    assert {obj.key.rsplit("/", 1)[-1] for obj in objects} >= {"index.html", "app.js", "api.js", "console.css"}


def test_the_console_is_published_under_admin_with_a_folder_named_for_its_contents():
    objects = {obj.key: obj for obj in console_objects(TEMPLATES, API)}
    entry = objects.pop("admin/index.html")
    [folder] = {key.split("/")[1] for key in objects}
    assert re.fullmatch(r"[0-9a-f]{12}", folder)
    assert all(key.startswith(f"admin/{folder}/") and obj.cache_control == LONG_CACHE for key, obj in objects.items())
    assert objects[f"admin/{folder}/app.js"].content_type.startswith("text/javascript")
    assert objects[f"admin/{folder}/console.css"].content_type.startswith("text/css")
    html = entry.body.decode()
    assert f'src="{folder}/app.js"' in html and f'href="{folder}/console.css"' in html
    assert f'<meta name="beacon-api" content="{API}">' in html
    # every link of the entry point leads to an object of the render
    assert object_problems([entry, *objects.values()]) == {}


def test_a_changed_file_gets_a_new_folder_and_the_api_address_is_escaped(tmp_path):
    shutil.copytree(TEMPLATES / "console", tmp_path / "console")
    before = {obj.key for obj in console_objects(tmp_path, API)}
    (tmp_path / "console" / "console.css").write_text("body{}", encoding="utf-8")
    after = console_objects(tmp_path, 'https://x.example/"><script>')
    assert {obj.key for obj in after} & before == {"admin/index.html"}
    assert b"<script>" not in after[-1].body.split(b"<title>")[0]


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inline = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if "style" in names or any(name.startswith("on") for name in names):
            self.inline.append(tag)
        if tag == "script" and "src" not in names:
            self.inline.append("script without src")
        if tag == "style":
            self.inline.append("style element")


def test_nothing_in_the_console_needs_unsafe_inline():
    parser = _Attributes()
    parser.feed(console_objects(TEMPLATES, API)[-1].body.decode())
    assert parser.inline == []
    for module in SOURCE.glob("*.js"):
        code = module.read_text(encoding="utf-8")
        # no style attribute or inline handler written by script, no eval
        assert not re.search(r"""["']style["']|\.style\b|cssText|\beval\(|new Function|setAttribute\(\s*["']on""", code), \
            module.name
    # a key is never part of what is published
    published = "".join(obj.body.decode() for obj in console_objects(TEMPLATES, API))
    assert not re.search(r"bk_[A-Za-z0-9_-]{20,}", published) and "local-admin-key" not in published


def test_admin_paths_get_the_console_policy_with_the_api_as_the_only_connect_source():
    # WHEN the local page server reads the template's policies
    template = load_template()
    console = policy_headers(template, "http://127.0.0.1:8000", CONSOLE_POLICY)
    page = policy_headers(template, "http://127.0.0.1:8000", PAGE_POLICY)
    # THEN the console's CSP allows its own files and the API, nothing inline, no other origin
    directives = dict(d.strip().split(" ", 1) for d in console["Content-Security-Policy"].split(";"))
    assert directives["connect-src"] == "http://127.0.0.1:8000"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in console["Content-Security-Policy"]
    assert console["Referrer-Policy"] == "no-referrer" and console["X-Robots-Tag"] == "noindex, nofollow"
    assert "connect-src 'self'" in page["Content-Security-Policy"]
    assert policy_for("/admin/") == policy_for("/admin/x.js") == CONSOLE_POLICY
    assert policy_for("/") == policy_for("/admin") == policy_for("/administration.html") == PAGE_POLICY


def test_the_distribution_serves_admin_paths_with_the_console_policy_through_the_index_rewrite():
    template = load_template()
    config = template["Resources"]["PageDistribution"]["Properties"]["DistributionConfig"]
    [behavior] = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "admin/*"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": CONSOLE_POLICY}
    assert behavior["FunctionAssociations"] == config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert behavior["CachePolicyId"] == config["DefaultCacheBehavior"]["CachePolicyId"]
    csp = template["Resources"][CONSOLE_POLICY]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    source = csp["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "connect-src https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix} ${ApiUrl};" in source


def test_the_console_page_goes_up_after_its_modules_and_before_the_entry_points():
    ranks = {obj.key: upload_rank(obj.key) for obj in console_objects(TEMPLATES, API)}
    page = ranks.pop("admin/index.html")
    assert ranks and all(rank < page for rank in ranks.values())
    assert page < upload_rank("index.html")


def test_the_local_sign_in_link_carries_the_key_in_the_fragment_only():
    console, link = console_links("http://127.0.0.1:8080/", "local key/with#odd&chars")
    assert console == "http://127.0.0.1:8080/admin/"
    assert link == "http://127.0.0.1:8080/admin/#key=local%20key%2Fwith%23odd%26chars"


def test_an_sms_preview_counts_its_segments_as_a_phone_sends_them():
    assert (sms_preview("a" * 160).segments, sms_preview("a" * 160).encoding) == (1, "GSM-7")
    assert sms_preview("a" * 161).segments == 2 and sms_preview("a" * 307).segments == 3
    assert sms_preview("{" * 80).characters == 160 and sms_preview("{" * 81).segments == 2
    assert (sms_preview("ü" * 70).encoding, sms_preview("ü" * 70).segments) == ("GSM-7", 1)
    assert (sms_preview("✓" * 70).encoding, sms_preview("✓" * 71).segments) == ("UCS-2", 2)


def test_every_screen_has_a_link_and_the_admin_screens_are_hidden_until_an_admin_signs_in():
    app = (SOURCE / "app.js").read_text(encoding="utf-8")
    html = (SOURCE / "index.html").read_text(encoding="utf-8")
    screens = re.search(r"const SCREENS = \{ ([^}]*) \}", app).group(1).replace(" ", "").split(",")
    admin_only = set(re.findall(r'"(\w+)"', re.search(r"ADMIN_ONLY = new Set\(\[([^\]]*)\]\)", app).group(1)))
    assert {"maintenance", "notices", "subscribers", "admin"} <= set(screens) and admin_only == {"keys", "admin"}
    links = {name: attrs for attrs, name in re.findall(r'<li([^>]*)><a href="#(\w+)">', html)}
    assert set(links) == set(screens)
    assert all(("data-admin" in attrs and "hidden" in attrs) == (name in admin_only) for name, attrs in links.items())
    # each screen is a module of its own, imported by name
    assert all(f'import * as {name} from "./{name}.js";' in app and (SOURCE / f"{name}.js").exists() for name in screens)
