"""The BG/BB section of page 02 (``models.discrete``): what :mod:`analysis.scoring.discrete` found, in plain words
for everyone (:func:`show`) and in figures for analysts (:func:`show_for_analysts`).

In the library rather than the notebook because page 02 shows it in two places: in its own sections, and after the
note of a page whose purchase model could not be fitted (BG/BB needs neither the purchase nor the spend model).
Both functions show nothing when ``models.discrete`` is off (``bb`` None), so the page is then as before.
"""

from __future__ import annotations

import pandas as pd

from analysis.reporting import nb, plotting
from analysis.scoring import discrete
from analysis.scoring.discrete import DiscreteStage


def _words(bb: DiscreteStage) -> tuple[str, str, str, str]:
    """The period, its plural and 'in the next <period>' in the report language, and the calibration's last day."""
    return (nb.label(discrete.PERIOD_NAMES[bb.period]), nb.label(discrete.PERIOD_PLURALS[bb.period]),
            nb.label(discrete.NEXT_PERIOD[bb.period]), nb.fmt_date(bb.calibration_last.end_time.date()))


def show(bb: DiscreteStage | None, p_alive_at_risk_below: float) -> None:
    """The section in plain words: what BG/BB assumes, its holdout check, the share likely still active, the expected
    purchases, and whether the data fit one purchase per period. ``p_alive_at_risk_below``: the at-risk threshold
    (``segments.p_alive_at_risk_below``)."""
    if bb is None:
        return
    period, periods, following, cal_end = _words(bb)
    nb.markdown("## One chance to buy per {period}: the BG/BB model", period=period)
    nb.markdown("Some customers can buy only once per {period}: a yearly donation drive, an annual event, a renewal."
                " The BG/BB model (Fader, Hardie & Shang 2010) counts in how many {periods} since their first purchase"
                " each customer bought. While still a customer, each customer has their own chance of buying in a"
                " {period}; at the start of any {period} they may quietly drop out for good. The model learnt from the"
                " {periods} from {start} up to {end} and is checked on the {periods} after that, up to {last}.",
                period=period, periods=periods, start=nb.fmt_date(bb.first_period.start_time.date()), end=cal_end,
                last=nb.fmt_date(bb.observation_last.end_time.date()))
    if bb.customers is None:
        nb.note("BG/BB could not be fitted on these data: it learns from customers who bought in more than one"
                " {period}, and too few did. (The analyst finds the reason in artifacts/model.json.)", period=period)
    else:
        scored, tiles = bb.customers, []
        if bb.calibration is not None:
            expected, actual = float(bb.calibration["expected"].sum()), int(bb.calibration["actual"].sum())
            nb.markdown("**Check:** in the {n} {periods} it had not seen, BG/BB expected {expected} repeat purchases"
                        " from the customers who had bought by {end}; {actual} happened ({error}).",
                        n=nb.fmt_int(bb.holdout_periods), periods=periods, expected=nb.fmt_int(expected), end=cal_end,
                        actual=nb.fmt_int(actual), error=nb.model_error(expected, actual))
            tiles.append({"label": "BG/BB holdout check", "value": nb.model_error(expected, actual),
                          "definition": nb.say("Expected against actual repeat purchases in the {n} {periods} the model"
                                               " had not seen (at most one per customer and {period}).",
                                               n=nb.fmt_int(bb.holdout_periods), periods=periods, period=period)})
        else:
            nb.note("No whole {period} lies between the calibration end and the end of the data, so BG/BB is not"
                    " checked on a holdout: set `period.calibration_end` to the last day of a {period} before the"
                    " last.", period=period)
        active = float((scored["p_alive"] >= p_alive_at_risk_below).mean())
        total = float(scored["expected_transactions"].sum())
        tiles += [
            {"label": "Likely still active (BG/BB)", "value": nb.fmt_pct(active),
             "definition": nb.say("Share of customers whose chance of still being a customer {following} is"
                                  " {threshold} or more.", following=following,
                                  threshold=nb.fmt_pct(p_alive_at_risk_below, 0))},
            {"label": "Expected purchases (BG/BB)", "value": nb.fmt_int(total),
             "definition": nb.say("From the {customers} customers in the next {n} {periods}, at most one per customer"
                                  " and {period}.", customers=nb.fmt_int(len(scored)),
                                  n=nb.fmt_int(bb.horizon_periods), periods=periods, period=period)},
        ]
        nb.show_tiles(tiles)
        nb.caption("On average a customer has a {mean} chance of still being a customer {following}, and is expected"
                   " to buy in {per} of the next {n} {periods}.", mean=nb.fmt_pct(float(scored["p_alive"].mean()), 0),
                   following=following, per=nb.fmt_num(total / len(scored), 2), n=nb.fmt_int(bb.horizon_periods),
                   periods=periods)
    counts = dict(multi=nb.fmt_int(bb.multi_purchase_periods), total=nb.fmt_int(bb.purchase_periods),
                  share=nb.fmt_pct(bb.multi_purchase_share), period=period)
    if bb.fits_discrete_view:
        nb.caption("Of the {total} times a customer bought in a {period}, {multi} ({share}) had purchases on more"
                   " than one day. BG/BB counts one purchase per {period}, so it loses little here.", **counts)
    else:
        nb.note("These data do not fit the one-chance-per-{period} view: of the {total} times a customer bought in a"
                " {period}, {multi} ({share}) had purchases on more than one day, and BG/BB counts those as one"
                " purchase. Its figures undercount the buying; the models on the rest of this page count every"
                " purchase day. Choose a longer period (`models.discrete.period`), or leave out `models.discrete`.",
                **counts)

