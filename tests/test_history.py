"""kbook.history: the events and projects tables of chapter 1.1 are ordered, sourced and honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbook import history
from kbook.history import Confidence, Event, Project

ROOT = Path(__file__).resolve().parent.parent
BIB_FILES = [ROOT / "book" / "references.bib"]
ALL_EVENTS = history.EVENTS + history.project_events()


def test_events_come_sorted():
    events = history.sorted_events(ALL_EVENTS)
    positions = [e.decimal_year for e in events]
    assert positions == sorted(positions)
    assert set(events) == set(ALL_EVENTS)


def test_sorting_uses_the_middle_of_each_period():
    year = Event("2016", "ideas", "y", "y", "k")
    month = Event("2016-03", "ideas", "m", "m", "k")
    day = Event("2016-09-07", "ideas", "d", "d", "k")
    assert [e.label for e in history.sorted_events([day, year, month])] == ["m", "y", "d"]
    assert year.decimal_year == 2016.5
    assert month.decimal_year == 2016 + 2.5 / 12  # the middle of March
    assert day.decimal_year == 2016 + (251 - 0.5) / 366  # 7 September is day 251 of a leap year


def test_the_tables_are_stored_in_time_order():
    assert list(history.EVENTS) == history.sorted_events(history.EVENTS)
    dates = [(p.year, p.month) for p in history.PROJECTS]
    assert dates == sorted(dates)


def test_every_source_key_is_in_the_books_bibliography():
    assert history.find_bib_files(ROOT / "notebooks" / "01_history") == BIB_FILES
    assert history.missing_sources(ALL_EVENTS + history.PROJECTS, BIB_FILES) == []


def test_an_unknown_source_key_is_reported(tmp_path):
    bib = tmp_path / "one.bib"
    bib.write_text("@misc{known2020key,\n  title = {x}\n}\n")
    events = [Event("2020", "ideas", "a", "a", "known2020key"),
              Event("2021", "ideas", "b", "b", "nowhere2021x")]
    assert history.missing_sources(events, [bib]) == ["nowhere2021x"]
    assert history.missing_sources(events) == []  # without .bib files only emptiness is checked


def test_no_bibliography_outside_the_repository(tmp_path):
    assert history.find_bib_files(tmp_path) is None


def test_nothing_weaker_than_medium_high_is_stated_as_fact():
    for e in ALL_EVENTS:
        if e.confidence < Confidence.MEDIUM_HIGH:
            assert e.reported and e.text.startswith("Reported"), e
        if not e.reported:
            assert "reported" not in e.text.lower(), e


@pytest.mark.parametrize("confidence", [Confidence.MEDIUM, Confidence.LOW, Confidence.UNVERIFIED])
def test_a_weak_fact_must_be_marked_reported(confidence):
    with pytest.raises(ValueError, match="Medium-High"):
        Event("2016-09", "industry", "x", "Starts full-time at OpenAI.", "somekey", confidence)
    ok = Event("2016-09", "industry", "x", "Reported: starts full-time at OpenAI.", "somekey", confidence,
               reported=True)
    assert ok.reported


def test_reported_wording_and_flag_must_agree():
    with pytest.raises(ValueError, match="Reported"):
        Event("2020", "ideas", "x", "Plain sentence.", "k", reported=True)
    with pytest.raises(ValueError, match="Reported"):
        Event("2020", "ideas", "x", "Reported: something.", "k")


@pytest.mark.parametrize("when", ["2015-13", "2015-02-30", "15", "2015/05/21", "May 2015", "2015-5",
                                  "2015-05-1", "2015-1-01"])
def test_bad_dates_are_refused(when):
    with pytest.raises(ValueError, match="when="):
        Event(when, "ideas", "x", "x", "k")


@pytest.mark.parametrize("label,text", [(" ", "x"), ("x", "  ")])
def test_blank_label_or_text_is_refused(label, text):
    with pytest.raises(ValueError, match="must not be empty"):
        Event("2020", "ideas", label, text, "k")


def test_bad_kind_and_missing_source_are_refused():
    with pytest.raises(ValueError, match="kind="):
        Event("2015", "hobby", "x", "x", "k")
    with pytest.raises(ValueError, match="source"):
        Event("2015", "ideas", "x", "x", " ")


def test_projects_table_is_sane():
    names = [p.name for p in history.PROJECTS]
    assert len(names) == len(set(names)) >= 10
    for p in history.PROJECTS:
        assert 2010 <= p.year <= 2026 and 1 <= p.month <= 12, p
        assert p.language and p.summary and p.source, p
    as_events = history.project_events()
    assert [e.label for e in as_events] == names and all(e.kind == "open-source" for e in as_events)
    with pytest.raises(ValueError, match="month"):
        Project("x", 2020, 13, "Python", "y", "k")


def test_events_have_unique_labels_and_known_kinds():
    labels = [e.label for e in ALL_EVENTS]
    assert len(labels) == len(set(labels))
    assert {e.kind for e in ALL_EVENTS} == set(history.KINDS)
