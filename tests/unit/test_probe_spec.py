"""What site.yml may say about probes, and how a mistake is reported."""
from __future__ import annotations

import pytest

from chalicelib.config import SiteConfigError, load_site, parse_site
from chalicelib.probes.guard import TargetGuard, TargetRefused, refusal_reason
from chalicelib.probes.overrides import OverridesError, ProbeOverrides, load_overrides

SITE = """
brand: {name: Lumen, website: https://lumen.example, page_url: https://status.lumen.example}
components:
  - id: facebook
    name: Facebook
    probes:
{probes}
"""


def site_with(probes: str, extra: str = ""):
    return parse_site(SITE.replace("{probes}", probes) + extra)


def problems(probes: str, extra: str = "") -> list[str]:
    with pytest.raises(SiteConfigError) as caught:
        site_with(probes, extra)
    return caught.value.problems


def test_the_example_site_declares_every_kind_but_dns(example_site):
    kinds = {p.kind for c in example_site.components for p in c.probes}
    assert kinds == {"http", "tls", "tcp", "upstream", "heartbeat"}
    assert example_site.probe_settings.allow_private_targets is False


def test_an_unknown_key_in_a_probe_names_its_path():
    assert problems("      - {kind: http, url: 'https://x.example', urll: 1}") == [
        "components[0] (id 'facebook').probes[0].urll: unknown key; remove it or check its spelling"]


def test_an_unknown_kind_lists_the_kinds():
    assert problems("      - {kind: ping, host: x}") == [
        "components[0] (id 'facebook').probes[0].kind: 'ping' is not a kind; "
        "use one of http, tcp, dns, tls, upstream, heartbeat"]


def test_two_probes_of_a_kind_need_their_own_ids():
    [problem] = problems("      - {kind: http, url: 'https://a.example'}\n      - {kind: http, url: 'https://b.example'}")
    assert "probes[1].id: 'http' is used twice in this component; give each http probe its own 'id'" in problem


def test_a_timeout_must_fit_the_cycle_deadline():
    [problem] = problems("      - {kind: tcp, host: x.example, port: 443, timeout_seconds: 30}",
                         "probe_settings: {cycle_deadline_seconds: 20}\n")
    assert "timeout_seconds: 30 s does not fit the cycle deadline of 20 s" in problem


def test_a_heartbeat_secret_in_site_yml_is_refused_with_the_command_that_replaces_it():
    # GIVEN a heartbeat that still carries its secret in the repository
    [problem] = problems("      - {kind: heartbeat, id: scheduler, token: lumen-post-scheduler-7f3a9c2e, "
                         "period_seconds: 300}")
    # THEN the check names the probe, says to remove the line and which command makes the secret
    assert problem.startswith("components[0] (id 'facebook').probes[0] (id 'scheduler'): token: ")
    assert "remove the 'token' line" in problem and "`beacon heartbeats create <component>/scheduler`" in problem


def test_a_heartbeat_is_declared_without_a_secret():
    site = site_with("      - {kind: heartbeat, period_seconds: 300}")
    heartbeat = site.component("facebook").probes[0]
    assert (heartbeat.failure_threshold, heartbeat.success_threshold) == (2, 1)


def test_a_bad_regex_and_a_success_status_as_failure_are_refused():
    [regex] = problems("      - {kind: http, url: 'https://a.example', body_regex: '(unclosed'}")
    assert "not a valid regular expression" in regex
    [failure] = problems("      - {kind: http, url: 'https://a.example', on_failure: operational}")
    assert "use one of degraded_performance, partial_outage, major_outage" in failure


def test_the_example_site_passes_the_check_command(tmp_path):
    from chalicelib.settings import PROJECT_ROOT

    assert load_site(PROJECT_ROOT / "site.yml").component("facebook").probes[1].role == "platform"


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"), ("172.16.0.1", "a private address"), ("192.168.1.1", "a private address"),
    ("fc00::1", "a private address"), ("100.64.0.1", "a private address"),
    ("169.254.169.254", "a link-local address (the cloud metadata service)"), ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"), ("0.0.0.0", "an unspecified address"), ("::", "an unspecified address"),
    ("93.184.216.34", None), ("2606:4700::1111", None),
])
def test_the_guard_refuses_every_non_public_address(address, reason):
    assert refusal_reason(address) == reason


