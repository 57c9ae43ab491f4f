"""Dutch (``report.language: nl``): every text a reader of a Dutch report sees, in one catalogue.

The kit is written in English; this module holds the Dutch for it, keyed by the English:

- :data:`LABELS`: fixed labels, sentences and sentence templates. A template keeps the ``{fields}`` of its
  English key (:func:`analysis.reporting.i18n.say` fills them in after translating);
- :data:`PATTERNS`: labels with a variable part (chart titles and axis labels built by the library), as
  ``(regular expression, replacement)``;
- :data:`CELLS`: the Markdown cells of the report notebooks, keyed ``"<notebook>/<cell id>"``, each with the
  fingerprint of the English text it translates (:mod:`analysis.reporting.narrative`);
- :data:`CAMPAIGN_FORMULAS`: how the campaign figures are calculated;
- :data:`LOCALE` and :data:`CURRENCY`: how numbers and dates are written (Babel) and the default currency.

Adding a language is adding one module like this one and its line in :data:`analysis.reporting.i18n.CATALOGUES`;
``tests/test_i18n.py`` and ``tests/test_narrative.py`` say what it lacks.
"""

from __future__ import annotations

#: Babel locale of the numbers, dates and currency signs.
LOCALE = "nl_NL"
#: The currency when ``report.currency`` is empty.
CURRENCY = "EUR"

#: How the campaign figures are calculated (:data:`analysis.business.roi.FORMULA_TEXT`); ``{floor}``: the lowest
#: P(alive) counted.
CAMPAIGN_FORMULAS: str = (
    "Zo worden de campagnecijfers berekend, voor elke benaderde klant:\n"
    "- Kans dat de klant zonder campagne vertrekt = 1 - kans dat de klant nog klant is (P(actief)).\n"
    "- Waarde bij behoud = verwachte aankopen over de horizon voor een klant die blijft "
    "(de verwachte aankopen van het model gedeeld door P(actief)) "
    "x verwachte orderwaarde x brutomarge. Waarden van P(actief) onder "
    "{floor} tellen als {floor}, wat deze waarde alleen kan verlagen. "
    "Marges worden niet verdisconteerd.\n"
    "- Verwacht aantal klanten dat de campagne behoudt = effect x kans om te vertrekken, waarbij het effect "
    "het aandeel van de anders vertrekkende klanten is dat de campagne behoudt.\n"
    "- Extra marge = verwacht aantal behouden klanten x waarde bij behoud.\n"
    "- Verwachte kosten = kosten per contact + verwacht aantal behouden klanten x beloning "
    "(de beloning wordt alleen betaald aan klanten die de campagne behoudt).\n"
    "- Verwachte extra winst = extra marge - verwachte kosten.\n"
    "Voor een scenario wordt elk cijfer opgeteld over de benaderde klanten. "
    "Netto opbrengst = extra marge - totale kosten. ROI = netto opbrengst / totale kosten. "
    "Break-even-effect = het effect waarbij de netto opbrengst nul is, met dezelfde benaderde klanten: "
    "aantal benaderd x kosten per contact / de som over hen van "
    "(kans om te vertrekken x (waarde bij behoud - beloning)). "
    "Kosten per behouden klant = totale kosten / verwacht aantal behouden klanten."
)


