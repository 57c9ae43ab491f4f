"""Labels in the report language: English (default) or Dutch (``report.language: nl``).

The kit is written in English; :func:`translate` maps known English labels
(KPI names, segment names, chart titles and axis labels) to Dutch, and
:func:`translate_figure` applies it to a finished matplotlib figure. Unknown
text is left as it is, so a missing entry shows English rather than nothing.
"""

from __future__ import annotations

import re

NL: dict[str, str] = {
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
    "Uplift (% of would-be-lost customers kept)": "Effect (% behouden van klanten die anders vertrekken)",
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
    # page 05: measured campaigns (analysis.campaigns)
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
    # captions, notes and table captions of the pages (fixed text; analysis.nb translates them)
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
    'No campaign with a control group has been measured in this report. (For the analyst: add a campaigns: section to the run configuration with the contact list, its customer id and group (treatment or control), the start date, the window and the costs; see params/default.yaml.)':
        'In dit rapport is geen campagne met een controlegroep gemeten. (Voor de analist: voeg aan de runconfiguratie een onderdeel campaigns: toe met de contactlijst, het klantnummer en de groep (treatment of control), de startdatum, de meetperiode en de kosten; zie params/default.yaml.)',
    "Simulated campaign: the contact list was drawn at random from the customers by the kit's simulator (analysis.campaigns.simulate_contact_list) and nobody was contacted, so its true effect is zero. It shows what this page looks like, and what it says when a campaign did nothing; it is not a result.":
        'Gesimuleerde campagne: de contactlijst is willekeurig uit de klanten getrokken door de simulator van de kit (analysis.campaigns.simulate_contact_list) en niemand is benaderd, dus het ware effect is nul. Ze laat zien hoe deze pagina eruitziet en wat ze zegt als een campagne niets deed; het is geen uitkomst.',
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
    # since the last report (analysis.history)
    "Key figures across reports": "Kerncijfers per rapport",
    "report date (data up to)": "rapportdatum (gegevens tot en met)",
    # reports/index.html (analysis.series)
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
}

# Labels with a variable part: (pattern, Dutch template using the groups).
NL_PATTERNS: list[tuple[str, str]] = [
    (r"^Customers who bought, per month$", "Klanten die kochten, per maand"),
    (r"^Customers who bought, per quarter$", "Klanten die kochten, per kwartaal"),
    (r"^Retention and churn per month$", "Klantbehoud en churn per maand"),
    (r"^Retention and churn per quarter$", "Klantbehoud en churn per kwartaal"),
    (r"^Revenue per month$", "Omzet per maand"),
    (r"^Revenue per quarter$", "Omzet per kwartaal"),
    (r"^revenue \((.+)\)$", r"omzet (\1)"),
    (r"^Share of customers and of expected value by (.+)$", r"Aandeel klanten en verwachte klantwaarde per \1"),
    (r"^Customers and expected value \((.+)\) by value and risk$", r"Klanten en verwachte waarde (\1) naar waarde en risico"),
    (r"^expected value \((.+)\)$", r"verwachte waarde (\1)"),
    (r"^Expected net gain \((.+)\)$", r"Verwachte netto opbrengst (\1)"),
    (r"^Cost per contact \((.+)\)$", r"Kosten per contact (\1)"),
    (r"^Expected net gain \((.+)\): red loses, green gains$", r"Verwachte netto opbrengst (\1): rood verlies, groen winst"),
    (r"^Cumulative expected net gain \((.+)\)$", r"Cumulatieve verwachte netto opbrengst (\1)"),
    (r"^Best: contact (.+) customers, (.+)$", r"Beste: benader \1 klanten, \2"),
    (r"^Net gain over uplift and cost per contact: (.+)$", r"Netto opbrengst naar effect en kosten per contact: \1"),
    (r"^Bought in the last (\d+) days \((.+) of all\)\.$", r"Kocht in de laatste \1 dagen (\2 van alle klanten)."),
    (r"^Of last month's buyers, the share who bought again in the latest month\.$",
     "Van de kopers van vorige maand het aandeel dat deze maand opnieuw kocht."),
    (r"^Of last quarter's buyers, the share who bought again in the latest quarter\.$",
     "Van de kopers van vorig kwartaal het aandeel dat dit kwartaal opnieuw kocht."),
    (r"^1 - retention rate, latest month\.$", "1 - klantbehoud, laatste maand."),
    (r"^1 - retention rate, latest quarter\.$", "1 - klantbehoud, laatste kwartaal."),
    (r"^Discounted margin expected from today's customers in the next (\d+) months; (.+) band (.+)\.$",
     r"Verdisconteerde marge die de huidige klanten in de komende \1 maanden naar verwachting opleveren; \2-band \3."),
    (r"^Worth (.+) together; see the at-risk list\.$", r"Samen goed voor \1; zie de lijst van klanten die dreigen te vertrekken."),
    (r"^Scenario (.+): ROI (.+), (.+) customers contacted\.$", r"Scenario \1: ROI \2, \3 klanten benaderd."),
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
    (r"^time since the start \((weeks|days)\)$", r"tijd sinds de start (\1)"),
]

_TRANSLATIONS = {"nl": (NL, [(re.compile(p), r) for p, r in NL_PATTERNS])}


def translate(text: str, lang: str = "en") -> str:
    """The label in ``lang``; unknown labels (and English) come back unchanged."""
    if lang == "en" or not text:
        return text
    exact, patterns = _TRANSLATIONS.get(lang, ({}, []))
    if text in exact:
        return exact[text]
    for pattern, replacement in patterns:
        if pattern.search(text):
            return pattern.sub(replacement, text).replace("weeks", "weken").replace("days", "dagen")
    return text


def translate_figure(fig, lang: str = "en"):
    """Translate titles, axis labels, category tick labels, legends and annotations of ``fig``, and write the
    numbers and dates of its default tick labels as ``lang`` writes them (:func:`analysis.fmt.localize_figure`)."""
    from analysis import fmt

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
    """A copy of ``df`` with string cells and column names translated."""
    if lang == "en":
        return df
    out = df.rename(columns=lambda c: translate(str(c), lang))
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("category", "string"):
            out[col] = out[col].astype(object).map(lambda v: translate(v, lang) if isinstance(v, str) else v)
    return out


#: How far a forecast was from what happened, in words: one sign convention for every page.
_MODEL_ERROR = {
    "too_high": {"en": "{pct} too high", "nl": "{pct} te hoog"},
    "too_low": {"en": "{pct} too low", "nl": "{pct} te laag"},
    "spot_on": {"en": "spot on", "nl": "precies goed"},
}


def model_error(forecast: float, actual: float, lang: str = "en") -> str:
    """The forecast against what happened, in words: '5.3% too low' when the model expected 5.3% fewer than
    happened, '0.8% too high' when it expected more, 'spot on' within 0.05%; 'n/a' without an actual. The
    share is written in the report's notation (:mod:`analysis.fmt`)."""
    from analysis import fmt

    if not actual or forecast is None or forecast != forecast:
        return "n/a"
    error = (forecast - actual) / actual
    if abs(error) < 0.0005:
        return _MODEL_ERROR["spot_on"].get(lang, _MODEL_ERROR["spot_on"]["en"])
    entry = _MODEL_ERROR["too_high" if error > 0 else "too_low"]
    return entry.get(lang, entry["en"]).format(pct=fmt.current().percent(abs(error)))