@pytest.mark.parametrize("address, reason", [
    ("::ffff:127.0.0.1", "a loopback address: 127.0.0.1 carried in an IPv4-mapped address"),
    ("::ffff:10.0.0.1", "a private address: 10.0.0.1 carried in an IPv4-mapped address"),
    ("::127.0.0.1", "a loopback address: 127.0.0.1 carried in an IPv4-compatible address"),
    ("::192.168.1.1", "a private address: 192.168.1.1 carried in an IPv4-compatible address"),
    ("::ffff:0:10.0.0.1", "a private address: 10.0.0.1 carried in an IPv4-translated address"),
    ("64:ff9b::127.0.0.1", "a loopback address: 127.0.0.1 carried in a NAT64 address"),
    ("64:ff9b::10.1.2.3", "a private address: 10.1.2.3 carried in a NAT64 address"),
    ("64:ff9b::169.254.169.254",
     "a link-local address (the cloud metadata service): 169.254.169.254 carried in a NAT64 address"),
    ("64:ff9b:1::8.8.8.8", "a local-use NAT64 address (64:ff9b:1::/48), which leads into a private network"),
    ("2002:7f00:1::1", "a loopback address: 127.0.0.1 carried in a 6to4 address"),
    ("2002:a9fe:a9fe::1",
     "a link-local address (the cloud metadata service): 169.254.169.254 carried in a 6to4 address"),
    ("2002:c0a8:101::1", "a private address: 192.168.1.1 carried in a 6to4 address"),
    ("2002:6440:1::1", "a private address: 100.64.0.1 carried in a 6to4 address"),
    # The same forms carrying a public address are public, and IPv6's own loopback stays itself.
    ("::ffff:93.184.216.34", None), ("64:ff9b::93.184.216.34", None), ("2002:5db8:d822::1", None),
    ("::1", "a loopback address"),
])
def test_the_guard_judges_an_ipv6_address_by_the_ipv4_address_it_carries(address, reason):
    assert refusal_reason(address) == reason


def test_an_allowed_private_network_covers_its_addresses_in_ipv6_forms():
    guard = TargetGuard(allowed_networks=("10.20.0.0/16",))
    guard.check("inbox.internal", "::ffff:10.20.1.5")
    with pytest.raises(TargetRefused, match="resolves to 64:ff9b::a1e:105, a private address: 10.30.1.5 carried"):
        guard.check("inbox.internal", "64:ff9b::a1e:105")


def test_private_networks_can_be_allowed_one_by_one():
    guard = TargetGuard(allowed_networks=("10.20.0.0/16",))
    guard.check("inbox.internal", "10.20.1.5")
    with pytest.raises(TargetRefused, match="inbox.internal resolves to 10.30.1.5, a private address"):
        guard.check("inbox.internal", "10.30.1.5")


def test_overrides_point_targets_elsewhere(example_site):
    overrides = ProbeOverrides(targets={"https://www.facebook.com/": "http://127.0.0.1:9/fb/",
                                        "smtp.lumencoffee.com:587": "127.0.0.1:25"})
    page, platform = example_site.component("facebook").probes
    assert overrides.rewrite(page).url == "http://127.0.0.1:9/fb/lumencoffee"
    assert overrides.rewrite(platform).url == "http://127.0.0.1:9/fb/"
    smtp = overrides.rewrite(example_site.component("support-inbox").probes[0])
    assert (smtp.host, smtp.port) == ("127.0.0.1", 25)
    assert overrides.rewrite(example_site.component("x").probes[0]) is None
    assert ProbeOverrides(unmatched="keep").rewrite(example_site.component("x").probes[0]).url == "https://x.com/lumencoffee"


def test_the_demo_targets_cover_every_probe_but_the_certificate(example_site):
    from chalicelib.settings import PROJECT_ROOT

    overrides = load_overrides(PROJECT_ROOT / "tools/local/demo-targets.yml",
                               environ={"DEMO_PORT": "8090", "DEMO_SMTP_PORT": "8091"})
    unmapped = [f"{c.id}/{p.key_id}" for c in example_site.components for p in c.probes if overrides.rewrite(p) is None]
    assert unmapped == ["website/tls"]
    assert overrides.allow_private_targets is True


def test_an_overrides_file_with_an_unset_variable_says_which(tmp_path):
    path = tmp_path / "targets.yml"
    path.write_text('targets: {"https://a.example/": "http://127.0.0.1:${NOPE}/"}\n')
    with pytest.raises(OverridesError, match=r"uses \$\{NOPE\}, which is not set"):
        load_overrides(path, environ={})