LABELS: dict[str, str] = {
    # KPI tiles and summary page
    "Customers": "Klanten",
    "Active customers": "Actieve klanten",
    "Repeat purchase rate": "Aandeel herhaalkopers",
    "Retention rate": "Klantbehoud (retentie)",
    "Churn rate": "Churn (klantverloop)",
    "Revenue per customer": "Omzet per klant",
    "Average order value": "Gemiddelde orderwaarde",
    "Purchase frequency": "Aankoopfrequentie",
    "Revenue": "Omzet",
    "Total expected customer value": "Totale verwachte klantwaarde",
    "Average CLV": "Gemiddelde klantwaarde (CLV)",
    "High value, at risk": "Hoge waarde, dreigt te vertrekken",
    "Best campaign: net gain": "Beste campagne: netto opbrengst",
    "Highest net gain": "Hoogste netto opbrengst",
    "Customers likely to stay": "Klanten die waarschijnlijk blijven",
    "Model used": "Gebruikt model",
    "Left out: purchase days fully returned": "Weggelaten: aankoopdagen volledig geretourneerd",
    "Returns with no earlier purchase to net against (amount, not used)":
        "Retouren zonder eerdere aankoop om mee te verrekenen (bedrag, niet gebruikt)",
    "Customers whose first purchase is on the calibration end": "Klanten met hun eerste aankoop op de kalibratie-einddatum",
    "Customers whose first purchase is on the observation end": "Klanten met hun eerste aankoop op de einddatum",
    "Customers with at least one purchase in the data.": "Klanten met minstens één aankoop in de gegevens.",
    "Share of customers who bought on two or more days.": "Aandeel klanten dat op twee of meer dagen kocht.",
    "Total revenue / customers.": "Totale omzet / aantal klanten.",
    "Revenue / purchase days.": "Omzet / aantal aankoopdagen.",
    "Expected value per customer over the same horizon.": "Verwachte waarde per klant over dezelfde periode.",
    "Key figures": "Kerncijfers",
    "Findings": "Bevindingen",
    "Key charts": "Belangrijkste grafieken",
    "Click a chart to see it full size.": "Klik op een grafiek om hem groot te zien.",
    "Back to the summary": "Terug naar de samenvatting",
    "Detailed reports": "Detailrapporten",
    "About this run": "Over deze run",
    "Input file": "Invoerbestand",
    "rows": "rijen",
    "Data period": "Periode van de gegevens",
    "Model": "Model",
    "time unit": "tijdseenheid",
    "calibration to": "gekalibreerd tot",
    "Customer value": "Klantwaarde",
    "months": "maanden",
    "gross margin": "brutomarge",
    "annual discount rate": "jaarlijkse disconteringsvoet",
    "Configuration": "Configuratie",
    "Ran": "Uitgevoerd",
    "Code version": "Codeversie",
    "with uncommitted changes": "met niet-vastgelegde wijzigingen",
    "Data up to": "Gegevens tot en met",
    "from": "vanaf",
    "model checked on": "model getoetst op",
    "Data and kpis": "Gegevens en kerncijfers",
    "Data and KPIs": "Gegevens en kerncijfers",
    "Customer value models": "Klantwaardemodellen",
    "Retention campaigns and ROI": "Klantbehoudcampagnes en rendement",
    "Measured campaigns": "Gemeten campagnes",
    "Clv models": "Klantwaardemodellen",
    "Segments": "Segmenten",
    "Retention roi": "Rendement van klantbehoud",
    "Campaigns": "Gemeten campagnes",
    "Measured campaigns (CSV)": "Gemeten campagnes (CSV)",
    "High-value customers at risk (CSV, for the CRM)": "Waardevolle klanten die dreigen te vertrekken (CSV, voor het CRM)",
    "Segment profiles (CSV)": "Segmentprofielen (CSV)",
    "Campaign scenarios (CSV)": "Campagnescenario's (CSV)",
    "Headline KPIs (JSON)": "Kerncijfers (JSON)",
    "Customers who bought in each period; the light part are first-time buyers.":
        "Klanten die in elke periode kochten; het lichte deel zijn nieuwe klanten.",
    "The model's expected repeat purchases against what happened, including a period it had not seen.":
        "Verwachte herhaalaankopen volgens het model tegenover de werkelijkheid, inclusief een periode die het model niet kende.",
    "Customers and their expected value by value tier and risk of being lost.":
        "Klanten en hun verwachte waarde naar waardeklasse en risico op vertrek.",
    "Expected net gain and ROI of each retention campaign scenario.":
        "Verwachte netto opbrengst en ROI van elk scenario voor een klantbehoudcampagne.",
    # segments
    "Champions": "Kampioenen",
    "Loyal": "Loyaal",
    "Potential loyalists": "Potentieel loyaal",
    "New": "Nieuw",
    "Promising": "Veelbelovend",
    "Need attention": "Aandacht nodig",
    "About to sleep": "Dreigt in te slapen",
    "At risk": "Risico op vertrek",
    "Can't lose them": "Niet kwijtraken",
    "Hibernating": "Slapend",
    "Lost": "Verloren",
    "High value, likely to stay": "Hoge waarde, blijft waarschijnlijk",
    "Medium value, likely to stay": "Middelhoge waarde, blijft waarschijnlijk",
    "Medium value, at risk": "Middelhoge waarde, dreigt te vertrekken",
    "Low value, likely to stay": "Lage waarde, blijft waarschijnlijk",
    "Low value, at risk": "Lage waarde, dreigt te vertrekken",
    "High value": "Hoge waarde",
    "Medium value": "Middelhoge waarde",
    "Low value": "Lage waarde",
    "likely to stay": "blijft waarschijnlijk",
    "at risk": "dreigt te vertrekken",
    "Reward": "Belonen",
    "Protect (win back)": "Beschermen (terugwinnen)",
    "Develop": "Ontwikkelen",
    "Re-activate (low-cost offer)": "Heractiveren (goedkoop aanbod)",
    "Maintain (low-cost service)": "Onderhouden (goedkope service)",
    "Let go": "Loslaten",
    # chart labels
    "new customers": "nieuwe klanten",
    "returning customers": "terugkerende klanten",
    "period": "periode",
    "customers (count)": "klanten (aantal)",
    "retention rate": "klantbehoud",
    "churn rate": "churn",
    "share of last period's buyers (%)": "aandeel kopers van de vorige periode (%)",
    "months since first purchase": "maanden sinds eerste aankoop",
    "month of first purchase (cohort)": "maand van eerste aankoop (cohort)",
    "customers of the cohort who bought (%)": "klanten uit het cohort die kochten (%)",
    "Cohort retention: share of each month's new customers buying again":
        "Cohortbehoud: aandeel nieuwe klanten van elke maand dat opnieuw koopt",
    "share of customers": "aandeel klanten",
    "share of expected value (CLV)": "aandeel verwachte klantwaarde (CLV)",
    "share of total (%)": "aandeel van het totaal (%)",
    "RFM segment": "RFM-segment",
    "ABC class": "ABC-klasse",
    "CLV tier": "CLV-klasse",
    "value and risk segment": "waarde- en risicosegment",
    "P(alive) band": "P(actief)-klasse",
    "CLV tier (share of customers)": "CLV-klasse (aandeel klanten)",
    "Customers per RFM segment": "Klanten per RFM-segment",
    "Scenario": "Scenario",
    "Retention scenarios: expected net gain and ROI": "Scenario's voor klantbehoud: verwachte netto opbrengst en ROI",
    "Uplift\n(% of would-be-lost customers kept)": "Effect\n(% behouden van klanten die anders vertrekken)",
    "Expected net gain ({symbol})\nred loses, green gains": "Verwachte netto opbrengst ({symbol})\nrood verlies, groen winst",
    "Net gain by uplift and cost per contact: {name}": "Netto opbrengst naar effect en kosten per contact: {name}",
    "Net gain by uplift and cost per contact": "Netto opbrengst naar effect en kosten per contact",
    "Break-even (net gain = 0)": "Break-even (netto opbrengst = 0)",
    "Break-even: between losing and gaining cells": "Break-evenpunt: tussen verlieslatende en winstgevende cellen",
    "Customers contacted (best expected incremental profit first)":
        "Benaderde klanten (hoogste verwachte extra winst eerst)",
    "How many customers to contact": "Hoeveel klanten benaderen",
    "actual": "werkelijk",
    "expected": "verwacht",
    "calibration end": "einde kalibratie",
    # page 02: the holdout check
    "Holdout check": "Controle op onbekende periode",
    "The model's total of repeat purchases in the period it did not see, against what happened.":
        "Het totaal aan herhaalaankopen volgens het model in de periode die het niet kende, tegenover de werkelijkheid.",
    "Model against actual": "Model tegenover werkelijkheid",
    # page 05: measured campaigns (analysis.business.campaigns)
    "Uplift in buyers": "Extra kopers (effect)",
    "Incremental customers": "Extra behouden klanten",
    "Incremental margin": "Extra marge",
    "Total cost": "Totale kosten",
    "Measured ROI": "Gemeten ROI",
    "Treated (contacted) / control (not contacted).": "Behandeld (benaderd) / controle (niet benaderd).",
    "Share of treated who bought minus share of control who bought, in points.":
        "Aandeel kopers in de behandelde groep min aandeel kopers in de controlegroep, in procentpunten.",
    "Treated customers who bought because of the campaign: uplift x treated.":
        "Behandelde klanten die door de campagne kochten: effect x behandelde klanten.",
    "Margin per treated customer minus per control customer, x treated.":
        "Marge per behandelde klant min per klant in de controlegroep, x behandelde klanten.",
    "Treated x cost per contact + redemptions x incentive.":
        "Behandelde klanten x kosten per contact + verzilveringen x kosten van de beloning.",
    "(Incremental margin - total cost) / total cost.": "(Extra marge - totale kosten) / totale kosten.",
    "Figure": "Cijfer",
    "Treated": "Behandeld",
    "Control": "Controle",
    "Treated (contacted)": "Behandeld (benaderd)",
    "Control (not contacted)": "Controle (niet benaderd)",
    "Bought in the window": "Kocht in de meetperiode",
    "Margin per customer": "Marge per klant",
    "Cost per incremental customer": "Kosten per extra behouden klant",
    "n/a (no incremental customers measured)": "n.v.t. (geen extra behouden klanten gemeten)",
    "Before the start": "Voor de start",
    "Treated (mean)": "Behandeld (gemiddelde)",
    "Control (mean)": "Controle (gemiddelde)",
    "Difference (standard deviations)": "Verschil (standaarddeviaties)",
    "Verdict": "Oordeel",
    "alike": "gelijk",
    "differs": "verschilt",
    "Days since last purchase": "Dagen sinds laatste aankoop",
    "Purchases before the start": "Aankopen voor de start",
    "Revenue before the start": "Omzet voor de start",
    "CLV (scored before the start)": "CLV (berekend voor de start)",
    "P(alive) (scored before the start)": "P(actief) (berekend voor de start)",
    "Campaign": "Campagne",
    "Segment": "Segment",
    "Uplift (95% interval)": "Effect (95%-interval)",
    "too few customers": "te weinig klanten",
    "(not scored)": "(geen score)",
    "Group (1 = highest predicted gain)": "Groep (1 = hoogste voorspelde opbrengst)",
    "Uplift assumed": "Aangenomen effect",
    "Difference in buyers": "Verschil in kopers",
    "Customers per group": "Klanten per groep",
    "Highest predicted gain first": "Hoogste voorspelde opbrengst eerst",
    "Random choice": "Willekeurige keuze",
    "Share of the listed customers reached, highest predicted gain first":
        "Aandeel bereikte klanten van de lijst, hoogste voorspelde opbrengst eerst",
    "Incremental buyers": "Extra kopers",
    # pages 01-03: tile definitions and table headers
    'Purchase days per customer over the whole period.': 'Aankoopdagen per klant over de hele periode.',
    'Of the models in which a silent customer becomes less likely to be still a customer, the one with the smallest holdout error.': 'Van de modellen waarin een stille klant minder waarschijnlijk nog klant is, het model met de kleinste fout in de toetsperiode.',
    'Chosen in the run configuration.': 'Gekozen in de runconfiguratie.',
    'MAE per customer': 'MAE per klant',
    'RMSE per customer': 'RMSE per klant',
    'Repeat purchases in calibration': 'Herhaalaankopen in de kalibratie',
    'Actual holdout repeats': 'Werkelijke herhaalaankopen (toets)',
    'Expected holdout repeats': 'Verwachte herhaalaankopen (toets)',
    'Their expected value': 'Hun verwachte waarde',
    'Value x risk, RFM, ABC by revenue and CLV tiers.': 'Waarde x risico, RFM, ABC naar omzet en CLV-klassen.',
    'Share of customers': 'Aandeel klanten',
    'Share of revenue': 'Aandeel omzet',
    'Share of expected value': 'Aandeel verwachte waarde',
    'Customer (pseudonym)': 'Klant (pseudoniem)',
    # page 04: table headers and tiles
    'Who is contacted': 'Wie wordt benaderd',
    'Cost per contact': 'Kosten per contact',
    'Incentive per retained customer': 'Beloning per behouden klant',
    'Uplift': 'Effect',
    'Where the uplift comes from': 'Waar het effect vandaan komt',
    'Gross margin': 'Brutomarge',
    'Horizon': 'Horizon',
    'a guess in the run configuration': 'een schatting in de runconfiguratie',
    'Net gain': 'Netto opbrengst',
    'Incremental margin minus total cost.': 'Extra marge min totale kosten.',
    '(Incremental margin - cost) / cost.': '(Extra marge - kosten) / kosten.',
    'Customers retained': 'Behouden klanten',
    'Expected customers kept thanks to the campaign.': 'Verwacht aantal klanten dat dankzij de campagne blijft.',
    'Cost per retained customer': 'Kosten per behouden klant',
    'Total cost / customers retained.': 'Totale kosten / behouden klanten.',
    'Break-even uplift': 'Break-even-effect',
    'Below this uplift the campaign loses money.': 'Onder dit effect verliest de campagne geld.',
    'Customers contacted': 'Benaderde klanten',
    # captions, notes and table captions of the pages (fixed text; analysis.reporting.nb translates them)
    'Rows are left out only for the reasons listed; the input file itself is never changed.':
        'Rijen worden alleen weggelaten om de genoemde redenen; het invoerbestand zelf wordt nooit gewijzigd.',
    'Each bar is the number of customers who bought in that period; the light part are first-time buyers. A shrinking dark part means fewer customers come back.':
        'Elke staaf is het aantal klanten dat in die periode kocht; het lichte deel zijn nieuwe klanten. Een krimpend donker deel betekent dat minder klanten terugkomen.',
    'Retention rate: of the customers who bought in one period, the share who bought again in the next. Churn rate is the rest. Higher green and lower red is better.':
        'Klantbehoud: van de klanten die in een periode kochten, het aandeel dat in de volgende opnieuw kocht. Churn is de rest. Hoger groen en lager rood is beter.',
    "Read along a row: how a cohort's buying fades month by month. Compare rows to see whether newer cohorts come back more or less often than older ones. Month 0 is always 100%.":
        'Lees langs een rij: hoe het kopen van een cohort maand na maand afneemt. Vergelijk rijen om te zien of nieuwere cohorten vaker of minder vaak terugkomen dan oudere. Maand 0 is altijd 100%.',
    'Repeat purchases added up over time: the dashed line is the model, the solid line is what happened. After the dotted line the model had not seen the data.':
        'Herhaalaankopen opgeteld door de tijd: de gestreepte lijn is het model, de doorgetrokken lijn is wat er gebeurde. Na de gestippelde lijn kende het model de gegevens niet.',
    'Customers who bought often and recently (top right) are expected to buy most. Frequent buyers who have not bought for a long time (top left) have probably dropped out.':
        'Klanten die vaak en recent kochten (rechtsboven) kopen naar verwachting het meest. Frequente kopers die lang niet kochten (linksboven) zijn waarschijnlijk afgehaakt.',
    'The longer a frequent buyer has been silent, the less likely they are still a customer. Blank cells are impossible combinations.':
        'Hoe langer een frequente koper stil is, hoe kleiner de kans dat die nog klant is. Lege cellen zijn onmogelijke combinaties.',
    'Distribution of CLV over customers.':
        'Verdeling van de klantwaarde (CLV) over de klanten.',
    'MAE and RMSE: average error per customer in the number of holdout repeat purchases.':
        'MAE en RMSE: gemiddelde fout per klant in het aantal herhaalaankopen in de toetsperiode.',
    'Customers grouped by how many repeat purchases they made in the calibration period; bars compare their actual and expected repeat purchases in the holdout period.':
        'Klanten gegroepeerd naar het aantal herhaalaankopen in de kalibratieperiode; de staven vergelijken hun werkelijke en verwachte herhaalaankopen in de toetsperiode.',
    "The segments need each customer's expected value and chance of still being a customer, and the purchase model could not be fitted on these data (see the model page), so there are no segments in this report.":
        'De segmenten hebben van elke klant de verwachte waarde en de kans dat die nog klant is nodig, en het aankoopmodel kon op deze gegevens niet worden geschat (zie de modelpagina); dit rapport heeft daarom geen segmenten.',
    'Each cell shows how many customers it holds and their expected value. The top-right cell (high value, at risk) is the campaign list, exported as at_risk_high_value.csv.':
        'Elke cel toont hoeveel klanten erin zitten en hun verwachte waarde. De cel rechtsboven (hoge waarde, dreigt te vertrekken) is de campagnelijst, geëxporteerd als at_risk_high_value.csv.',
    'The action for each value x risk segment (set in the run configuration).':
        'De actie voor elk waarde- en risicosegment (ingesteld in de runconfiguratie).',
    'The ten most valuable customers at risk. Customers are shown as pseudonyms (c_...), not by their customer number; the analyst can look them up. The full list is at_risk_high_value.csv.':
        'De tien waardevolste klanten die dreigen te vertrekken. Klanten staan er met een pseudoniem (c_...), niet met hun klantnummer; de analist kan ze opzoeken. De volledige lijst is at_risk_high_value.csv.',
    'Compare the share of customers with the share of expected value: a segment whose value bar is much longer than its customer bar is worth more attention per customer.':
        'Vergelijk het aandeel klanten met het aandeel verwachte waarde: een segment met een veel langere waardestaaf dan klantenstaaf verdient per klant meer aandacht.',
    'Number of customers in each RFM segment. Segments are ordered from best to worst.':
        'Aantal klanten per RFM-segment. De segmenten staan van best naar slechtst.',
    'A small share of customers brings most of the revenue; the chart shows how concentrated it is.':
        'Een klein deel van de klanten brengt het grootste deel van de omzet op; de grafiek toont hoe geconcentreerd die is.',
    '## Customer satisfaction (survey)\n\nNet Promoter Score (NPS) = % promoters (scores 9-10) minus % detractors (0-6), from -100 to +100. CSAT = share of customers scoring 4 or 5 on a 1-5 scale.':
        '## Klanttevredenheid (enquête)\n\nNet Promoter Score (NPS) = % promotors (scores 9-10) min % criticasters (0-6), van -100 tot +100. CSAT = aandeel klanten dat 4 of 5 geeft op een schaal van 1 tot 5.',
    "Responses from customer ids that are not in the transaction data are counted as 'Unknown customer'.":
        "Antwoorden van klantnummers die niet in de transactiegegevens staan, tellen als 'Onbekende klant'.",
    'Do promoters stay more often than detractors? Compare the average P(alive) of the groups.':
        'Blijven promotors vaker dan criticasters? Vergelijk de gemiddelde P(actief) van de groepen.',
    "The campaign figures need each customer's expected value and chance of still being a customer, and the purchase model could not be fitted on these data (see the model page), so no scenario is evaluated in this report.":
        "De campagnecijfers hebben van elke klant de verwachte waarde en de kans dat die nog klant is nodig, en het aankoopmodel kon op deze gegevens niet worden geschat (zie de modelpagina); dit rapport berekent daarom geen scenario's.",
    'The scenarios as set in the run configuration (section roi:).':
        "De scenario's zoals ingesteld in de runconfiguratie (onderdeel roi:).",
    'Expected net gain of each scenario, with its return on investment. Bars below zero lose money.':
        'Verwachte netto opbrengst van elk scenario, met het rendement (ROI). Staven onder nul kosten geld.',
    'All figures are expectations over the horizon; the contact lists are exported as targets_<scenario>.csv.':
        'Alle cijfers zijn verwachtingen over de horizon; de contactlijsten worden geëxporteerd als targets_<scenario>.csv.',
    'No campaign with a control group has been measured in this report. (For the analyst: add a `campaigns:` section to the run configuration with the contact list, its customer id and group (`treatment` or `control`), the start date, the window and the costs; see `params/default.yaml`.)':
        'In dit rapport is geen campagne met een controlegroep gemeten. (Voor de analist: voeg aan de runconfiguratie een onderdeel `campaigns:` toe met de contactlijst, het klantnummer en de groep (`treatment` of `control`), de startdatum, de meetperiode en de kosten; zie `params/default.yaml`.)',
    "Simulated campaign: the contact list was drawn at random from the customers by the kit's simulator (analysis.business.campaigns.simulate_contact_list) and nobody was contacted, so its true effect is zero. It shows what this page looks like, and what it says when a campaign did nothing; it is not a result.":
        'Gesimuleerde campagne: de contactlijst is willekeurig uit de klanten getrokken door de simulator van de kit (analysis.business.campaigns.simulate_contact_list) en niemand is benaderd, dus het ware effect is nul. Ze laat zien hoe deze pagina eruitziet en wat ze zegt als een campagne niets deed; het is geen uitkomst.',
    'Bars: share of each group who bought in the window; lines: the 95% interval.':
        'Staven: aandeel van elke groep dat in de meetperiode kocht; lijnen: het 95%-interval.',
    'Per customer, in the window, with 95% intervals.':
        'Per klant, in de meetperiode, met 95%-intervallen.',
    'Segments as the customers stood the day before the start.':
        'Segmenten zoals de klanten er de dag vóór de start voor stonden.',
    'No segment breakdown: the purchase model could not be fitted on these data, so customers have no segment.':
        'Geen uitsplitsing per segment: het aankoopmodel kon op deze gegevens niet worden geschat, dus klanten hebben geen segment.',
    'No targeting check: the purchase model could not be fitted on these data, so customers have no predicted gain.':
        'Geen controle van de selectie: het aankoopmodel kon op deze gegevens niet worden geschat, dus klanten hebben geen voorspelde opbrengst.',
    'No campaign was measured, so there is no base rate to plan the next test from.':
        'Er is geen campagne gemeten, dus er is geen basispercentage om de volgende test mee te plannen.',
    # since the last report (analysis.runs.history)
    "Key figures across reports": "Kerncijfers per rapport",
    "report date (data up to)": "rapportdatum (gegevens tot en met)",
    # reports/index.html (analysis.runs.series)
    "all reports": "alle rapporten",
    "Every published report in this folder, newest first.": "Alle gepubliceerde rapporten in deze map, nieuwste eerst.",
    "Latest report": "Nieuwste rapport",
    "Reports": "Rapporten",
    "Compared with": "Vergeleken met",
    "Trend across the reports": "Verloop over de rapporten",
    "The trend across the reports is charted from the second report on.":
        "Het verloop over de rapporten wordt vanaf het tweede rapport in een grafiek getoond.",
    "Retention rate, churn rate, active customers and total expected customer value in each report.":
        "Klantbehoud, klantverloop, actieve klanten en totale verwachte klantwaarde in elk rapport.",
    "Updated": "Bijgewerkt",
    "A run that fails is not listed and does not change this page.":
        "Een mislukte run wordt niet vermeld en verandert deze pagina niet.",
    "Discounted margin expected from today's customers in the next {months} months; {level} band {band}.":
        "Verdisconteerde marge die de huidige klanten in de komende {months} maanden naar verwachting opleveren;"
        " {level}-band {band}.",
    "Revenue per customer per month": "Omzet per klant per maand",
    "Revenue per customer per quarter": "Omzet per klant per kwartaal",
    "Revenue per customer per period": "Omzet per klant per periode",
    # ------------------------------------------------------------------------------------------------
    # Sentences with figures (i18n.say, nb.say, and nb.caption/note/markdown with values): the English
    # template is the key, the Dutch one has the same {fields}. tests/test_i18n.py finds every template
    # in the code and the notebooks and fails when one is missing here or its fields differ.
    "Bought in the last {days} days ({share} of all customers).":
        "Kocht in de laatste {days} dagen ({share} van alle klanten).",
    "Of the {base} customers who bought in {before}, the share who bought again in {latest}.":
        "Van de {base} klanten die in {before} kochten, het aandeel dat in {latest} opnieuw kocht.",
    "Of the {base} customers who bought in {before}, the share who did not buy in {latest}; some come back later"
    " (the cohort chart follows them).":
        "Van de {base} klanten die in {before} kochten, het aandeel dat in {latest} niet kocht; een deel komt later"
        " terug (de cohortgrafiek volgt ze).",
    "Revenue in {latest} / the {n} customers who bought in it.":
        "Omzet in {latest} / de {n} klanten die toen kochten.",
    '{customers} customers bought at least once; {active} of them bought in the last {days} days, and'
    ' {repeat} came back for a second purchase.':
        '{customers} klanten kochten minstens één keer; {active} van hen kocht in de laatste {days} '
        'dagen, en {repeat} kwam terug voor een tweede aankoop.',
    'Over the next {months} months the customers are expected to bring {total} in margin (between '
    '{low} and {high}); the top 10% of customers hold {top} of that value.':
        'In de komende {months} maanden brengen de klanten naar verwachting {total} aan marge op '
        '(tussen {low} en {high}); de beste 10% van de klanten heeft {top} van die klantwaarde.',
    'No purchase model could be fitted on these data, so there are no customer values, segments by '
    'value or campaign figures in this report; the model page says why.':
        'Op deze gegevens kon geen aankoopmodel worden geschat, dus dit rapport bevat geen '
        'klantwaarden, waardesegmenten of campagnecijfers; de modelpagina legt uit waarom.',
    'The model was checked on a period it had not seen: it expected {expected} repeat purchases and '
    '{actual} happened ({error}).':
        'Het model is getoetst op een periode die het niet kende: het verwachtte {expected} '
        'herhaalaankopen en er waren er {actual} ({error}).',
    '{n} high-value customers are at risk of being lost, together worth {value}: they are the list '
    'for a retention campaign.':
        '{n} klanten met een hoge waarde dreigen te vertrekken, samen goed voor {value}: zij vormen '
        'de lijst voor een klantbehoudcampagne.',
    'One high-value customer is at risk of being lost, worth {value}: the list for a retention campaign has '
    'this one customer.':
        'Eén klant met een hoge waarde dreigt te vertrekken, goed voor {value}: de lijst voor een '
        'klantbehoudcampagne heeft deze ene klant.',
    'Of the campaign scenarios, {name} brings the highest net gain and pays for itself: expected net '
    'gain {gain} (ROI {roi}), if the assumed uplift of {uplift} holds; it breaks even at an uplift of'
    ' {breakeven}.':
        "Van de campagnescenario's levert {name} de hoogste netto opbrengst en verdient zichzelf "
        'terug: verwachte netto opbrengst {gain} (ROI {roi}), als het aangenomen effect van {uplift} '
        'klopt; het break-evenpunt ligt bij een effect van {breakeven}.',
    'None of the campaign scenarios pays for itself; the one with the highest net gain, {name}, has '
    'an expected net gain of {gain} (ROI {roi}) at an assumed uplift of {uplift}; it would break even'
    ' at an uplift of {breakeven}.':
        "Geen van de campagnescenario's verdient zichzelf terug; dat met de hoogste netto opbrengst, "
        '{name}, heeft een verwachte netto opbrengst van {gain} (ROI {roi}) bij een aangenomen effect'
        ' van {uplift}; het break-evenpunt ligt bij een effect van {breakeven}.',
    'The model was tested on the period from {start} to {end}, which it had not seen: it expected '
    '{expected} repeat purchases and {actual} happened ({error}).':
        'Het model is getoetst op de periode van {start} tot en met {end}, die het niet kende: het '
        'verwachtte {expected} herhaalaankopen en er waren er {actual} ({error}).',
    '**The purchase forecasts are close to what happened**: the total number of repeat purchases is '
    "within a tenth of it. Read each customer's figures as estimates and the totals as sound. (This "
    'checks how often customers buy, not what they spend; and the model was chosen on this same '
    'period, so the check flatters it a little.)':
        '**De voorspelde aankopen liggen dicht bij de werkelijkheid**: het totale aantal '
        'herhaalaankopen zit binnen een tiende ervan. Lees de cijfers per klant als schattingen en de'
        ' totalen als degelijk. (Dit toetst hoe vaak klanten kopen, niet wat ze besteden; en het '
        'model is op deze zelfde periode gekozen, dus de toets valt iets gunstig uit.)',
    '**Use the purchase forecasts with care**: the total number of repeat purchases is off by more '
    'than a tenth (but less than a quarter). The amounts below are rough.':
        '**Gebruik de voorspelde aankopen met voorzichtigheid**: het totale aantal herhaalaankopen '
        'wijkt meer dan een tiende af (maar minder dan een kwart). De bedragen hieronder zijn grof.',
    '**The purchase forecasts are far from what happened on these data**: the total number of repeat '
    'purchases is off by more than a quarter. Do not plan campaigns on the amounts below; ask the '
    'analyst to look at the model check at the end of this page.':
        '**De voorspelde aankopen liggen op deze gegevens ver van de werkelijkheid**: het totale '
        'aantal herhaalaankopen wijkt meer dan een kwart af. Plan geen campagnes op de bedragen '
        'hieronder; vraag de analist naar de modelcontrole onderaan deze pagina.',
    'Total amount of the transactions used, {first} to {last}.':
        'Totaalbedrag van de gebruikte transacties, {first} tot en met {last}.',
    'Total revenue per period in {currency}, all customers together.':
        'Totale omzet per periode in {currency}, alle klanten samen.',
    "Read along a row: how a cohort's buying fades month by month. Compare rows to see whether newer "
    'cohorts come back more or less often than older ones. Month 0 is always 100%. A cell counts the '
    'whole cohort, long gone customers too; the retention rate above counts only the previous '
    "period's buyers, so it is much higher.":
        'Lees langs een rij: hoe het kopen van een cohort maand na maand afneemt. Vergelijk rijen om '
        'te zien of nieuwere cohorten vaker of minder vaak terugkomen dan oudere. Maand 0 is altijd '
        '100%. Een cel telt het hele cohort, ook klanten die al lang weg zijn; het klantbehoud '
        'hierboven telt alleen de kopers van de vorige periode en ligt daarom veel hoger.',
    'Item':
        'Onderdeel',
    'Value':
        'Waarde',
    'Rows read':
        'Gelezen rijen',
    'Rows used':
        'Gebruikte rijen',
    'Exact duplicate rows':
        'Exact dubbele rijen',
    'Returns (negative amounts)':
        'Retouren (negatieve bedragen)',
    'Zero amounts':
        'Nulbedragen',
    'Purchase days (same-day lines combined)':
        'Aankoopdagen (regels van dezelfde dag samengevoegd)',
    'First transaction':
        'Eerste transactie',
    'Last transaction used':
        'Laatste gebruikte transactie',
    'Observation end':
        'Einddatum',
    '{n} (policy: {policy})':
        '{n} (werkwijze: {policy})',
    'keep':
        'behouden',
    'drop':
        'weglaten',
    'net':
        'verrekenen',
    'error':
        'fout melden',
    '{n} (not in the calibration model fit, which cannot learn from them yet; still scored)':
        '{n} (niet in de schatting van het kalibratiemodel, dat nog niets van hen kan leren; wel gescoord)',
    '{n} (not in the whole-period model fit, which cannot learn from them yet; still scored)':
        '{n} (niet in de schatting van het model over de hele periode, dat nog niets van hen kan '
        'leren; wel gescoord)',
    'Left out: {reason}':
        'Weggelaten: {reason}',
    'duplicate rows':
        'dubbele rijen',
    'after the observation end':
        'na de einddatum',
    'purchase days fully returned':
        'aankoopdagen volledig geretourneerd',
    'returns (negative amounts)':
        'retouren (negatieve bedragen)',
    'zero amounts':
        'nulbedragen',
    'Discounted margin over the next {months} months; {level} band {low} to {high}.':
        'Verdisconteerde marge over de komende {months} maanden; {level}-band {low} tot {high}.',
    'Share of customers whose chance of still being a customer, P(alive), is {threshold} or more (the'
    " rest are 'at risk'). Not the same as 'active' customers, who bought in the last {days} days.":
        'Aandeel klanten van wie de kans dat ze nog klant zijn, P(actief), {threshold} of meer is (de'
        " rest 'dreigt te vertrekken'). Niet hetzelfde als 'actieve' klanten, die in de laatste "
        '{days} dagen kochten.',
    'CLV is the **expected margin a customer brings over the next {months} months**, discounted at '
    '{rate} a year: expected purchases month by month (from the {model} model refitted on all data up'
    ' to {end}) x expected order value (Gamma-Gamma) x gross margin ({margin}). **Uncertainty:** the '
    "low/high band ({level}) shows how far the value could be off because the model's parameters are"
    ' estimated from a limited history (for analysts: {method}, with {draws} draws).':
        'CLV is de **verwachte marge die een klant in de komende {months} maanden oplevert**, '
        'verdisconteerd tegen {rate} per jaar: verwachte aankopen per maand (uit het {model}-model, '
        'opnieuw geschat op alle gegevens tot en met {end}) x verwachte orderwaarde (Gamma-Gamma) x '
        'brutomarge ({margin}). **Onzekerheid:** de lage/hoge band ({level}) laat zien hoeveel de waarde'
        ' kan afwijken doordat de parameters van het model uit een beperkte geschiedenis zijn geschat (voor'
        ' analisten: {method}, met {draws} trekkingen).',
    'simulation from the asymptotic normal distribution of the parameter estimates (Krinsky–Robb), '
    'equivalent in spirit to the delta method':
        'simulatie uit de asymptotisch normale verdeling van de parameterschattingen (Krinsky–Robb), '
        'in wezen gelijk aan de deltamethode',
    'The top 10% of customers hold {top10} of the total expected value, the top 20% hold {top20}.':
        'De beste 10% van de klanten heeft {top10} van de totale verwachte waarde, de beste 20% heeft {top20}.',
    'Time unit: {unit}. Intervals from the curvature of the log-likelihood at its maximum.':
        'Tijdseenheid: {unit}. Intervallen uit de kromming van de log-likelihood in het maximum.',
    'Without a horizon: if every customer keeps buying as the model expects for as long as they remain a '
    'customer, the discounted margin adds up to {total}, against {horizon} over the next {months} months (for '
    'analysts: discounted expected residual transactions, DERT; Fader, Hardie & Lee 2005). The further ahead, '
    "the more this rests on the model's assumptions.":
        'Zonder horizon: als elke klant blijft kopen zoals het model verwacht, zolang hij klant blijft, komt de '
        'verdisconteerde marge uit op {total}, tegenover {horizon} in de komende {months} maanden (voor '
        'analisten: verdisconteerde verwachte resterende aankopen, DERT; Fader, Hardie & Lee 2005). Hoe verder '
        'vooruit, hoe meer dit op de aannames van het model steunt.',
    'In **GGompertz/NBD** dropping out can also happen at any moment, and how likely it is changes with how '
    'long someone has been a customer (a Gompertz lifetime).':
        'In **GGompertz/NBD** kan een klant ook op elk moment afhaken, en hoe waarschijnlijk dat is, verandert '
        'naarmate iemand langer klant is (een Gompertz-levensduur).',
    '### What drives buying and dropping out': '### Wat kopen en afhaken bepaalt',
    'Characteristic': 'Kenmerk',
    'Pace of buying': 'Koopritme',
    '95% interval (buying)': '95%-interval (kopen)',
    'Pace of dropping out': 'Afhaakritme',
    '95% interval (dropping out)': '95%-interval (afhaken)',
    'The effects of the customer characteristics could not be estimated ({reason}).':
        'De invloed van de klantkenmerken kon niet worden geschat ({reason}).',
    'the Spark engine does not estimate them yet; use engine: duckdb':
        'de Spark-engine schat die nog niet; gebruik engine: duckdb',
    "Each number multiplies a customer's pace of buying, or of dropping out, for one unit more of the "
    'characteristic (a text value: with it, against the most common value), the other characteristics equal. '
    'An interval that contains x1.00 cannot be told apart from no effect. Estimated with Pareto/NBD on all data '
    'up to {end} ({customers} customers).':
        'Elk getal vermenigvuldigt het koopritme, of het afhaakritme, van een klant voor één eenheid meer van het '
        'kenmerk (een tekstwaarde: met die waarde, tegenover de meest voorkomende), bij gelijke andere kenmerken. '
        'Een interval waar x1,00 in ligt, is niet te onderscheiden van geen invloed. Geschat met Pareto/NBD op alle '
        'gegevens tot {end} ({customers} klanten).',
    '## Segments by customer characteristic': '## Segmenten per klantkenmerk',
    '## Segments by {name}': '## Segmenten naar {name}',
    'Likely to stay': 'Blijft waarschijnlijk',
    'Customers by {name} (from the file of customer characteristics): their expected value, the share likely to '
    'stay, and how many are on the list of valuable customers at risk.':
        'Klanten per {name} (uit het bestand met klantkenmerken): hun verwachte waarde, het deel dat waarschijnlijk '
        'blijft, en hoeveel er op de lijst van waardevolle klanten staan die dreigen te vertrekken.',
    '## Whom the campaign reaches, by customer characteristic': '## Wie de campagne bereikt, per klantkenmerk',
    'Contacted': 'Benaderd',
    'Share contacted': 'Deel benaderd',
    'Expected net gain': 'Verwachte netto opbrengst',
    "{scenario}, the scenario with the highest net gain, by {name} (from the file of customer characteristics): "
    "how many customers of each group it contacts, and the expected net gain from them. The groups' gains add up "
    "to the scenario's, if its assumed uplift holds in every group.":
        '{scenario}, het scenario met de hoogste netto opbrengst, per {name} (uit het bestand met klantkenmerken): '
        'hoeveel klanten van elke groep het benadert, en de verwachte netto opbrengst van hen. Samen vormen de '
        'groepen de opbrengst van het scenario, als het aangenomen effect in elke groep geldt.',
    '{model} is left out of the comparison: {reason}.':
        '{model} doet niet mee in de vergelijking: {reason}.',
    "its fit runs to b = 0, where it is the Pareto/NBD model: in these data the risk of dropping out does not "
    "grow with a customer's age, so Pareto/NBD describes them as well":
        'de schatting loopt naar b = 0, waar het model gelijk is aan Pareto/NBD: in deze gegevens wordt de kans '
        'dat een klant afhaakt niet groter naarmate hij langer klant is, dus Pareto/NBD beschrijft ze even goed',
    '{model} could not be identified from these data, even with a small penalty, and is left out of '
    'the comparison ({reason}).':
        '{model} kon uit deze gegevens niet worden bepaald, ook niet met een kleine straf, en doet '
        'niet mee in de vergelijking ({reason}).',
    'Repeat purchases per {unit}. The model follows the trend, not swings such as holidays. A {unit} '
    'cut short (at the calibration end or the end of the data) is scaled to a whole one and drawn as '
    'an open circle.':
        'Herhaalaankopen per {unit}. Het model volgt de trend, niet schommelingen zoals feestdagen. '
        'Een afgebroken {unit} (bij het einde van de kalibratie of van de gegevens) is omgerekend '
        'naar een hele en getekend als een open cirkel.',
    'Expected purchases in the next {unit}':
        'Verwachte aankopen in de volgende {unit}',
    '{model} and Gamma-Gamma refitted on all data up to {end}: these parameters score the customers.':
        '{model} en Gamma-Gamma opnieuw geschat op alle gegevens tot en met {end}: met deze '
        'parameters worden de klanten gescoord.',
    'Frequency-spend correlation among repeat customers: Pearson {pearson}, Spearman {spearman} '
    "(close to 0 supports the spend model's independence assumption).":
        'Correlatie tussen frequentie en besteding bij herhaalkopers: Pearson {pearson}, Spearman '
        '{spearman} (dicht bij 0 ondersteunt de onafhankelijkheidsaanname van het bestedingsmodel).',
    'week':
        'week',
    'day':
        'dag',
    'weeks':
        'weken',
    'days':
        'dagen',
    'Parameter':
        'Parameter',
    'Estimate':
        'Schatting',
    '95% interval':
        '95%-interval',
    'Gamma-Gamma (spend)':
        'Gamma-Gamma (besteding)',
    'Used':
        'Gebruikt',
    'yes':
        'ja',
    '10th percentile':
        '10e percentiel',
    '25th percentile':
        '25e percentiel',
    'median':
        'mediaan',
    '75th percentile':
        '75e percentiel',
    '90th percentile':
        '90e percentiel',
    '99th percentile':
        '99e percentiel',
    'The configured model, {model}, could not be identified from these data ({reason}). The report '
    'uses {used} instead, the model with the smallest error on the holdout period among those that '
    'could be fitted.':
        'Het ingestelde model, {model}, kon uit deze gegevens niet worden bepaald ({reason}). Het '
        'rapport gebruikt in plaats daarvan {used}, het model met de kleinste fout in de toetsperiode'
        ' van de modellen die wel konden worden geschat.',
    'Under the BG/NBD model a customer can only drop out right after a repeat purchase, so customers '
    'who bought only once keep a {full} chance of still being a customer however long ago they '
    'bought, and never appear as at risk. Pareto/NBD or MBG/NBD (models.model: auto) do not have this'
    ' blind spot.':
        'In het BG/NBD-model kan een klant alleen direct na een herhaalaankoop afhaken, dus klanten '
        'die maar één keer kochten houden {full} kans dat ze nog klant zijn, hoe lang geleden ze ook '
        'kochten, en staan nooit bij de klanten die dreigen te vertrekken. Pareto/NBD en MBG/NBD '
        '(models.model: auto) hebben deze blinde vlek niet.',
    'The data alone do not pin down all parameters of {model} (typically: how much customers differ '
    'in how soon they drop out), so it was fitted with a small penalty (penalizer {penalizer}) that '
    'keeps the estimates finite and changes the fit very little. Its check on the holdout period '
    'below shows how well it predicts.':
        'De gegevens alleen leggen niet alle parameters van {model} vast (meestal: hoeveel klanten '
        'verschillen in hoe snel ze afhaken), dus het is geschat met een kleine straf (penalizer '
        '{penalizer}) die de schattingen eindig houdt en de schatting nauwelijks verandert. De '
        'toetsing op de toetsperiode hieronder laat zien hoe goed het voorspelt.',
    'With the configured penalty (models.penalizer {configured}) the parameters of {model} are pulled'
    ' to the edge of the parameter space ({reason}), so it was fitted with penalizer {used} instead. '
    'Set models.penalizer to 0 or a small value such as 0.001.':
        'Met de ingestelde straf (models.penalizer {configured}) worden de parameters van {model} '
        'naar de rand van de parameterruimte getrokken ({reason}), dus het is geschat met penalizer '
        '{used}. Zet models.penalizer op 0 of op een kleine waarde zoals 0.001.',
    "The spend model's q = {q} is close to 1, where the mean spend becomes infinite: about {share} of"
    ' the parameter draws for the uncertainty band have q <= 1. Those draws are left out and redrawn,'
    ' so the band assumes a finite mean spend and is narrower than the data alone would make it.':
        'De q van het bestedingsmodel = {q} ligt dicht bij 1, waar de gemiddelde besteding oneindig '
        'wordt: ongeveer {share} van de parametertrekkingen voor de onzekerheidsband heeft q <= 1. '
        'Die trekkingen worden weggelaten en opnieuw getrokken, dus de band neemt een eindige '
        'gemiddelde besteding aan en is smaller dan de gegevens alleen zouden geven.',
    'The spend model (Gamma-Gamma) could not be fitted on the calibration period alone ({reason}); '
    'its parameters below are those fitted on all data.':
        'Het bestedingsmodel (Gamma-Gamma) kon niet op alleen de kalibratieperiode worden geschat '
        '({reason}); de parameters hieronder zijn die van de schatting op alle gegevens.',
    'Frequency and average spend are correlated among repeat customers (Pearson {pearson}, Spearman '
    '{spearman}); the Gamma-Gamma model assumes they are independent, so its spend predictions (and '
    'CLV) should be read with caution.':
        'Frequentie en gemiddelde besteding hangen bij herhaalkopers samen (Pearson {pearson}, '
        'Spearman {spearman}); het Gamma-Gamma-model neemt aan dat ze onafhankelijk zijn, dus lees de'
        ' voorspelde bestedingen (en CLV) met voorzichtigheid.',
    'Expected value ({months} months)':
        'Verwachte waarde ({months} maanden)',
    'Customers in the top value tiers whose P(alive) is below {threshold}: the ones a retention campaign is for.':
        'Klanten in de hoogste waardeklassen met een P(actief) onder {threshold}: voor hen is een '
        'klantbehoudcampagne bedoeld.',
    'Sum of their CLV over the next {months} months.':
        'Hun CLV samen over de komende {months} maanden.',
    '{n} ways':
        '{n} manieren',
    'A Pareto view of the past: **A** customers together brought the first {a} of all revenue, **B** '
    'the next {b}, **C** the remaining {c}. A customers deserve the best service; C customers are '
    'served at the lowest cost.':
        'Een Pareto-blik op het verleden: **A**-klanten brachten samen de eerste {a} van alle omzet '
        'op, **B** de volgende {b}, **C** de overige {c}. A-klanten verdienen de beste service; '
        'C-klanten worden tegen de laagste kosten bediend.',
    'Revenue so far':
        'Omzet tot nu toe',
    'Average P(alive)':
        'Gemiddelde P(actief)',
    'Average expected purchases':
        'Gemiddeld verwachte aankopen',
    'Average days since last purchase':
        'Gemiddeld aantal dagen sinds laatste aankoop',
    'Serving cost':
        'Kosten van bediening',
    'Expected profit after serving cost':
        'Verwachte winst na kosten van bediening',
    'Suggested action':
        'Voorgestelde actie',
    'Last purchase':
        'Laatste aankoop',
    'Responses':
        'Antwoorden',
    'NPS answers':
        'NPS-antwoorden',
    'Promoters':
        'Promotors',
    'Passives':
        'Passieven',
    'Detractors':
        'Criticasters',
    'CSAT answers':
        'CSAT-antwoorden',
    'CSAT (% scoring 4-5)':
        'CSAT (% met 4-5)',
    'Mean CSAT (1-5)':
        'Gemiddelde CSAT (1-5)',
    'Group':
        'Groep',
    'best {n} by expected profit':
        'beste {n} naar verwachte winst',
    '{segmentation}: {segments}':
        '{segmentation}: {segments}',
    '{n} months':
        '{n} maanden',
    'The scenario with the highest expected net gain.':
        'Het scenario met de hoogste verwachte netto opbrengst.',
    'The scenario with the highest expected net gain, and with the highest ROI too.':
        'Het scenario met de hoogste verwachte netto opbrengst, en ook met de hoogste ROI.',
    'The scenario with the highest expected net gain; {other} has the highest ROI ({roi}) on a smaller gain.':
        'Het scenario met de hoogste verwachte netto opbrengst; {other} heeft de hoogste ROI ({roi}) '
        'bij een kleinere opbrengst.',
    'Incremental margin over the horizon (not discounted, unlike CLV) minus total cost.':
        'Extra marge over de horizon (niet verdisconteerd, anders dan CLV) min totale kosten.',
    '**Past period{period}:** {spend} spent on retention, {retained} customers retained: **{per} per '
    'retained customer**.':
        '**Vorige periode{period}:** {spend} uitgegeven aan klantbehoud, {retained} klanten behouden:'
        ' **{per} per behouden klant**.',
    'Scenario {name}: green cells make money, red cells lose it. If the true uplift turns out lower '
    'than assumed, read the answer from the row for that uplift.':
        'Scenario {name}: groene cellen leveren geld op, rode kosten geld. Als het ware effect lager '
        'uitvalt dan aangenomen, lees het antwoord af in de rij voor dat effect.',
    'With the assumptions of {name}, contacting the best {n} customers gives the highest expected net gain, {gain}.':
        'Met de aannames van {name} geeft het benaderen van de beste {n} klanten de hoogste verwachte'
        ' netto opbrengst, {gain}.',
    'Scenario {name} is set to contact the best {n} customers, but there are only {have}: all of them'
    ' are contacted. Set target.best_n to fit your customer base.':
        'Scenario {name} is ingesteld om de beste {n} klanten te benaderen, maar er zijn er maar '
        '{have}: ze worden allemaal benaderd. Stel target.best_n in op uw klantenbestand.',
    'Scenario {name} contacts nobody this period: no customer is in {segments}.':
        'Scenario {name} benadert deze periode niemand: geen enkele klant zit in {segments}.',
    'campaign {name} was not used: its groups were not alike before the campaign ({flagged}), so its '
    'difference is not its effect; so 0':
        'campagne {name} is niet gebruikt: de groepen verschilden al vóór de campagne ({flagged}), '
        'dus het verschil is niet haar effect; dus 0',
    'measured by campaign {name} against its control group (95% interval {low} to {high})':
        'gemeten met campagne {name} tegenover de controlegroep (95%-interval {low} tot {high})',
    'campaign {name} could not be measured ({why}), so 0':
        'campagne {name} kon niet worden gemeten ({why}), dus 0',
    'no result':
        'geen uitkomst',
    'Campaign {name} is not measured in this report: {why}.':
        'Campagne {name} is in dit rapport niet gemeten: {why}.',
    '{value} ({low} to {high})':
        '{value} ({low} tot {high})',
    '{value} points ({low} to {high})':
        '{value} procentpunt ({low} tot {high})',
    'no upper bound':
        'geen bovengrens',
    '### {label}':
        '### {label}',
    '{days} days from {start}':
        '{days} dagen vanaf {start}',
    'the first {days} days from {start} (the window is not over yet)':
        'de eerste {days} dagen vanaf {start} (de meetperiode loopt nog)',
    '**Verdict: {verdict}.** Measured over {window}: {why}.':
        '**Oordeel: {verdict}.** Gemeten over {window}: {why}.',
    'paid off':
        'terugverdiend',
    'did not pay off':
        'niet terugverdiend',
    'cannot tell yet':
        'nog niet te zeggen',
    'cannot tell':
        'niet te zeggen',
    '{n} of the {listed} listed customers have no purchase in these data (every purchase returned, or'
    ' an id the transaction file does not have): {treated} treated and {control} control. They count '
    'as customers who did not buy. If that is more than a handful, or far from even, check that the '
    'list and the transaction file use the same customer ids.':
        '{n} van de {listed} klanten op de lijst hebben geen aankoop in deze gegevens (elke aankoop '
        'geretourneerd, of een klantnummer dat het transactiebestand niet heeft): {treated} behandeld'
        ' en {control} controle. Ze tellen als klanten die niet kochten. Zijn het er meer dan een '
        'handvol, of zijn ze ver van gelijk verdeeld, controleer dan of de lijst en het '
        'transactiebestand dezelfde klantnummers gebruiken.',
    'Contacts went out from {first} to {last}; every treated customer is measured over the whole '
    'window, whatever their contact day.':
        'De contacten gingen uit van {first} tot en met {last}; elke behandelde klant wordt over de '
        'hele meetperiode gemeten, wat de contactdag ook was.',
    '{n} treated customers have no contact date (the message may not have reached them); they still '
    'count as treated, so the uplift is that of the campaign as sent, not of the message as received.':
        '{n} behandelde klanten hebben geen contactdatum (het bericht heeft hen misschien niet '
        'bereikt); ze tellen toch als behandeld, dus het effect is dat van de campagne zoals '
        'verstuurd, niet van het bericht zoals ontvangen.',
    'Share of treated who bought minus share of control who bought, in percentage points.':
        'Aandeel kopers in de behandelde groep min aandeel kopers in de controlegroep, in procentpunten.',
    'n/a':
        'n.v.t.',
    "Campaign {name}. CLV and P(alive) as each customer stood the day before the start (this report's"
    ' model applied to their purchases before it).':
        'Campagne {name}. CLV en P(actief) zoals elke klant er de dag vóór de start voor stond (het '
        'model van dit rapport toegepast op de aankopen daarvóór).',
    'Campaign {name}: too few scored customers on the list to rank them.':
        'Campagne {name}: te weinig gescoorde klanten op de lijst om ze te rangschikken.',
    '**{name}: the ranking worked.** The customers it put first responded more: uplift {upper} in the'
    ' upper half of predicted gain against {lower} in the lower half (difference {difference} points,'
    ' 95% interval {low} to {high}).':
        '**{name}: de rangschikking werkte.** De klanten die ze vooraan zette reageerden sterker: '
        'effect {upper} in de bovenste helft van de voorspelde opbrengst tegenover {lower} in de '
        'onderste helft (verschil {difference} procentpunt, 95%-interval {low} tot {high}).',
    '**{name}: the ranking worked the wrong way.** The customers it put last responded more: uplift '
    '{upper} in the upper half of predicted gain against {lower} in the lower half (difference '
    '{difference} points, 95% interval {low} to {high}).':
        '**{name}: de rangschikking werkte verkeerd om.** De klanten die ze achteraan zette '
        'reageerden sterker: effect {upper} in de bovenste helft van de voorspelde opbrengst '
        'tegenover {lower} in de onderste helft (verschil {difference} procentpunt, 95%-interval '
        '{low} tot {high}).',
    '**{name}: cannot tell whether the ranking worked.** Uplift {upper} in the upper half of '
    'predicted gain against {lower} in the lower half (difference {difference} points, 95% interval '
    '{low} to {high}): the difference is within what chance alone gives, so the curve below is mostly'
    ' noise.':
        '**{name}: niet te zeggen of de rangschikking werkte.** Effect {upper} in de bovenste helft '
        'van de voorspelde opbrengst tegenover {lower} in de onderste helft (verschil {difference} '
        'procentpunt, 95%-interval {low} tot {high}): het verschil valt binnen wat toeval alleen '
        'geeft, dus de curve hieronder is vooral ruis.',
    "Campaign {name}: extra buyers (treated buyers minus what the control group's rate predicts) if "
    'the campaign had reached only the customers with the highest predicted gain, against a random '
    'choice of as many customers.':
        'Campagne {name}: extra kopers (kopers in de behandelde groep min wat het aandeel van de '
        'controlegroep voorspelt) als de campagne alleen de klanten met de hoogste voorspelde '
        'opbrengst had bereikt, tegenover een willekeurige keuze van evenveel klanten.',
    'Campaign {name}: uplift in the share who bought, by group of predicted gain. Customers without a'
    ' purchase before the start have no score and are left out.':
        'Campagne {name}: effect op het aandeel kopers, per groep van voorspelde opbrengst. Klanten '
        'zonder aankoop vóór de start hebben geen score en zijn weggelaten.',
    'Share who buy without a campaign: {base} (control group of {name}). Two-sided test of two '
    'proportions (Fleiss, Levin & Paik 2003).':
        'Aandeel dat koopt zonder campagne: {base} (controlegroep van {name}). Tweezijdige toets van '
        'twee proporties (Fleiss, Levin & Paik 2003).',
    'Difference in buyers (points)':
        'Verschil in kopers (procentpunt)',
    'the campaign cost nothing in the configuration, so there is no return on it to measure':
        'de campagne kostte volgens de configuratie niets, dus er is geen rendement te meten',
    'even the low end of the interval of the measured return is above zero':
        'zelfs de onderkant van het interval van het gemeten rendement ligt boven nul',
    'even the high end of the interval of the measured return is below zero':
        'zelfs de bovenkant van het interval van het gemeten rendement ligt onder nul',
    '{more_or_fewer} treated customers bought than control customers (the interval of the uplift in '
    'buyers is clear of zero), but the interval of the measured return runs from a loss to a gain: '
    "what customers spend varies too much from one to the next to tell whether the campaign's effect "
    'on the margin covered its cost':
        'er kochten {more_or_fewer} behandelde klanten dan klanten in de controlegroep (het interval '
        'van het effect op kopers ligt niet om nul), maar het interval van het gemeten rendement '
        'loopt van verlies tot winst: wat klanten besteden verschilt te veel van klant tot klant om '
        'te zeggen of het effect van de campagne op de marge haar kosten dekte',
    'more':
        'meer',
    'fewer':
        'minder',
    'the interval of the measured return runs from a loss to a gain: the difference between the '
    'groups is within what chance alone gives':
        'het interval van het gemeten rendement loopt van verlies tot winst: het verschil tussen de '
        'groepen valt binnen wat toeval alleen geeft',
    '; to tell a difference of this size, each group needs about {needed} customers (it has {has})':
        '; om een verschil van deze grootte te zien, heeft elke groep ongeveer {needed} klanten nodig'
        ' (er zijn er {has})',
    'the two groups differed before the campaign ({flagged}), so the difference after it need not be '
    "the campaign's doing; check how the groups were drawn":
        'de twee groepen verschilden al vóór de campagne ({flagged}), dus het verschil erna hoeft '
        'niet door de campagne te komen; controleer hoe de groepen zijn getrokken',
    'before the start':
        'vóór de start',
    'CLV (scored {when})':
        'CLV (gescoord {when})',
    'P(alive) (scored {when})':
        'P(actief) (gescoord {when})',
    'Holdout check: repeat purchases by past buying':
        'Toetsing: herhaalaankopen naar koopgedrag in het verleden',
    'repeat purchases in the calibration period':
        'herhaalaankopen in de kalibratieperiode',
    'repeat purchases in the holdout (count)':
        'herhaalaankopen in de toetsperiode (aantal)',
    'frequency: repeat purchases':
        'frequentie: herhaalaankopen',
    'Where the expected value is: customers ranked by CLV':
        'Waar de verwachte waarde zit: klanten gerangschikt naar CLV',
    'customers ranked by CLV, best first (decile)':
        'klanten gerangschikt naar CLV, beste eerst (deciel)',
    'expected purchases (count)':
        'verwachte aankopen (aantal)',
    'P(alive) (0-1)':
        'P(actief) (0-1)',
    'Probability of still being a customer, P(alive)':
        'Kans dat de klant nog klant is, P(actief)',
    'ROI n/a':
        'ROI n.v.t.',
    'Share of customers and of expected value by {name}':
        'Aandeel klanten en verwachte klantwaarde per {name}',
    'Best: contact {n} customers, net gain {gain}':
        'Beste: benader {n} klanten, netto opbrengst {gain}',
    # since the last report (analysis.runs.history) and the model's error in words
    'Since the last report ({date})':
        'Sinds het vorige rapport ({date})',
    'Since the last report':
        'Sinds het vorige rapport',
    'This is the first report in the series: there is no earlier report to compare with.':
        'Dit is het eerste rapport in de reeks: er is geen eerder rapport om mee te vergelijken.',
    'Compared with the report with data up to {previous} ({days} days earlier).':
        'Vergeleken met het rapport met gegevens tot en met {previous} ({days} dagen eerder).',
    '{label} rose by {change} to {current} (was {previous}).':
        '{label}: gestegen met {change} tot {current} (was {previous}).',
    '{label} fell by {change} to {current} (was {previous}).':
        '{label}: gedaald met {change} tot {current} (was {previous}).',
    '{label} stayed at {current}.':
        '{label}: gelijk gebleven op {current}.',
    '{label}: not available in both reports.':
        '{label}: niet in beide rapporten beschikbaar.',
    '{value} points':
        '{value} procentpunt',
    'Key figures: what changed':
        'Kerncijfers: wat is er veranderd',
    'The key figures across reports are charted from the second report of the series on.':
        'De kerncijfers per rapport worden vanaf het tweede rapport van de reeks in een grafiek getoond.',
    'How customers moved between segments':
        'Hoe klanten tussen segmenten verschoven',
    'Of the {both} customers in both reports, {stayed} ({stayed_share}) are in the same value and '
    'risk segment as last time; {to_risk} moved from likely to stay to at risk and {recovered} from '
    'at risk back to likely to stay. Each cell: customers, and their expected value then and now.':
        'Van de {both} klanten in beide rapporten zitten er {stayed} ({stayed_share}) in hetzelfde '
        'waarde- en risicosegment als de vorige keer; {to_risk} gingen van blijft waarschijnlijk naar'
        ' dreigt te vertrekken en {recovered} van dreigt te vertrekken terug naar blijft '
        'waarschijnlijk. Elke cel: klanten, en hun verwachte waarde toen en nu.',
    '{n} customers bought for the first time since the last report (expected value {value}).':
        '{n} klanten kochten voor het eerst sinds het vorige rapport (verwachte waarde {value}).',
    'No customers bought for the first time since the last report.':
        'Er kochten geen nieuwe klanten sinds het vorige rapport.',
    '{n} customers of the last report are no longer in the data.':
        '{n} klanten uit het vorige rapport staan niet meer in de gegevens.',
    'last time ↓ / now →':
        'vorige keer ↓ / nu →',
    'Total':
        'Totaal',
    'Newly at risk':
        'Nieuw risico op vertrek',
    '{n} high-value customers have become at risk since the last report (chance of still being a '
    'customer fell below {threshold}); together they are worth {value}.':
        '{n} klanten met een hoge waarde dreigen sinds het vorige rapport te vertrekken (kans dat ze '
        'nog klant zijn zakte onder {threshold}); samen zijn ze {value} waard.',
    'No high-value customer has become at risk since the last report.':
        'Geen enkele klant met een hoge waarde is sinds het vorige rapport gaan dreigen te vertrekken.',
    'The {n} most valuable of them:':
        'De {n} waardevolste van hen:',
    'Customer':
        'Klant',
    'Chance still a customer, last time':
        'Kans nog klant, vorige keer',
    'Chance still a customer, now':
        'Kans nog klant, nu',
    'Expected value':
        'Verwachte waarde',
    'Last forecast against what happened':
        'Vorige voorspelling tegenover de werkelijkheid',
    'At the last report the model expected {forecast} repeat purchases from its {customers} customers'
    ' in the {days} days since; {actual} happened, so the forecast was {error}.':
        'Bij het vorige rapport verwachtte het model {forecast} herhaalaankopen van zijn {customers} '
        'klanten in de {days} dagen daarna; er waren er {actual}, dus de voorspelling zat {error}.',
    'Purchases by customers who were new since then are not part of this check ({n} purchase days).':
        'Aankopen van klanten die sindsdien nieuw zijn, tellen in deze toets niet mee ({n} aankoopdagen).',
    'Segment at the last report':
        'Segment bij het vorige rapport',
    'Expected purchases':
        'Verwachte aankopen',
    'Actual purchases':
        'Werkelijke aankopen',
    'Forecast error':
        'Afwijking voorspelling',
    'Campaign scenarios then and now':
        "Campagnescenario's toen en nu",
    'Customers contacted, last time':
        'Benaderde klanten, vorige keer',
    'Customers contacted, now':
        'Benaderde klanten, nu',
    'Net gain, last time':
        'Netto opbrengst, vorige keer',
    'Net gain, now':
        'Netto opbrengst, nu',
    'No campaign scenario appears in both reports.':
        'Geen enkel campagnescenario staat in beide rapporten.',
    'Key figure':
        'Kerncijfer',
    'Last time':
        'Vorige keer',
    'Now':
        'Nu',
    'Change':
        'Verandering',
    'good news':
        'goed nieuws',
    'bad news':
        'slecht nieuws',
    'unchanged':
        'onveranderd',
    '{pct} too high':
        '{pct} te hoog',
    '{pct} too low':
        '{pct} te laag',
    'spot on':
        'precies goed',
    'rows {rows}{more} of {n}':
        'rijen {rows}{more} van {n}',
    'row {rows} of {n}':
        'rij {rows} van {n}',
    '{n} of {listed} customer ids in column {column} are not in the transaction log ({rows}). Check '
    'that the list and the transaction file use the same ids (leading zeros, prefixes); a campaign '
    'from another data set (such as the simulated one of the bundled sample in params/default.yaml) '
    "does not belong in this configuration's campaigns:":
        '{n} van de {listed} klantnummers in kolom {column} staan niet in het transactiebestand '
        '({rows}). Controleer of de lijst en het transactiebestand dezelfde klantnummers gebruiken '
        '(voorloopnullen, voorvoegsels); een campagne uit een andere gegevensset (zoals de '
        'gesimuleerde van het meegeleverde voorbeeld in params/default.yaml) hoort niet in de '
        'campaigns: van deze configuratie',
    '{n} of {listed} customer ids in column {column} are not in the transaction log ({rows}): '
    '{treated} of the treated and {control} of the control customers, a difference chance alone '
    "almost never gives (Fisher's exact test, p = {p}). Listed customers without a purchase count as "
    'not buying, so this would bias the uplift: check that the ids of both groups are written as in '
    'the transaction file':
        '{n} van de {listed} klantnummers in kolom {column} staan niet in het transactiebestand '
        '({rows}): {treated} van de behandelde en {control} van de controleklanten, een verschil dat '
        'toeval alleen bijna nooit geeft (exacte toets van Fisher, p = {p}). Klanten op de lijst '
        'zonder aankoop tellen als niet-kopers, dus dit zou het effect vertekenen: controleer of de '
        'klantnummers van beide groepen geschreven zijn zoals in het transactiebestand',
    'it starts on {start}, after the last day of these data ({end}): there is nothing to measure yet':
        'ze begint op {start}, na de laatste dag van deze gegevens ({end}): er is nog niets te meten',
    'Of the {n} customers who bought again, {share} bought again no more often than once a year: no more'
    ' repeat purchases than calendar years from their first purchase to their last. If customers'
    ' have one chance to buy per year (an annual event, a yearly donation or renewal), the models above,'
    ' which let a customer buy on any day, are not made for these data; the BG/BB model further down'
    ' this page is.':
        'Van de {n} klanten die opnieuw kochten, kocht {share} niet vaker dan eens per jaar opnieuw: niet meer '
        'herhaalaankopen dan kalenderjaren van hun eerste tot hun laatste aankoop. Als klanten '
        'één kans per jaar hebben om te kopen (een jaarlijks evenement, een jaarlijkse gift of verlenging), zijn '
        'de modellen hierboven, waarin een klant op elke dag kan kopen, niet voor deze gegevens gemaakt; het '
        'BG/BB-model verderop op deze pagina wel.',
    'Of the {n} customers who bought again, {share} bought again no more often than once a year: no more'
    ' repeat purchases than calendar years from their first purchase to their last. If customers'
    ' have one chance to buy per year (an annual event, a yearly donation or renewal), the models on this'
    ' page, which let a customer buy on any day, are not made for these data; the BG/BB model is (for the'
    ' analyst: models.discrete: Y in the run configuration).':
        'Van de {n} klanten die opnieuw kochten, kocht {share} niet vaker dan eens per jaar opnieuw: niet meer '
        'herhaalaankopen dan kalenderjaren van hun eerste tot hun laatste aankoop. Als klanten '
        'één kans per jaar hebben om te kopen (een jaarlijks evenement, een jaarlijkse gift of verlenging), zijn '
        'de modellen op deze pagina, waarin een klant op elke dag kan kopen, niet voor deze gegevens gemaakt; het '
        'BG/BB-model wel (voor de analist: models.discrete: Y in de runconfiguratie).',
    'No purchase model could be fitted on these data, so this report has no customer lifetime values,'
    ' no segments by value and no campaign figures. {advice} Each customer\'s chance of still being a'
    ' customer comes from the BG/BB model below, which counts the periods with a purchase. The data'
    ' quality and retention figures (page 01 and the summary) do not need a model and are complete.'
    " (The analyst finds each model's reason in artifacts/model.json.)":
        'Op deze gegevens kon geen aankoopmodel worden geschat, dus dit rapport heeft geen '
        'klantwaarden, geen waardesegmenten en geen campagnecijfers. {advice} De kans dat een klant nog '
        'klant is, komt van het BG/BB-model hieronder, dat de perioden met een aankoop telt. De '
        'datakwaliteit en de cijfers over klantbehoud (pagina 01 en de samenvatting) hebben geen model '
        'nodig en zijn volledig. (De analist vindt de reden per model in artifacts/model.json.)',
    'No purchase model could be fitted on these data, so this report has no customer lifetime values,'
    ' no chance-of-staying per customer, no segments by value and no campaign figures. {advice} The '
    'data quality and retention figures (page 01 and the summary) do not need a model and are '
    "complete. (The analyst finds each model's reason in artifacts/model.json.)":
        'Op deze gegevens kon geen aankoopmodel worden geschat, dus dit rapport heeft geen '
        'klantwaarden, geen kans op blijven per klant, geen waardesegmenten en geen campagnecijfers. '
        '{advice} De datakwaliteit en de cijfers over klantbehoud (pagina 01 en de samenvatting) '
        'hebben geen model nodig en zijn volledig. (De analist vindt de reden per model in '
        'artifacts/model.json.)',
    "time since the start (weeks)": "tijd sinds de start (weken)",
    "time since the start (days)": "tijd sinds de start (dagen)",
    "recency: time from first to last purchase (weeks)": "recentheid: tijd van eerste tot laatste aankoop (weken)",
    "recency: time from first to last purchase (days)": "recentheid: tijd van eerste tot laatste aankoop (dagen)",
    "None of the {n} customers of the calibration period bought a second time, so there is nothing to learn about"
    " repeat buying yet: use a later calibration end (period.calibration_end or a smaller period.holdout_days) or"
    " wait for more data.":
        "Geen van de {n} klanten van de kalibratieperiode kocht een tweede keer, dus er valt nog niets te leren over"
        " herhaalaankopen: kies een latere kalibratie-einddatum (period.calibration_end of een kleinere"
        " period.holdout_days) of wacht op meer gegevens.",
    "Only {repeaters} of the {n} customers of the calibration period bought again; check that the calibration period"
    " is long enough, that the dates are read correctly (data.date_format), and look for outlier customers (e.g."
    " wholesale accounts with extreme frequency).":
        "Maar {repeaters} van de {n} klanten van de kalibratieperiode kochten opnieuw; controleer of de"
        " kalibratieperiode lang genoeg is en of de datums goed worden gelezen (data.date_format), en zoek naar"
        " uitschieters (bijvoorbeeld groothandelsklanten met een extreem hoge frequentie).",
    "{repeaters} of the {n} customers of the calibration period bought again, yet no model could be fitted: the"
    " models learn from the differences between customers, and these customers hardly differ (for example all buying"
    " on a fixed schedule, or a few accounts buying extremely often). Look for outlier customers (e.g. wholesale"
    " accounts) and check that the dates are read correctly (data.date_format).":
        "{repeaters} van de {n} klanten van de kalibratieperiode kochten opnieuw, maar geen model kon worden geschat:"
        " de modellen leren van de verschillen tussen klanten, en deze klanten verschillen nauwelijks (bijvoorbeeld"
        " allemaal kopend volgens een vast schema, of een paar klanten die extreem vaak kopen). Zoek naar uitschieters"
        " (bijvoorbeeld groothandelsklanten) en controleer of de datums goed worden gelezen (data.date_format).",
    "Customer retention and lifetime value": "Klantbehoud en klantwaarde",
    '{model}: too few groups of customers for a test.': '{model}: te weinig groepen klanten voor een toets.',
    '{model}: the gaps between actual and expected are {size} (chi-square {chi2} with {df} degrees of freedom, p {p}).': '{model}: de verschillen tussen werkelijk en verwacht zijn {size} (chi-kwadraat {chi2} met {df} vrijheidsgraden, p {p}).',
    'within what chance alone gives': 'niet groter dan toeval alleen geeft',
    'larger than chance alone gives': 'groter dan toeval alleen geeft',
    'With many customers even small gaps are larger than chance alone gives: judge their size in the chart too.': 'Bij veel klanten zijn zelfs kleine verschillen groter dan toeval alleen geeft: beoordeel hun grootte ook in de grafiek.',
    'Expected ({model})': 'Verwacht ({model})',
    'Customers by number of repeat purchases': 'Klanten naar aantal herhaalaankopen',
    'In the holdout period customers spent {actual} per purchase on average; the spend model expected {expected} ({error}).': 'In de toetsperiode besteedden klanten gemiddeld {actual} per aankoop; het bestedingsmodel verwachtte {expected} ({error}).',
    'Customers who bought in the holdout': 'Klanten die in de toetsperiode kochten',
    'Holdout purchases': 'Aankopen in de toetsperiode',
    'Actual spend per purchase': 'Werkelijke besteding per aankoop',
    'Expected spend per purchase': 'Verwachte besteding per aankoop',
    'chance still a customer': 'kans nog klant',
    'purchase': 'aankoop',
    'Chance that this customer is still a customer': 'Kans dat deze klant nog klant is',
    "The spend model could not be fitted: {reason}. {advice}": "Het bestedingsmodel kon niet worden geschat: {reason}. {advice}",
    "What to try: look for extreme spends (bulk or wholesale orders, data errors, refunds recorded as sales) and remove"
    " them or report those accounts separately, and check that data.columns.amount is the amount of the order.":
        "Wat te proberen: zoek naar extreme bestedingen (bulk- of groothandelsorders, fouten in de gegevens, terugbetalingen"
        " geboekt als verkoop) en verwijder ze of rapporteer die klanten apart, en controleer of data.columns.amount het"
        " bedrag van de bestelling is.",
    # page 02: BG/BB on whole periods (models.discrete; analysis.scoring.discrete)
    'year': 'jaar',
    'years': 'jaren',
    'quarter': 'kwartaal',
    'quarters': 'kwartalen',
    'month': 'maand',
    'in the next year': 'in het volgende jaar',
    'in the next quarter': 'in het volgende kwartaal',
    'in the next month': 'in de volgende maand',
    'in the next week': 'in de volgende week',
    '## One chance to buy per {period}: the BG/BB model': '## Eén kans om te kopen per {period}: het BG/BB-model',
    'Some customers can buy only once per {period}: a yearly donation drive, an annual event, a renewal. The BG/BB model'
    ' (Fader, Hardie & Shang 2010) counts in how many {periods} since their first purchase each customer bought. While'
    ' still a customer, each customer has their own chance of buying in a {period}; at the start of any {period} they'
    ' may quietly drop out for good. The model learnt from the {periods} from {start} up to {end} and is checked on the'
    ' {periods} after that, up to {last}.':
        'Sommige klanten kunnen maar één keer per {period} kopen: een jaarlijkse inzamelingsactie, een jaarlijks'
        ' evenement, een verlenging. Het BG/BB-model (Fader, Hardie & Shang 2010) telt in hoeveel {periods} sinds hun'
        ' eerste aankoop elke klant kocht. Zolang iemand klant is, heeft elke klant een eigen kans om in een {period} te'
        ' kopen; aan het begin van een {period} kan een klant ongemerkt voorgoed afhaken. Het model leerde van de {periods} van'
        ' {start} tot en met {end} en is getoetst op de {periods} daarna, tot en met {last}.',
    'BG/BB could not be fitted on these data: it learns from customers who bought in more than one {period}, and too'
    ' few did. (The analyst finds the reason in artifacts/model.json.)':
        'BG/BB kon op deze gegevens niet geschat worden: het leert van klanten die in meer dan één {period} kochten,'
        ' en dat deden er te weinig. (De analist vindt de reden in artifacts/model.json.)',
    '**Check:** in the {n} {periods} it had not seen, BG/BB expected {expected} repeat purchases from the customers who'
    ' had bought by {end}; {actual} happened ({error}).':
        '**Toetsing:** in de {n} {periods} die het niet kende, verwachtte BG/BB {expected} herhaalaankopen van de'
        ' klanten die vóór of op {end} hadden gekocht; het werden er {actual} ({error}).',
    'BG/BB holdout check': 'Toetsing BG/BB',
    'Expected against actual repeat purchases in the {n} {periods} the model had not seen (at most one per customer and'
    ' {period}).':
        'Verwachte tegenover werkelijke herhaalaankopen in de {n} {periods} die het model niet kende (hoogstens één per'
        ' klant per {period}).',
    'No whole {period} lies between the calibration end and the end of the data, so BG/BB is not checked on a holdout:'
    ' set `period.calibration_end` to the last day of a {period} before the last.':
        'Tussen het einde van de kalibratie en het einde van de gegevens ligt geen hele {period}, dus BG/BB is niet'
        ' getoetst: zet `period.calibration_end` op de laatste dag van een {period} vóór de laatste.',
    'Likely still active (BG/BB)': 'Waarschijnlijk nog actief (BG/BB)',
    'Share of customers whose chance of still being a customer {following} is {threshold} or more.':
        'Aandeel klanten met een kans van {threshold} of meer dat ze {following} nog klant zijn.',
    'Expected purchases (BG/BB)': 'Verwachte aankopen (BG/BB)',
    'From the {customers} customers in the next {n} {periods}, at most one per customer and {period}.':
        'Van de {customers} klanten in de komende {n} {periods}, hoogstens één per klant per {period}.',
    'On average a customer has a {mean} chance of still being a customer {following}, and is expected to buy in {per}'
    ' of the next {n} {periods}.':
        'Gemiddeld heeft een klant {mean} kans om {following} nog klant te zijn, en koopt naar verwachting'
        ' in {per} van de komende {n} {periods}.',
    'Of the {total} times a customer bought in a {period}, {multi} ({share}) had purchases on more than one day. BG/BB'
    ' counts one purchase per {period}, so it loses little here.':
        'Van de {total} keren dat een klant in een {period} kocht, waren er {multi} ({share}) met aankopen op meer dan'
        ' één dag. BG/BB telt één aankoop per {period}, dus het mist hier weinig.',
    'These data do not fit the one-chance-per-{period} view: of the {total} times a customer bought in a {period},'
    ' {multi} ({share}) had purchases on more than one day, and BG/BB counts those as one purchase. Its figures'
    ' undercount the buying; the models on the rest of this page count every purchase day. Choose a longer period'
    ' (`models.discrete.period`), or leave out `models.discrete`.':
        'Deze gegevens passen niet bij het beeld van één kans per {period}: van de {total} keren dat een klant in een'
        ' {period} kocht, waren er {multi} ({share}) met aankopen op meer dan één dag, en BG/BB telt die als één'
        ' aankoop. Zijn cijfers tellen dus te weinig aankopen; de modellen op de rest van deze pagina tellen elke'
        ' aankoopdag. Kies een langere periode (`models.discrete.period`), of laat `models.discrete` weg.',
    '### BG/BB: fitted parameters and the holdout check': '### BG/BB: geschatte parameters en de toetsing',
    'Fitted on': 'Geschat op',
    'calibration, up to {end}': 'kalibratie, tot en met {end}',
    'all data, up to {end}': 'alle gegevens, tot en met {end}',
    'alpha and beta: how likely a customer is to buy in a {period} while still a customer (on average alpha / (alpha +'
    ' beta) = {buy}); gamma and delta: how likely to drop out at the start of a {period} (on average gamma / (gamma + delta) ='
    ' {drop}), on all data. Intervals from the curvature of the log-likelihood at its maximum.':
        'alpha en beta: hoe waarschijnlijk een klant in een {period} koopt zolang hij klant is (gemiddeld alpha /'
        ' (alpha + beta) = {buy}); gamma en delta: hoe waarschijnlijk hij aan het begin van een {period} afhaakt (gemiddeld gamma /'
        ' (gamma + delta) = {drop}), op alle gegevens. Intervallen uit de kromming van de log-likelihood in het'
        ' maximum.',
    'BG/BB holdout check: periods with a purchase, by past buying':
        'Toetsing BG/BB: perioden met een aankoop, naar koopgedrag in het verleden',
    'periods with a repeat purchase in the calibration': 'perioden met een herhaalaankoop in de kalibratie',
    'periods with a purchase in the holdout (count)': 'perioden met een aankoop in de toetsperiode (aantal)',
    'Customers grouped by the number of {periods} in which they bought again during the calibration; bars compare the'
    ' {periods} in which they bought in the holdout with what BG/BB expected.':
        'Klanten gegroepeerd naar het aantal {periods} waarin ze tijdens de kalibratie opnieuw kochten; de staven'
        ' vergelijken de {periods} waarin ze in de toetsperiode kochten met wat BG/BB verwachtte.',
    'Periods with a repeat purchase in calibration': 'Perioden met een herhaalaankoop in de kalibratie',
    'Actual holdout purchases': 'Werkelijke aankopen (toets)',
    'Expected holdout purchases': 'Verwachte aankopen (toets)',
    "Each customer's BG/BB figures (chance of still being a customer {following}, expected purchases in the next {n}"
    " {periods}) are in artifacts/customers_02_bgbb.parquet.":
        'De BG/BB-cijfers per klant (kans om {following} nog klant te zijn, verwachte aankopen in de'
        ' komende {n} {periods}) staan in artifacts/customers_02_bgbb.parquet.',
}


