"""The shared text helpers: the one duration formatter and the plain-text and markdown tables."""

from __future__ import annotations

import math

import pytest

from scalesearch.util.text import fmt_duration, md_table, table


@pytest.mark.parametrize("seconds,compact,hms,decimal", [
    (0, "0s", "0h00m00s", "0.0 s"),
    (12.4, "12s", "0h00m12s", "12.4 s"),
    (59.6, "1m00s", "0h01m00s", "59.6 s"),
    (75, "1m15s", "0h01m15s", "1.2 min"),
    (3599, "59m59s", "0h59m59s", "60.0 min"),
    (3725, "1h02m", "1h02m05s", "1.03 h"),
    (90061, "25h01m", "25h01m01s", "25.02 h"),
])
def test_fmt_duration_in_its_three_forms(seconds, compact, hms, decimal):
    assert fmt_duration(seconds) == compact
    assert fmt_duration(seconds, "hms") == hms
    assert fmt_duration(seconds, "decimal") == decimal


def test_fmt_duration_of_nothing_and_of_an_unknown_style():
    assert fmt_duration(None) == fmt_duration(math.nan) == fmt_duration(None, "hms") == "?"
    assert fmt_duration(None, "decimal") == fmt_duration(math.nan, "decimal") == "-"
    with pytest.raises(ValueError, match="style"):
        fmt_duration(1, "iso")


def test_table_aligns_rules_and_drops_trailing_blanks():
    rows = [("part", "params", "layout"), ("stem", "9,536", "conv"), ("stage1", "215,808", "bottleneck"),
            ("total", "225,344", "")]
    assert table(rows, align="<>").splitlines() == [
        "part     params  layout",
        "------  -------  ----------",
        "stem      9,536  conv",
        "stage1  215,808  bottleneck",
        "total   225,344"]
    assert table(rows, align="<>", total=True, full_rule=True).splitlines() == [
        "part     params  layout",
        "-----------------------",
        "stem      9,536  conv",
        "stage1  215,808  bottleneck",
        "-----------------------",
        "total   225,344"]
    assert table([("a", "b")]) == "a  b\n-  -"


def test_md_table_escapes_pipes_and_newlines():
    assert md_table(["", ""], [("a|b", "one\ntwo")]) == "|  |  |\n|---|---|\n| a\\|b | one two |"
    assert md_table(["x"], []) == "| x |\n|---|"
