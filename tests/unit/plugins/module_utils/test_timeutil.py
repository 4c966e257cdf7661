# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one EM-time parser, its text shortcut and the epoch helpers."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import (
    UTC,
    em_epoch,
    em_time_text,
    format_epoch,
    format_utc,
    parse_em_time,
    parse_iso,
)


@pytest.mark.parametrize("text", [
    "2021-06-15T07:00:06.787Z", "2021-06-15T07:00:06Z", "2021-06-15T07:00:06.05Z", "2021-06-15T07:00:06.1234567Z",
    "2021-06-15T07:00:06.000Z", "2021-06-15T07:00:06.000001Z", "2021-06-15T09:00:06.5+02:00", "2021-06-15 07:00:06Z",
    "2021-06-15T07:00:06,5Z", "2021-06-15", " 2021-06-15T07:00:06.787Z ",
])
def test_one_parser_agrees_with_parse_iso_and_format_utc(text):
    moment = parse_em_time(text)
    assert moment == parse_iso(text.strip()) and moment.utcoffset() == datetime.timedelta(0)
    assert em_time_text(text, moment) == format_utc(moment)
    assert em_epoch(text) == moment.timestamp()


def test_em_text_is_kept_when_it_already_is_the_form():
    text = "2021-06-15T07:00:06.787Z"
    assert em_time_text(text, parse_em_time(text)) is text


@pytest.mark.parametrize("value", [None, "", "  "])
def test_empty_is_none(value):
    assert parse_em_time(value) is None and em_epoch(value) is None


@pytest.mark.parametrize("value", ["yesterday", "2021-13-01T00:00:00Z", "2021-02-30T07:00:06.787Z", "2021-06-15T07:00:06.78xZ", 5])
def test_bad_times(value):
    with pytest.raises(ValueError):
        parse_em_time(value)
    assert em_epoch(value) is None


def test_format_epoch():
    assert format_epoch(None) is None
    assert format_epoch(0) == "1970-01-01T00:00:00Z"
    moment = datetime.datetime(2025, 6, 15, 7, 0, 6, 787000, tzinfo=UTC)
    assert format_epoch(moment.timestamp()) == "2025-06-15T07:00:06.787Z"