PATTERNS: list[tuple[str, str]] = [
    # why a model could not be fitted (analysis.scoring.modelstage.plain_failure: numbers already in Dutch notation)
    (r"^the log-likelihood is not finite around the estimate$", "de log-likelihood is niet eindig rond de schatting"),
    (r"^the log-likelihood is flat or not at a maximum at the estimate \(Hessian not positive definite, smallest"
     r" eigenvalue (\S+)\), so standard errors are undefined$",
     r"de log-likelihood is vlak of heeft geen maximum bij de schatting (de Hessiaan is niet positief definiet,"
     r" kleinste eigenwaarde \1), dus er zijn geen standaardfouten"),
    (r"^the data do not pin down the parameters \(the standard error of log\((\w+)\) is (\S+), i\.e\. its confidence"
     r" interval spans more than a factor of 10\.000 either way\)$",
     r"de gegevens leggen de parameters niet vast (de standaardfout van log(\1) is \2: het betrouwbaarheidsinterval"
     r" reikt meer dan een factor 10.000 naar beide kanten)"),
    (r"^the optimizer stopped away from the maximum of the likelihood \(a Newton step would move a parameter by (\S+)"
     r" standard errors\)$",
     r"de optimalisatie stopte niet bij het maximum van de likelihood (een Newton-stap zou een parameter \1"
     r" standaardfouten verschuiven)"),
    (r"^the estimates are not finite positive numbers \((.*)\)$", r"de schattingen zijn geen eindige positieve getallen (\1)"),
    (r"^the estimate (\w+) = (\S+) is implausibly large \(the optimizer ran off to the edge of the parameter space\)$",
     r"de schatting \1 = \2 is onwaarschijnlijk groot (de optimalisatie liep naar de rand van de parameterruimte)"),
    (r"^the estimate (\w+) = (\S+) is implausibly small \(the optimizer ran off to the edge of the parameter space\)$",
     r"de schatting \1 = \2 is onwaarschijnlijk klein (de optimalisatie liep naar de rand van de parameterruimte)"),
    (r"^the optimizer did not converge \(it ran off to infinity\)$",
     "de optimalisatie convergeerde niet (ze liep weg naar oneindig)"),
    (r"^the log-likelihood at the estimates is not finite \((.*)\)$", r"de log-likelihood bij de schattingen is niet eindig (\1)"),
    (r"^every customer made their first purchase on the last day of the period, so nothing about repeat buying can be"
     r" learnt yet\. Use a later observation or calibration end$",
     "elke klant deed de eerste aankoop op de laatste dag van de periode, dus over herhaalaankopen valt nog niets te"
     " leren. Kies een later einde van de observatie- of calibratieperiode"),
    (r"^only (\S+) repeat customers with positive spend; at least 10 are needed$",
     r"maar \1 terugkerende klanten met een positief bedrag; er zijn er minstens 10 nodig"),
    (r"^the estimate q = (\S+) is <= 1\. The mean spend of the population, p\*v/\(q-1\), is then infinite \(the spend"
     r" distribution has too heavy a right tail\), so expected spend and CLV are undefined$",
     r"de schatting q = \1 is <= 1. Het gemiddelde bedrag van de populatie, p*v/(q-1), is dan oneindig (de verdeling"
     r" van de bedragen heeft een te zware rechterstaart), dus verwacht bedrag en CLV zijn niet gedefinieerd"),
    (r"^the estimate (\w) = (\S+) is implausibly large: the spends do not look like one population of customers whose"
     r" order values vary around their own average \(typically a few accounts spend orders of magnitude more than the"
     r" rest\)$",
     r"de schatting \1 = \2 is onwaarschijnlijk groot: de bedragen lijken niet op één populatie klanten van wie de"
     r" orderwaarden rond hun eigen gemiddelde schommelen (meestal besteden een paar accounts ordes van grootte meer"
     r" dan de rest)"),
    (r"^Customers who bought, per month$", "Klanten die kochten, per maand"),
    (r"^Customers who bought, per quarter$", "Klanten die kochten, per kwartaal"),
    (r"^Retention and churn per month$", "Klantbehoud en churn per maand"),
    (r"^Retention and churn per quarter$", "Klantbehoud en churn per kwartaal"),
    (r"^Revenue per month$", "Omzet per maand"),
    (r"^Revenue per quarter$", "Omzet per kwartaal"),
    (r"^revenue \((.+)\)$", r"omzet (\1)"),
    (r"^Customers and expected value \((.+)\) by value and risk$", r"Klanten en verwachte waarde (\1) naar waarde en risico"),
    (r"^expected value \((.+)\)$", r"verwachte waarde (\1)"),
    (r"^Expected net gain \((.+)\)$", r"Verwachte netto opbrengst (\1)"),
    (r"^Cost per contact \((.+)\)$", r"Kosten per contact (\1)"),
    (r"^Cumulative expected net gain \((.+)\)$", r"Cumulatieve verwachte netto opbrengst (\1)"),
    (r"^Bought in the last (\d+) days \((.+) of all\)\.$", r"Kocht in de laatste \1 dagen (\2 van alle klanten)."),
    (r"^Of last month's buyers, the share who bought again in the latest month\.$",
     "Van de kopers van vorige maand het aandeel dat deze maand opnieuw kocht."),
    (r"^Of last quarter's buyers, the share who bought again in the latest quarter\.$",
     "Van de kopers van vorig kwartaal het aandeel dat dit kwartaal opnieuw kocht."),
    (r"^1 - retention rate, latest month\.$", "1 - klantbehoud, laatste maand."),
    (r"^1 - retention rate, latest quarter\.$", "1 - klantbehoud, laatste kwartaal."),
    (r"^Worth (.+) together; see the at-risk list\.$", r"Samen goed voor \1; zie de lijst van klanten die dreigen te vertrekken."),
    (r"^Scenario (.+): ROI (.+), (.+) customers contacted\.$", r"Scenario \1: ROI \2, \3 klanten benaderd."),
    (r"^Scenario (.+): ROI (.+), 1 customer contacted\.$", r"Scenario \1: ROI \2, 1 klant benaderd."),
    (r"^Share who bought between (.+) and (.+)$", r"Aandeel dat kocht van \1 tot en met \2"),
    (r"^Next (\d+%)$", r"Volgende \1"),
    (r"^1 customer\n(.+)$", r"1 klant\n\1"),
    (r"^(\S+) customers\n(.+)$", r"\1 klanten\n\2"),
    (r"^Bottom (\d+%)$", r"Onderste \1"),
    (r"^Repeat purchases per week$", "Herhaalaankopen per week"),
    (r"^Repeat purchases per day$", "Herhaalaankopen per dag"),
    (r"^Cumulative repeat purchases$", "Cumulatieve herhaalaankopen"),
    (r"^part of a week, scaled to a whole week$", "deel van een week, omgerekend naar een hele week"),
    (r"^part of a day, scaled to a whole day$", "deel van een dag, omgerekend naar een hele dag"),
    (r"^repeat purchases \(count\)$", "herhaalaankopen (aantal)"),
    (r"^share of total expected value \((.+), %\)$", r"aandeel in de totale verwachte waarde (\1, %)"),
    (r"^Break-even lies outside this grid \(all profitable\)$", "Het break-evenpunt ligt buiten dit raster (alles winstgevend)"),
    (r"^Break-even lies outside this grid \(all loss-making\)$", "Het break-evenpunt ligt buiten dit raster (alles verlieslatend)"),
    (r"^(.+)\nROI n/a$", r"\1\nROI n.v.t."),
]


