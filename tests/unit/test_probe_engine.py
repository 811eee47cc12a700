"""The probe engine's pure parts: IP literals need no lookup; the request's headers; answer decoding."""
import socket
import zlib
from urllib.parse import urlsplit

import pytest

from chalicelib.probes.guard import literal_address
from chalicelib.probes.http import FetchFailed, _decoded, _request, _request_headers


def test_an_ip_literal_needs_no_lookup_and_a_name_does():
    assert literal_address("203.0.113.7", 443) == [
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("203.0.113.7", 443))]
    assert literal_address("2001:db8::1", 80)[0][4] == ("2001:db8::1", 80, 0, 0)
    assert literal_address("shop.example", 80) is None
    assert literal_address("fe80::1%eth0", 80) is None  # the resolver knows the interface


def headers_for(url: str, given=None, payload=b"", method="GET") -> dict[str, str]:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    return dict(_request_headers(parts, port, secure, "Beacon-Probe/1.0", given or {}, payload, method))


def test_the_host_header_carries_a_port_only_when_it_is_not_the_default():
    assert headers_for("https://shop.example/")["Host"] == "shop.example"
    assert headers_for("http://shop.example:8080/")["Host"] == "shop.example:8080"
    assert headers_for("http://[2001:db8::1]:8080/")["Host"] == "[2001:db8::1]:8080"
    assert headers_for("https://bücher.example/")["Host"] == "xn--bcher-kva.example"


def test_the_probe_s_headers_win_but_not_over_the_framing():
    sent = headers_for("https://shop.example/", {"user-agent": "Shop-Watch/2", "Content-Length": "99",
                                                 "Connection": "keep-alive"}, b"ping", "POST")
    assert sent["user-agent"] == "Shop-Watch/2" and "User-Agent" not in sent
    assert sent["Content-Length"] == "4" and sent["Connection"] == "close"
    assert headers_for("https://shop.example/", method="PUT")["Content-Length"] == "0"
    assert "Content-Length" not in headers_for("https://shop.example/")


def test_compressed_answers_are_decoded_within_the_body_limit():
    text = b"all systems operational " * 100
    assert _decoded(zlib.compress(text), "deflate", 10_000) == text
    raw = zlib.compressobj(wbits=-15)
    assert _decoded(raw.compress(text) + raw.flush(), "deflate", 10_000) == text
    assert len(_decoded(zlib.compress(text), "deflate", 100)) == 101  # enough to judge, no more
    assert _decoded(text, "br", 10_000) == text  # not asked for: left as it came
    with pytest.raises(FetchFailed, match="gzip body is corrupt"):
        _decoded(b"not gzip at all", "gzip", 10_000)


def request_for(url: str, given=None) -> bytes:
    parts = urlsplit(url)
    return _request("GET", parts, parts.port or 80, False, "Beacon-Probe/1.0", given or {}, b"")


def test_the_request_line_percent_encodes_what_a_target_cannot_carry():
    assert request_for("http://shop.example/caf\u00e9 menu?q=a b&x=%41").startswith(
        b"GET /caf%C3%A9%20menu?q=a%20b&x=%41 HTTP/1.1\r\n")


def test_a_header_that_would_break_the_request_is_refused_by_name():
    with pytest.raises(FetchFailed, match="headers: 'X-Trace' cannot be sent"):
        request_for("http://shop.example/", {"X-Trace": "1\r\nX-Injected: yes"})
    with pytest.raises(FetchFailed, match="headers: 'Bad Name' cannot be sent"):
        request_for("http://shop.example/", {"Bad Name": "1"})
    with pytest.raises(FetchFailed, match="beyond Latin-1"):
        request_for("http://shop.example/", {"X-Shop": "\u2603"})
