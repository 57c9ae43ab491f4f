"""Every text a reader sees, in the report language: English (the kit's own) or a language with a catalogue.

The kit is written in English. A language's catalogue is one module (:mod:`analysis.reporting.lang_nl` for Dutch) keyed by
the English: :func:`translate` maps fixed labels (and, through the catalogue's patterns, labels with a variable
part), :func:`say` translates a sentence template and fills in its figures, :func:`translate_figure` applies
:func:`translate` to a finished matplotlib figure. Unknown text is left as it is, so a missing entry shows
English rather than nothing, and ``tests/test_i18n.py`` names it.
"""

from __future__ import annotations

import re

from analysis.reporting import lang_nl



#: Every report language but English (the kit's own), with its catalogue module (see :mod:`analysis.reporting.lang_nl`).
CATALOGUES = {"nl": lang_nl}
#: The report languages.
LANGUAGES: tuple[str, ...] = ("en", *CATALOGUES)
#: The Dutch labels (:data:`analysis.reporting.lang_nl.LABELS`).
NL = lang_nl.LABELS

_TRANSLATIONS = {lang: (module.LABELS, [(re.compile(p), r) for p, r in module.PATTERNS])
                 for lang, module in CATALOGUES.items()}


def translate(text: str, lang: str = "en") -> str:
    """The label in ``lang``; unknown labels (and English) come back unchanged."""
    if lang == "en" or not text:
        return text
    exact, patterns = _TRANSLATIONS.get(lang, ({}, []))
    if text in exact:
        return exact[text]
    for pattern, replacement in patterns:
        if pattern.search(text):
            return pattern.sub(replacement, text)
    return text


def say(template: str, /, lang: str | None = None, **values) -> str:
    """A sentence with figures in the report language, gettext style: the English ``template`` (with
    ``{named}`` fields) is the key, the language's catalogue (:data:`NL`) holds its translation with the
    same fields, and the fields are filled in afterwards with ``values`` (text already written in the
    report's notation by :mod:`analysis.reporting.fmt`). ``lang``: the report language; default the one set for
    this process (:func:`analysis.reporting.fmt.use`). A template without a translation is written in English, and
    ``tests/test_i18n.py`` fails on it."""
    from analysis.reporting import fmt

    lang = lang or fmt.current().language
    text = template if lang == "en" else _TRANSLATIONS.get(lang, ({}, []))[0].get(template, template)
    return text.format(**values)


def translate_figure(fig, lang: str = "en"):
    """Translate titles, axis labels, category tick labels, legends and annotations of ``fig``, and write the
    numbers and dates of its default tick labels as ``lang`` writes them (:func:`analysis.reporting.fmt.localize_figure`)."""
    from analysis.reporting import fmt

    fmt.localize_figure(fig, fmt.Formatter(lang, fmt.DEFAULT_CURRENCY[lang]))
    if lang == "en":
        return fig
    for ax in fig.axes:
        ax.set_title(translate(ax.get_title(), lang))
        ax.set_xlabel(translate(ax.get_xlabel(), lang))
        ax.set_ylabel(translate(ax.get_ylabel(), lang))
        for get_labels, set_ticks, get_ticks in (
            (ax.get_xticklabels, ax.set_xticks, ax.get_xticks),
            (ax.get_yticklabels, ax.set_yticks, ax.get_yticks),
        ):
            old = get_labels()
            texts = [label.get_text() for label in old]
            new = [translate(text, lang) for text in texts]
            if new != texts:  # category labels; numeric tick labels never match an entry
                style = {"rotation": old[0].get_rotation(), "ha": old[0].get_ha()}
                set_ticks(get_ticks(), new, **style)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_text(translate(text.get_text(), lang))
        for text in ax.texts:
            text.set_text(translate(text.get_text(), lang))
    return fig


def translate_frame(df, lang: str = "en"):
    """A copy of ``df`` with string cells, column names and (plain, text) row labels translated."""
    if lang == "en":
        return df
    out = df.rename(columns=lambda c: translate(str(c), lang))
    if out.index.nlevels == 1 and out.index.dtype == object:
        out.index = out.index.map(lambda v: translate(v, lang) if isinstance(v, str) else v)
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("category", "string"):
            out[col] = out[col].astype(object).map(lambda v: translate(v, lang) if isinstance(v, str) else v)
    return out


#: How far a forecast was from what happened, in words: one sign convention for every page.
_MODEL_ERROR = {"too_high": "{pct} too high", "too_low": "{pct} too low", "spot_on": "spot on"}


def model_error(forecast: float, actual: float, lang: str = "en") -> str:
    """The forecast against what happened, in words: '5.3% too low' when the model expected 5.3% fewer than
    happened, '0.8% too high' when it expected more, 'spot on' within 0.05%; 'n/a' without an actual. The
    share is written in the report's notation (:mod:`analysis.reporting.fmt`)."""
    from analysis.reporting import fmt

    if not actual or forecast is None or forecast != forecast:
        return "n/a"
    error = (forecast - actual) / actual
    if abs(error) < 0.0005:
        return say(_MODEL_ERROR["spot_on"], lang)
    return say(_MODEL_ERROR["too_high" if error > 0 else "too_low"], lang, pct=fmt.current().percent(abs(error)))
