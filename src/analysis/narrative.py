"""The text cells of the report notebooks in the other report languages, keyed by page and cell.

The notebooks are written in English. For ``report.language: nl`` the pipeline replaces each Markdown cell
of a page with its entry here (:func:`localized`), keyed ``"<notebook>/<cell id>"``. Each entry records a
fingerprint of the English text it translates: when the English cell changes and its translation does not,
the page shows the English text and ``tests/test_narrative.py`` fails, naming the cell. Adding a language is
adding one dictionary to :data:`CATALOGUES`.
"""

from __future__ import annotations

import hashlib


def fingerprint(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``text``: which English text a translation is of."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


NL: dict[str, tuple[str, str]] = {
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

#: Every language other than English, with its catalogue.
CATALOGUES: dict[str, dict[str, tuple[str, str]]] = {"nl": NL}


def localized(page: str, cell_id: str, source: str, lang: str = "en") -> str:
    """The text of Markdown cell ``cell_id`` of notebook ``page`` in ``lang``: its translation when the
    catalogue has one of exactly this English text, else the English text itself."""
    if lang == "en":
        return source
    entry = CATALOGUES.get(lang, {}).get(f"{page}/{cell_id}")
    if entry is None or entry[0] != fingerprint(source):
        return source
    return entry[1]
