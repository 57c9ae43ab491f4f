"""Numbers, money, shares and dates as the report's reader writes them, from one place.

Every figure a stakeholder reads (tables, tiles, sentences, chart ticks) is formatted here, with the
locale rules of Babel (CLDR): under ``report.language: nl`` 23570 is ``23.570``, 0.489 is ``48,9%``,
492.17 euro is ``€ 492,17`` and March 1998 is ``mrt 1998``; under ``en`` they are ``23,570``, ``48.9%``,
``€492.17`` and ``Mar 1998``.

The notebook process sets the language and currency once (:func:`use`, called by
:func:`analysis.reporting.nb.start`); library code asks :func:`current` for the formatter, so a chart drawn by
``analysis.business.segments`` in a Dutch report gets Dutch ticks without being told. A :class:`Formatter` can also
be made directly, for a page written outside a notebook (the summary page, the reports index).

Currency: ``report.currency`` is an ISO 4217 code (``EUR``, ``USD``, ``GBP``) or one of the symbols
``$ € £ ¥``; left empty it is EUR for ``nl`` and USD for ``en``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from dataclasses import dataclass

from analysis.reporting.i18n import CATALOGUES

#: The locale of each report language: English with US conventions; another language's from its catalogue
#: (Dutch as written in the Netherlands, :data:`analysis.reporting.lang_nl.LOCALE`).
LOCALES = {"en": "en_US", **{lang: module.LOCALE for lang, module in CATALOGUES.items()}}
#: The currency when ``report.currency`` is empty.
DEFAULT_CURRENCY = {"en": "USD", **{lang: module.CURRENCY for lang, module in CATALOGUES.items()}}
#: Symbols accepted in ``report.currency`` (older configurations wrote the symbol), by ISO code.
SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
MISSING = "n/a"


def currency_code(currency: str | None, language: str = "en") -> str:
    """The ISO 4217 code for ``report.currency`` (a code or a symbol; empty: the language's default).

    Raises ValueError for anything else, naming what is accepted."""
    from babel.numbers import get_currency_name

    if currency is None or not str(currency).strip():
        return DEFAULT_CURRENCY[language]
    text = str(currency).strip()
    if text in SYMBOLS:
        return SYMBOLS[text]
    code = text.upper()
    if len(code) == 3 and code.isalpha() and get_currency_name(code, locale="en_US") != code:
        return code
    raise ValueError(f"report.currency must be an ISO 4217 code such as EUR, USD or GBP (or one of the symbols"
                     f" {' '.join(SYMBOLS)}), got {currency!r}")


def _missing(value) -> bool:
    """None, NaN of any float type, pandas' NA and NaT."""
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if pd.api.types.is_scalar(value) else False
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Formatter:
    """Locale-correct text for the figures of one report."""

    language: str = "en"
    currency: str = "USD"

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    # -------------------------------------------------------------- numbers

    def numbers_in(self, text: str) -> str:
        """``text`` with every number written in English notation ('0.73', '10,000', '1.2e+09': the kit's own
        messages) in this report's symbols: '0,73', '10.000', '1,2e+09' under nl. The digits stay as they are."""
        from babel.numbers import get_decimal_symbol, get_group_symbol

        symbols = {".": get_decimal_symbol(self.locale), ",": get_group_symbol(self.locale)}
        if symbols == {".": ".", ",": ","}:
            return text
        return re.sub(r"\d[\d,]*(?:\.\d+)?", lambda m: "".join(symbols.get(ch, ch) for ch in m.group()), text)

    def integer(self, value) -> str:
        """23570 -> '23,570' (en) or '23.570' (nl)."""
        from babel.numbers import format_decimal

        if _missing(value):
            return MISSING
        if isinstance(value, float) and math.isinf(value):
            return self._infinity(value)
        return format_decimal(round(float(value)) + 0, format="#,##0", locale=self.locale)

    def number(self, value, decimals: int = 2) -> str:
        """1234.567 -> '1,234.57' (en) or '1.234,57' (nl); a value that rounds to zero has no sign."""
        from babel.numbers import format_decimal

        if _missing(value):
            return MISSING
        if math.isinf(value):
            return self._infinity(value)
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(round(float(value), decimals) + 0.0, format=pattern, locale=self.locale,
                              decimal_quantization=True)

    def percent(self, share, decimals: int = 1) -> str:
        """A share: 0.489 -> '48.9%' (en) or '48,9%' (nl); a share that rounds to zero has no sign."""
        from babel.numbers import format_percent

        if _missing(share):
            return MISSING
        if math.isinf(share):
            return self._infinity(share)
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
        return format_percent(round(float(share) * 100, decimals) / 100 + 0.0, format=pattern, locale=self.locale)

    def points(self, delta, decimals: int = 1) -> str:
        """A difference of two shares in percentage points, without the unit: 0.0123 -> '1.2' / '1,2'."""
        return self.number(100 * delta, decimals) if not _missing(delta) else MISSING

    def money(self, value, decimals: int = 0) -> str:
        """1234.5 -> '$1,235' (en, USD) or '€ 1.235' (nl, EUR); negative '-$1,235' / '€ -1.235'."""
        from babel import Locale
        from babel.numbers import format_currency

        if _missing(value):
            return MISSING
        if math.isinf(value):
            return self._infinity(value)
        pattern = Locale.parse(self.locale).currency_formats["standard"].pattern
        pattern = pattern.replace("0.00", "0" + ("." + "0" * decimals if decimals > 0 else ""))
        return format_currency(round(float(value), decimals) + 0.0, self.currency, format=pattern,
                               locale=self.locale, currency_digits=False)

    def symbol(self) -> str:
        """The currency's symbol as this locale writes it: '$', '€', 'US$' (USD in nl)."""
        from babel.numbers import get_currency_symbol

        return get_currency_symbol(self.currency, locale=self.locale)

    def _infinity(self, value: float) -> str:
        return ("-" if value < 0 else "") + "∞"

    # -------------------------------------------------------------- dates

    def date(self, value) -> str:
        """1998-03-01 -> 'Mar 1, 1998' (en) or '1 mrt 1998' (nl)."""
        return self._date(value, "medium")

    def long_date(self, value) -> str:
        """1998-03-01 -> 'March 1, 1998' (en) or '1 maart 1998' (nl)."""
        return self._date(value, "long")

    def month(self, value) -> str:
        """1998-03-01 -> 'Mar 1998' (en) or 'mrt 1998' (nl): a month on a chart axis."""
        return self._date(value, "MMM yyyy")

    def period(self, value, period: str = "M") -> str:
        """A calendar month ("M") or quarter ("Q") starting on ``value``, as a sentence names it:
        'June 1998' / 'juni 1998', 'Q2 1998' / 'K2 1998'."""
        return self._date(value, "LLLL yyyy") if period == "M" else self.quarter(value)

    def quarter(self, value) -> str:
        """1998-04-01 -> 'Q2 1998' (en) or 'K2 1998' (nl)."""
        return self._date(value, "QQQ yyyy")

    def _date(self, value, pattern: str) -> str:
        from babel.dates import format_date

        empty = _no_date(value)
        return empty if empty is not None else format_date(_as_date(value), pattern, locale=self.locale)

    # -------------------------------------------------------------- chart axes (matplotlib)

    def tick_integer(self):
        """A matplotlib tick formatter for counts."""
        from matplotlib.ticker import FuncFormatter

        return FuncFormatter(lambda v, _pos: self.integer(v))

    def tick_money(self):
        """A matplotlib tick formatter for amounts in the report's currency, no decimals."""
        from matplotlib.ticker import FuncFormatter

        return FuncFormatter(lambda v, _pos: self.money(v))

    def tick_percent(self, xmax: float = 1.0, decimals: int | None = 0):
        """A matplotlib tick formatter for shares (``xmax`` = 1: 0.25 is 25%; ``xmax`` = 100: 25 is 25%).
        ``decimals=None`` picks as many decimals as the tick spacing needs (as matplotlib's PercentFormatter)."""
        from matplotlib.ticker import PercentFormatter

        formatter = self

        class LocalePercent(PercentFormatter):
            def format_pct(self, x, display_range):
                text = super().format_pct(x, display_range)  # '12.5%': only its number of decimals is used
                places = len(text[: -len(self.symbol)].partition(".")[2]) if self.symbol else 0
                return formatter.percent(x / self.xmax, places)

        return LocalePercent(xmax=xmax, decimals=decimals)

    def tick_month(self):
        """A matplotlib tick formatter for date axes: month and year in the report's language."""
        import matplotlib.dates as mdates
        from matplotlib.ticker import FuncFormatter

        return FuncFormatter(lambda v, _pos: self.month(mdates.num2date(v).date()))


def localize_figure(fig, formatter: Formatter):
    """Give every axis of ``fig`` that still has matplotlib's default tick labels the report's notation:
    plain numbers (``ScalarFormatter``: '17.5' becomes '17,5' under nl, '20000' becomes '20,000' / '20.000')
    and dates (month names in the report's language). Axes already given a formatter of this module keep it.
    Returns ``fig``."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    class LocaleScalar(ScalarFormatter):
        def __call__(self, x, pos=None):
            text = super().__call__(x, pos)
            if self.get_offset() or not text:  # an offset or a power of ten: keep matplotlib's digits
                return text.replace(".", ",") if formatter.language == "nl" else text
            places = len(text.partition(".")[2])
            return formatter.number(x, places)

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            current = axis.get_major_formatter()
            if type(current) is ScalarFormatter:
                axis.set_major_formatter(LocaleScalar())
            elif isinstance(current, (mdates.AutoDateFormatter, mdates.ConciseDateFormatter)):
                axis.set_major_formatter(FuncFormatter(lambda v, _pos: formatter.date(mdates.num2date(v))))
    return fig


def _no_date(value) -> str | None:
    """What to write for a date that is not there: 'n/a' for None or NaN, nothing for an empty value (such as
    a template's undefined variable), else None."""
    if _missing(value):
        return MISSING
    if not isinstance(value, dt.date) and not value:
        return ""
    return None


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    return dt.date.fromisoformat(str(value)[:10])


_CURRENT = Formatter()


def use(language: str = "en", currency: str | None = None) -> Formatter:
    """Set the formatter of this process (the notebook's report language and currency) and return it."""
    global _CURRENT
    _CURRENT = Formatter(language, currency_code(currency, language))
    return _CURRENT


def current(currency: str | None = None) -> Formatter:
    """The formatter set by :func:`use` (English and US dollars until then); with ``currency`` (a
    ``report.currency`` value), the same language with that currency."""
    if currency is None:
        return _CURRENT
    return Formatter(_CURRENT.language, currency_code(currency, _CURRENT.language))


@contextlib.contextmanager
def using(language: str = "en", currency: str | None = None):
    """Format as ``language`` and ``currency`` inside the ``with`` block (a page built outside a notebook),
    then as before."""
    global _CURRENT
    before = _CURRENT
    try:
        yield use(language, currency)
    finally:
        _CURRENT = before
