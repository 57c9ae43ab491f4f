"""One formatter for every figure a stakeholder reads (analysis.reporting.fmt).

Expected strings are written out by hand from how each language writes numbers: Dutch puts a point
between thousands and a comma before decimals, the euro sign before the amount with a space, and a
minus sign after the currency sign; English as in the United States.
"""

from __future__ import annotations

import datetime as dt

import matplotlib
import pytest

from analysis.reporting import fmt

matplotlib.use("Agg")

EN = fmt.Formatter("en", "USD")
NBSP = "\u00a0"  # between the currency sign and the amount, so a line never breaks there
NL = fmt.Formatter("nl", "EUR")


@pytest.mark.parametrize("f, value, expected", [
    (EN, 23570, "23,570"), (NL, 23570, "23.570"),
    (EN, 1234567.0, "1,234,567"), (NL, 1234567.0, "1.234.567"),
    (EN, 0.4, "0"), (NL, -0.4, "0"),  # a count that rounds to zero has no sign
    (EN, None, "n/a"), (NL, float("nan"), "n/a"),
])
def test_integers(f, value, expected):
    assert f.integer(value) == expected


@pytest.mark.parametrize("f, value, decimals, expected", [
    (EN, 1234.567, 2, "1,234.57"), (NL, 1234.567, 2, "1.234,57"),
    (EN, 0.5, 0, "0"),  # half to even, as Python rounds
    (NL, -0.004, 2, "0,00"),
    (NL, 2.5, 1, "2,5"),
])
def test_numbers(f, value, decimals, expected):
    assert f.number(value, decimals) == expected


@pytest.mark.parametrize("f, share, decimals, expected", [
    (EN, 0.489, 1, "48.9%"), (NL, 0.489, 1, "48,9%"),
    (NL, 0.07, 0, "7%"), (EN, 1.5, 0, "150%"),
    (NL, -0.00001, 1, "0,0%"),  # no '-0,0%'
    (NL, 12.345, 1, "1.234,5%"),
])
def test_percentages(f, share, decimals, expected):
    assert f.percent(share, decimals) == expected


@pytest.mark.parametrize("f, value, decimals, expected", [
    (EN, 492.17, 2, "$492.17"), (NL, 492.17, 2, f"€{NBSP}492,17"),
    (EN, 1234.6, 0, "$1,235"), (NL, 1234.6, 0, f"€{NBSP}1.235"),
    (EN, -1234.6, 0, "-$1,235"), (NL, -1234.6, 0, f"€{NBSP}-1.235"),
    (NL, -0.3, 0, f"€{NBSP}0"),
    (fmt.Formatter("nl", "USD"), 10, 0, f"US${NBSP}10"),
    (fmt.Formatter("en", "EUR"), 10, 0, "€10"),
    (fmt.Formatter("en", "GBP"), 1e6, 0, "£1,000,000"),
])
def test_money(f, value, decimals, expected):
    assert f.money(value, decimals) == expected


def test_dates_and_months():
    day = dt.date(1998, 3, 1)
    assert (EN.month(day), NL.month(day)) == ("Mar 1998", "mrt 1998")
    assert (EN.date(day), NL.date(day)) == ("Mar 1, 1998", "1 mrt 1998")
    assert (EN.long_date("1998-10-31"), NL.long_date("1998-10-31")) == ("October 31, 1998", "31 oktober 1998")


@pytest.mark.parametrize("currency, language, code", [
    (None, "nl", "EUR"), ("", "en", "USD"), ("$", "nl", "USD"), ("€ ", "en", "EUR"), ("eur", "en", "EUR"),
    ("GBP", "nl", "GBP"), ("£", "en", "GBP"),
])
def test_currency_codes(currency, language, code):
    assert fmt.currency_code(currency, language) == code


@pytest.mark.parametrize("bad", ["euro", "XYZ", "dollars", "€€"])
def test_an_unknown_currency_is_refused_with_what_is_accepted(bad):
    with pytest.raises(ValueError, match="ISO 4217 code such as EUR"):
        fmt.currency_code(bad, "en")


def test_chart_ticks_follow_the_language():
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 0.25], [0, 25000])
    ax.set_xlim(0, 0.25)
    ax.set_ylim(0, 25000)
    ax.set_xticks([0, 0.125, 0.25])
    ax.set_yticks([0, 12500, 25000])
    ax.xaxis.set_major_formatter(NL.tick_percent(decimals=None))
    ax.yaxis.set_major_formatter(NL.tick_money())
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0,0%", "12,5%", "25,0%"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"€{NBSP}0", f"€{NBSP}12.500", f"€{NBSP}25.000"]
    ax.xaxis.set_major_formatter(NL.tick_percent(xmax=100, decimals=0))
    ax.set_xticks([0, 0.125, 0.25])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()][1] == "0%"
    plt.close(fig)

    fig, ax = plt.subplots()
    days = [dt.date(1998, 1, 1), dt.date(1998, 3, 1), dt.date(1998, 5, 1)]
    ax.plot(days, [1, 2, 3])
    ax.set_xticks([mdates.date2num(d) for d in days])
    ax.xaxis.set_major_formatter(NL.tick_month())
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["jan 1998", "mrt 1998", "mei 1998"]
    plt.close(fig)


def test_use_sets_the_formatter_of_the_process():
    try:
        assert fmt.use("nl", None) == fmt.current() == fmt.Formatter("nl", "EUR")
        assert fmt.current().integer(23570) == "23.570"
    finally:
        fmt.use("en", "USD")