def show_for_analysts(bb: DiscreteStage | None, observation_end: str) -> None:
    """The analysts' part: the parameters with their intervals (calibration and all data), and the holdout check
    by the number of calibration periods with a repeat purchase."""
    if bb is None or bb.customers is None:
        return
    nb.markdown("### BG/BB: fitted parameters and the holdout check")
    period, periods, following, cal_end = _words(bb)
    rows = []
    for fitted_on, fit in ((nb.say("calibration, up to {end}", end=cal_end), bb.fit),
                           (nb.say("all data, up to {end}", end=nb.fmt_date(observation_end)), bb.final)):
        if fit is not None:
            rows += [{"Fitted on": fitted_on, "Parameter": key, "Estimate": nb.fmt_num(value, 4),
                      "95% interval": f"{nb.fmt_num(fit.ci[key][0], 4)} - {nb.fmt_num(fit.ci[key][1], 4)}"}
                     for key, value in fit.params.items()]
    p = bb.final.params
    nb.show_table(pd.DataFrame(rows), "alpha and beta: how likely a customer is to buy in a {period} while still a"
                  " customer (on average alpha / (alpha + beta) = {buy}); gamma and delta: how likely to drop out at"
                  " the start of a {period} (on average gamma / (gamma + delta) = {drop}), on all data. Intervals from"
                  " the curvature of the log-likelihood at its maximum.", index=False, period=period,
                  buy=nb.fmt_pct(p["alpha"] / (p["alpha"] + p["beta"]), 0),
                  drop=nb.fmt_pct(p["gamma"] / (p["gamma"] + p["delta"]), 0))
    if bb.calibration is not None:
        table = bb.holdout_table()
        fig, ax = plotting.plt.subplots()
        plotting.plot_bgbb_holdout(table, ax=ax)
        nb.show_figure(fig)
        nb.caption("Customers grouped by the number of {periods} in which they bought again during the calibration;"
                   " bars compare the {periods} in which they bought in the holdout with what BG/BB expected.",
                   periods=periods)
        nb.show_table(nb.formatted(table, ints=("customers", "actual"), nums=("expected",),
                                   rename={"bin": "Periods with a repeat purchase in calibration",
                                           "customers": "Customers", "actual": "Actual holdout purchases",
                                           "expected": "Expected holdout purchases"}),
                      index=False)
    nb.caption("Each customer's BG/BB figures (chance of still being a customer {following}, expected purchases in the"
               " next {n} {periods}) are in artifacts/customers_02_bgbb.parquet.", following=following,
               n=nb.fmt_int(bb.horizon_periods), periods=periods)


def show_all(bb: DiscreteStage | None, p_alive_at_risk_below: float, observation_end: str) -> None:
    """Both parts, one after the other (page 02 without a purchase model)."""
    show(bb, p_alive_at_risk_below)
    show_for_analysts(bb, observation_end)
