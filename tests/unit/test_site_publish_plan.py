"""What a publish uploads and in which order, decided before any upload."""
from chalicelib.site.publish import ENTRY_POINTS, digest, plan_uploads
from chalicelib.site.render import LONG_CACHE, SiteObject


def obj(key, body=b"x", cache=None):
    return SiteObject(key, body, "text/plain", cache) if cache else SiteObject(key, body, "text/plain")


def test_links_targets_go_up_before_what_links_to_them_and_entry_points_last():
    objects = [obj(k) for k in ("api/v2/summary.json", "index.html", "history.atom", "api/v2/status.json",
                                "incidents/a.html", "history.html", "badges/x.svg", "assets/beacon.1.js",
                                "sitemap.xml", "404.html")]
    order = [o.key for o in plan_uploads(objects, {})]
    assert order[0] == "assets/beacon.1.js"
    assert order[-2:] == list(ENTRY_POINTS)
    assert order.index("incidents/a.html") < order.index("history.html") < order.index("sitemap.xml")


def test_month_pages_and_sitemaps_go_up_before_the_pages_and_sitemaps_that_list_them():
    objects = [obj(k) for k in ("robots.txt", "sitemap.xml", "sitemap-pages.xml", "sitemap-2026-04.xml",
                                "history.html", "history/2026-04.html", "incidents/a.html", "index.html")]
    order = [o.key for o in plan_uploads(objects, {})]
    assert order.index("incidents/a.html") < order.index("history/2026-04.html") < order.index("history.html")
    assert order.index("incidents/a.html") < order.index("sitemap-2026-04.xml") < order.index("sitemap.xml")
    assert order.index("history.html") < order.index("sitemap-pages.xml") < order.index("sitemap.xml")
    assert order.index("sitemap.xml") < order.index("robots.txt") < order.index("index.html")


def test_only_objects_whose_bytes_or_headers_changed_are_planned():
    live = {o.key: digest(o) for o in (obj("index.html"), obj("history.html"), obj("assets/a.js"))}
    planned = plan_uploads([obj("index.html"), obj("history.html", b"new"), obj("assets/a.js", cache=LONG_CACHE),
                            obj("incidents/new.html")], live)
    assert [o.key for o in planned] == ["assets/a.js", "incidents/new.html", "history.html"]
