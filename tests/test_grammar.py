"""The shared grammar (:mod:`dash_file_cache._grammar`) and the rules its callers keep."""

from __future__ import annotations

import pytest

import dash_file_cache as dfc
from dash_file_cache import _grammar as grammar
from dash_file_cache.services import remote, security
from dash_file_cache.services.offload import make_offload
from dash_file_cache.services.source import make_content_type, sanitize_file_name


@pytest.mark.parametrize("value", ["bytes", "X-Custom-Header", "a!#$%&'*+.^_`|~9", "Range"])
def test_tokens(value: str) -> None:
    assert grammar.is_token(value)


@pytest.mark.parametrize("value", ["", "a b", "a,b", "a:b", "(x)", "é", "bytes\t", "a/b", "a\n"])
def test_not_tokens(value: str) -> None:
    assert not grammar.is_token(value)


@pytest.mark.parametrize("char", ["\r", "\n", "\x00"])
def test_line_breakers(char: str) -> None:
    assert grammar.breaks_field("a" + char + "b")


@pytest.mark.parametrize("value", ["plain", "tab\there", "bell\x07", "del\x7f", "c1\x85", "é"])
def test_other_characters_do_not_break_a_field(value: str) -> None:
    assert not grammar.breaks_field(value)


@pytest.mark.parametrize(
    ("value", "ctl", "ctl_or_c1"),
    [
        ("plain text", False, False),
        ("tab\t", True, True),
        ("nul\x00", True, True),
        ("us\x1f", True, True),
        ("del\x7f", True, True),
        ("c1 first \x80", False, True),
        ("c1 last \x9f", False, True),
        ("nbsp\xa0 and é", False, False),
        ("emoji \U0001f600", False, False),
    ],
)
def test_control_characters(value: str, ctl: bool, ctl_or_c1: bool) -> None:
    assert grammar.has_control(value) is ctl
    assert grammar.has_control(value, c1=True) is ctl_or_c1
    assert (grammar.replace_controls(value, "_") != value) is ctl_or_c1


def test_replace_controls_replaces_each_one() -> None:
    assert grammar.replace_controls("a\r\nb\x7fc\x85d\te", "_") == "a__b_c_d_e"


@pytest.mark.parametrize(
    ("value", "latin1", "visible"),
    [
        ("abc ~", True, True),
        ("café", True, False),
        ("\xff", True, False),
        ("tab\t", True, False),
        ("del\x7f", True, False),
        ("€", False, False),
        ("", True, True),
    ],
)
def test_latin1_and_visible_ascii(value: str, latin1: bool, visible: bool) -> None:
    assert grammar.is_latin1(value) is latin1
    assert grammar.is_visible_ascii(value) is visible


def test_check_field_value_names_the_argument() -> None:
    grammar.check_field_value("x", "text/plain; charset=utf-8")
    grammar.check_field_value("x", "c1 \x85 is latin-1")  # CTL only by default
    with pytest.raises(ValueError, match=r"^x must not contain control characters"):
        grammar.check_field_value("x", "c1 \x85", c1=True)
    with pytest.raises(ValueError, match=r"^y must not contain control characters"):
        grammar.check_field_value("y", "a\r\nb")
    with pytest.raises(ValueError, match=r"^z must be latin-1 text"):
        grammar.check_field_value("z", "€")


def test_units() -> None:
    assert grammar.MB == 1024 * 1024
    assert grammar.OWS == " \t"


# -- each caller keeps its own rule ---------------------------------------------------
def test_registered_types_refuse_c1_too() -> None:
    with pytest.raises(ValueError, match="content_type must not contain control"):
        make_content_type("text/plain\x85", "image/jpeg", False)
    with pytest.raises(ValueError, match="mime_type must be latin-1"):
        make_content_type("", "text/€", False)
    assert make_content_type(" text/plain ", "image/jpeg", True) == "text/plain; charset=utf-8"


def test_file_names_lose_every_control_character() -> None:
    assert sanitize_file_name("a\x00b\x1fc\x7fd\x9fe.txt") == "a_b_c_d_e.txt"
    assert sanitize_file_name("ok é\xa0.txt") == "ok é\xa0.txt"


def test_the_content_policy_refuses_ctl_but_not_c1() -> None:
    with pytest.raises(ValueError, match="active_content_policy must not contain control"):
        security.check_active_content_policy("sandbox\tallow-scripts")
    assert security.check_active_content_policy(" sandbox \x85x") == "sandbox \x85x"
    with pytest.raises(ValueError):
        dfc.ServiceData(dfc.CachePlain(1), active_content_policy="sandbox\x7f")


def test_remote_requests_refuse_only_line_breaks() -> None:
    with pytest.raises(ValueError, match="control characters"):
        remote.check_remote_url("https://example.com/a\r\nHost: x")
    assert remote.check_remote_url("https://example.com/a\tb") == "https://example.com/a\tb"
    with pytest.raises(ValueError, match="malformed field"):
        remote.check_remote_headers({"X-A": "1\x00"})
    with pytest.raises(ValueError, match="malformed field"):
        remote.check_remote_headers({"X-A\n": "1"})
    assert remote.check_remote_headers({" X-A ": "tab\tok"}) == {"X-A": "tab\tok"}


def test_offload_prefixes_refuse_ctl(tmp_path) -> None:
    with pytest.raises(ValueError, match="control character"):
        make_offload("x-accel-redirect", {str(tmp_path): "/files\x7f/"})
    with pytest.raises(ValueError, match="control character"):
        make_offload("x-accel-redirect", {str(tmp_path): "/files?/"})
    assert make_offload("x-accel-redirect", {str(tmp_path): "/fïles/"}) is not None


def test_x_sendfile_names_only_visible_ascii_paths(tmp_path) -> None:
    offload = make_offload("x-sendfile", {str(tmp_path): str(tmp_path)})
    assert offload is not None
    for name, named in [("plain.bin", True), ("café.bin", False), ("100%.bin", False)]:
        path = tmp_path / name
        path.write_bytes(b"x")
        assert (offload.target(str(path)) is not None) is named, name