CELLS: dict[str, tuple[str, str]] = {
    # ---------------------------------------------------------------- 01: data and KPIs
    "01_data_and_kpis/cell-00": ("801ccaaff6b4", """\
# Datakwaliteit en kerncijfers voor klantbehoud

Dit rapport beschrijft de transactiegegevens waarop de analyse rust, en de cijfers over klantbehoud die er
rechtstreeks uit volgen: hoeveel klanten er zijn, hoeveel er nog kopen, hoe vaak ze terugkomen en wat ze
besteden. Bij elk cijfer staat de definitie."""),
    "01_data_and_kpis/cell-04": ("88c1633b755c", "## Kerncijfers"),
    "01_data_and_kpis/cell-06": ("ffe42d44591f", """\
## Datakwaliteit

Wat uit het transactiebestand is gelezen, wat is weggelaten en waarom. Aankopen van dezelfde klant op
dezelfde dag tellen overal in de kit als één aankoop (één bestelling)."""),
    "01_data_and_kpis/cell-08": ("40074d6c3a22", "## Klanten door de tijd"),
    "01_data_and_kpis/cell-12": ("467f6da14274", """\
## Klantbehoud per cohort

Klanten gegroepeerd naar de maand van hun eerste aankoop (hun cohort). Elke cel toont het aandeel van het
cohort dat zoveel maanden later opnieuw kocht."""),
    "01_data_and_kpis/cell-14": ("806114659095", """\
## Definities

| Cijfer | Definitie |
|---|---|
| Klanten | Verschillende klanten met minstens één aankoop tot en met de einddatum. |
| Actieve klanten | Klanten met een aankoop in de laatste *n* dagen tot en met de einddatum (*n* staat in de runconfiguratie). |
| Aandeel herhaalkopers | Aandeel klanten dat op twee of meer verschillende dagen kocht. |
| Klantbehoud (retentie) | Van de klanten die in de vorige periode kochten, het aandeel dat in deze periode opnieuw kocht. De tegels tonen de laatste volledige periode (een maand of een kwartaal, zoals ingesteld in de runconfiguratie) en noemen die. |
| Churn (klantverloop) | 1 − klantbehoud: van de kopers van de vorige periode, het aandeel dat in deze periode niet kocht. Een deel van hen komt later terug, dus het is niet het aandeel klanten dat voorgoed weg is. |
| Omzet per klant per periode | Omzet in de periode gedeeld door het aantal klanten dat in die periode kocht. Anders dan de omzet over alle gegevens gedeeld door alle klanten kan dit cijfer dalen en stijgen, zodat rapporten te vergelijken zijn. |
| Gemiddelde orderwaarde | Totale omzet gedeeld door het aantal aankoopdagen (bestellingen). |
| Aankoopfrequentie | Aankoopdagen (bestellingen) per klant. |"""),
    # ---------------------------------------------------------------- 02: CLV models
    "02_clv_models/cell-00": ("9531b93aa18b", """\
# Klantwaarde: welke klanten blijven waarschijnlijk, en wat zijn ze waard

Klanten van een winkel zeggen geen contract op: ze stoppen gewoon met kopen. Dit rapport gebruikt
kansmodellen uit de marketingliteratuur om voor elke klant te schatten hoe groot de kans is dat die nog
klant is, hoe vaak die zal kopen en wat die zal besteden, en daarmee de klantwaarde (CLV). Voordat een cijfer
wordt gebruikt, wordt het model getoetst op een periode die het niet kende."""),
    "02_clv_models/cell-reliable-md": ("b0e75037b5e9", "## Zijn de voorspellingen betrouwbaar?"),
    "02_clv_models/cell-03": ("24b649cd1bd0", """\
## Wat de modellen aannemen, in gewone woorden

* **Zolang iemand klant is, koopt die in een eigen vast tempo**, de een vaak, de ander zelden
  (aankopen volgen een Poissonproces; het tempo verschilt tussen klanten volgens een gammaverdeling).
* **Klanten kunnen stilletjes afhaken**, en we zien nooit wanneer. In het **BG/NBD**-model kan een klant
  direct na elke aankoop afhaken, met een eigen kans; **MBG/NBD** laat ook afhaken vóór de eerste
  herhaalaankoop toe; in **Pareto/NBD** kan afhaken op elk moment gebeuren.
* **Wat een klant per bestelling besteedt** schommelt rond een eigen gemiddelde, en die gemiddelden
  verschillen tussen klanten (het **Gamma-Gamma**-model). Het neemt aan dat hoeveel iemand besteedt niet
  afhangt van hoe vaak die koopt: dat controleren we hieronder.
* Uit de eigen geschiedenis van een klant (hoeveel herhaalaankopen, hoe recent de laatste, hoe lang al
  klant) berekenen de modellen de kans dat die nog klant is en wat die hierna zal doen."""),
    "02_clv_models/cell-12": ("06451cc60c73", """\
## Wat de geschiedenis van een klant over die klant zegt

Elke cel is een klant met zoveel herhaalaankopen (frequentie) van wie de laatste aankoop zo lang na de
eerste kwam (recentheid), voor een klant die al het langst klant is in de gegevens."""),
    "02_clv_models/cell-14": ("8ddd30576eea", "## Klantwaarde (CLV)"),
    "02_clv_models/cell-analysts-md": ("f364b6f3358e", """\
## Voor analisten: de statistiek achter de voorspellingen

De rest van deze pagina is voor analisten. Ze toont de geschatte parameters met hun 95%-betrouwbaarheids-
intervallen (smalle intervallen: de gegevens leggen de parameter goed vast), hoe de modellen zich verhouden
(*log-likelihood*: hoger is beter; *AIC* en *BIC*: lager is beter, ze straffen extra parameters af; *MAE* en
*RMSE*: de gemiddelde fout per klant in de toetsperiode, die het zwaarst weegt) en de toetsing in detail."""),
    "02_clv_models/cell-05": ("749f447da510", """\
### Geschatte parameters, met 95%-betrouwbaarheidsintervallen

Geschat op de kalibratieperiode (tot en met het einde van de kalibratie). Smalle intervallen betekenen dat
de gegevens de parameter goed vastleggen."""),
    "02_clv_models/cell-07": ("d05b21b5e58e", """\
### Vergelijking van de modellen

Log-likelihood (hoger is beter), AIC en BIC (lager is beter; ze straffen extra parameters af), en de fout
in de toetsperiode, die het zwaarst weegt: die laat zien hoe goed elk model aankopen voorspelt die het niet
kende."""),
    "02_clv_models/cell-09": ("43c8bbc98272", """\
### De toetsing in detail

Het model is alleen op de kalibratieperiode geschat; hier worden zijn voorspellingen voor de periode daarna
vergeleken met wat klanten werkelijk deden, periode voor periode en naar hoe vaak klanten eerder kochten."""),
    # ---------------------------------------------------------------- 03: segments
    "02_clv_models/cell-counts-md": ("93237c09e212", """\
### Hoeveel klanten opnieuw kochten, en hoe vaak

Hoeveel klanten in de kalibratieperiode 0, 1, 2, ... herhaalaankopen deden, naast hoeveel elk model verwacht van
klanten die even lang klant zijn. Een model dat dit beeld nabootst, heeft de verschillen tussen klanten goed; de
holdout-toets hierboven toetst de voorspellingen."""),
    "02_clv_models/cell-spend-md": ("957fae161482", """\
### Wat klanten per aankoop besteedden, tegenover het bestedingsmodel

Het bestedingsmodel (Gamma-Gamma), geschat op de kalibratieperiode, voorspelt wat elke klant per aankoop besteedt.
Hier staat die voorspelling tegenover wat de klanten die in de toetsperiode kochten werkelijk besteedden,
gegroepeerd naar het aantal herhaalaankopen in de kalibratieperiode."""),
    "03_segments/cell-00": ("3efab5725de2", """\
# Klantsegmenten: wie is waardevol, wie dreigt te vertrekken

Klanten worden op vier manieren ingedeeld die marketingteams gebruiken. Bij elke indeling hoort een profiel
(hoeveel klanten, wat ze opleverden, wat ze naar verwachting opleveren) en een voorgestelde actie.
De verwachte waarde (CLV) en de kans dat een klant nog klant is (P(actief)) komen uit het modelrapport."""),
    "03_segments/cell-04": ("8fe2dc1ebdb6", """\
## Waarde x risico: wat te doen met wie

Elke klant wordt geplaatst naar verwachte waarde (CLV-klasse) en naar de kans volgens het model dat die nog
klant is. De cel bepaalt de actie: **belonen** van waardevolle klanten die waarschijnlijk blijven,
**beschermen** van waardevolle klanten die dreigen te vertrekken, **ontwikkelen** of **heractiveren** van
het midden, en **loslaten** van klanten met weinig waarde en weinig kans op terugkeer (geen uitgaven aan hen)."""),
    "03_segments/cell-07": ("566d34d717c1", """\
## RFM-segmenten

RFM geeft elke klant een score van 1 tot 5 op **R**ecentheid (dagen sinds de laatste aankoop; recent scoort
hoog), **F**requentie (aantal aankopen) en **M**onetaire waarde (totale besteding), via kwantielen. De
combinatie van R met het gemiddelde van F en M geeft de benoemde segmenten: *Kampioenen* kochten recent en
vaak; *Niet kwijtraken* kochten vroeger veel maar de laatste tijd niet; *Verloren* kochten weinig, lang
geleden."""),
    "03_segments/cell-09": ("95c21dc3ef3c", "## ABC-klassen naar omzet"),
    "03_segments/cell-11": ("cfc351951445", """\
## CLV-klassen

Hetzelfde idee, vooruitkijkend: klanten gerangschikt naar de waarde die het model van hen verwacht (CLV),
verdeeld in de bovenste, de volgende en de onderste klasse."""),
    # ---------------------------------------------------------------- 04: retention campaigns
    "04_retention_roi/cell-00": ("1d50fb7a2c26", """\
# Klantbehoudcampagnes: wie benaderen, wat het kost, wat het oplevert

Een klant houden is meestal goedkoper dan een nieuwe winnen, maar alleen als de campagne minder kost dan de
waarde die ze behoudt. Dit rapport vergelijkt de campagnescenario's uit de runconfiguratie."""),
    "04_retention_roi/cell-03": ("1d60a407e87a", """\
## Eerst de aannames

Elk cijfer hieronder rust op deze aannames. Zo zeker zijn we van elk:

* **Wie dreigt te vertrekken en wat die waard is** komt uit het aankoopmodel (zie het modelrapport):
  het is getoetst op een periode die het niet kende, dus dit is de best onderbouwde invoer.
* **Kosten** (kosten per contact, beloning) zijn bekend uit het campagneplan.
* **Effect** (het aandeel klanten dat anders vertrokken was en dat de campagne behoudt) is een
  **schatting**, tenzij de tabel hieronder zegt dat een campagne met een controlegroep het heeft gemeten
  (pagina 05). Lees de uitkomsten als een bandbreedte, niet als een belofte: de gevoeligheidsgrafiek laat zien
  hoe het antwoord verandert met het effect."""),
    "04_retention_roi/cell-05": ("985cbdaed6e3", "## Hoe de cijfers worden berekend"),
    "04_retention_roi/cell-07": ("f8ba6e75aece", "## De scenario's vergeleken"),
    "04_retention_roi/cell-10": ("8b48eb752cd6", """\
## Hoe het antwoord afhangt van het effect en de kosten

Netto opbrengst voor dezelfde klanten over een raster van effect en kosten per contact. De lijn markeert het
break-evenpunt: aan de ene kant verdient de campagne zichzelf terug, aan de andere kant niet."""),
    "04_retention_roi/cell-12": ("3f68fc1980d4", """\
## Hoeveel klanten benaderen

Klanten gerangschikt naar verwachte extra winst, de beste eerst. De lijn is de opgetelde netto opbrengst
naarmate meer klanten worden benaderd; ze piekt waar één klant meer benaderen meer kost dan het oplevert."""),
    # ---------------------------------------------------------------- 05: measured campaigns
    "05_campaigns/cell-00": ("805a9560edc1", """\
# Wat eerdere campagnes deden: gemeten tegen een controlegroep

Een campagne met een controlegroep beantwoordt wat de scenario's op de campagnepagina alleen kunnen aannemen:
hoeveel klanten heeft het benaderen behouden? De klanten op de lijst zijn verdeeld in een groep die werd
benaderd (behandeld) en een groep die dat niet werd (controle). Wat de controlegroep deed, is wat de
behandelde groep zonder campagne had gedaan; het verschil tussen beide is dus het effect van de campagne."""),
    "05_campaigns/cell-04": ("8d286c8d6331", """\
## De uitkomst van elke campagne

Alle intervallen zijn 95%-intervallen: het bereik waarin het ware cijfer ligt, gegeven de gemeten klanten.
Een interval dat nul bevat, betekent dat het effect van de campagne niet van toeval te onderscheiden is."""),
    "05_campaigns/cell-06": ("5cf7e9b92726", """\
## Leken de groepen op elkaar vóór de campagne?

Een campagne is alleen zo te meten als de groepen willekeurig zijn getrokken: dan lijken ze vóór de start in
alles op elkaar. Een verschil van meer dan een tiende standaarddeviatie (Austin, 2009) wordt gemarkeerd, en
een gemarkeerde campagne krijgt geen oordeel."""),
    "05_campaigns/cell-08": ("36a4ff66c3f3", """\
## Effect per klantsegment

Dezelfde vergelijking binnen elk waarde- en risicosegment. Segmenten tellen veel minder klanten dan de
campagne, dus hun intervallen zijn breed: een segment waarvan het interval nul bevat, toont geen effect dat
van toeval te onderscheiden is, hoe groot de puntschatting ook is. Kies niet het mooiste segment als het
segment dat werkt."""),
    "05_campaigns/cell-targeting-md": ("d2955203d640", """\
## Werkte de selectie?

De campagnepagina rangschikt klanten naar de opbrengst die de kit voorspelt als ze behouden blijven: hun kans
om te vertrekken maal de marge die ze opleveren als ze blijven. Klopt die rangorde, dan reageren de klanten
die ze vooraan zet sterker. Hieronder zijn de klanten op de lijst verdeeld in tien even grote groepen naar die
voorspelde opbrengst, berekend zoals ze vóór de start stonden (groep 1: de hoogste), en is het effect binnen
elke groep gemeten. De grafiek telt de extra kopers op die een campagne had gehad als ze alleen de eerste
groepen had bereikt: een lijn boven de gestippelde willekeurige keuze betekent dat de rangorde de klanten vindt
die een campagne verandert. Net als de segmenten is elke groep klein: lees de intervallen."""),
    "05_campaigns/cell-10": ("221cbcda44bb", """\
## De volgende test plannen

Hoeveel klanten de controlegroep nodig heeft (en de behandelde groep evenveel) om het effect van elk scenario
van toeval te onderscheiden, met 80% onderscheidingsvermogen bij 5% significantie. Het aandeel dat zonder
campagne koopt, komt uit de controlegroep van de eerste gemeten campagne."""),
}
