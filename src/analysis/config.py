"""The run configuration: one YAML file per run, read once into a typed object.

Unknown or misspelled keys are an error, so a typo never silently falls back
to a default. Relative paths are resolved against the directory the pipeline
runs from (the project root when started through ``make``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.business.campaigns import Campaign
from analysis.errors import ConfigError
from analysis.model_names import COMPARED_BY_DEFAULT, MODEL_NAMES
from analysis.business.roi import RoiParams
from analysis.business.segments import SegmentParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnNames(_Strict):
    """Names of the three columns the kit needs in the transaction file."""

    customer_id: str = "customer_id"
    date: str = "date"
    amount: str = "amount"


class DataParams(_Strict):
    """Where the transactions are and how to read them."""

    path: Path = Field(description="The transaction file; relative paths start at the project folder, ~ is your"
                       " home folder. Taken literally: * ? [ ] in a file name are not wildcards.")
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: ColumnNames = ColumnNames()
    date_format: str | None = Field(
        default=None,
        description="strptime format such as '%Y%m%d' or '%d/%m/%Y'; '%s' or '%ms' for epoch seconds or"
        " milliseconds (days in data.timezone, UTC if not set); null reads ISO dates (YYYY-MM-DD).",
    )
    timezone: str | None = Field(
        default=None,
        description="For timestamps with a time zone (e.g. Parquet timestamp[ns, tz=UTC]): the zone whose calendar"
        " day is the purchase day, e.g. 'Europe/Amsterdam'. null: the file's own zone (UTC if it names none). The"
        " machine's zone never matters. Timestamps without a zone keep their own date.",
    )
    decimal: Literal[".", ","] = "."
    thousands: Literal[".", ",", " ", "'"] | None = Field(
        default=None,
        description="Thousands separator in the amounts, e.g. '.' for Dutch exports (1.249,00 with decimal ',');"
        " null: amounts have none. Groups must be of three digits.",
    )
    delimiter: str | None = Field(default=None, description="CSV delimiter; null lets DuckDB detect it.")
    returns: Literal["drop", "net", "error"] = Field(
        default="drop",
        description=(
            "Rows with a negative amount: 'drop' leaves them out (counted), 'net' subtracts them from"
            " the same customer's purchases, latest first (a return takes back from the purchase day it"
            " falls on, then from the ones before it; see analysis.data.ingest.NET_RETURNS_SQL), 'error' stops the run."
        ),
    )
    zero_amounts: Literal["keep", "drop"] = Field(
        default="keep",
        description="Rows with amount 0: 'keep' counts them as purchases (e.g. free items), 'drop' leaves them out.",
    )
    duplicates: Literal["keep", "drop"] = Field(
        default="keep",
        description="Exact duplicate rows: 'keep' treats them as separate lines, 'drop' keeps one of each.",
    )

    @field_validator("timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use a name such as 'UTC' or 'Europe/Amsterdam'")
        return value

    @field_validator("path", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser() if str(value).startswith("~") else value

    @model_validator(mode="after")
    def _separators_differ(self) -> "DataParams":
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(
                f"thousands ({self.thousands!r}) and decimal ({self.decimal!r}) must be different separators;"
                " a Dutch export such as 1.249,00 has decimal: ',' and thousands: '.'"
            )
        return self


class PeriodParams(_Strict):
    """The dates that define the analysis."""

    observation_end: dt.date | None = Field(
        default=None, description="Last day of data used; null means the last transaction date."
    )
    calibration_end: dt.date | None = Field(
        default=None,
        description="Models are fitted up to this day and checked on the rest; null means"
        " `holdout_days` before the observation end.",
    )
    holdout_days: int = Field(default=182, gt=0)
    min_calibration_days: int = Field(
        default=90, gt=0, description="Shortest calibration period (first transaction to calibration end) a report"
        " is made for; an earlier as-of date stops with a one-line 'not enough history' message.")
    time_unit: Literal["D", "W"] = Field(
        default="W", description="Unit of recency, T and model time: days, or weeks of 7 days."
    )

    @model_validator(mode="after")
    def _not_in_the_future(self) -> "PeriodParams":
        today = dt.date.today()
        for name in ("observation_end", "calibration_end"):
            value = getattr(self, name)
            if value is not None and value > today:
                raise ValueError(f"{name} ({value}) is after today ({today}): a report can only describe days"
                                 " that have passed. Leave observation_end empty to use the last transaction date.")
        return self

    @model_validator(mode="after")
    def _calibration_before_end(self) -> "PeriodParams":
        if self.calibration_end and self.observation_end and self.calibration_end >= self.observation_end:
            raise ValueError(
                f"calibration_end ({self.calibration_end}) must be before observation_end"
                f" ({self.observation_end}): the models are checked on the days in between"
            )
        return self


class KpiParams(_Strict):
    """How the retention KPIs are computed."""

    period: Literal["M", "Q"] = Field(default="M", description="Period of the KPI series: month or quarter.")
    active_window_days: int = Field(
        default=90, gt=0, description="A customer is active if they bought in this many days up to the observation end."
    )


class CovariateParams(_Strict):
    """A file of customer characteristics whose effects on buying and dropping out page 02 estimates."""

    path: str = Field(min_length=1, description="CSV or Parquet, one row per customer: the id and the characteristics"
                      " (numbers, or text such as a channel or region: each value becomes a 0/1 column).")
    customer_id: str = Field(default="customer_id", description="The column with the customer id.")
    columns: list[str] | None = Field(default=None, description="The characteristics to use; default: every other"
                                      " column.")


class DiscreteParams(_Strict):
    """BG/BB on page 02, for customers with one chance to buy per period (analysis.scoring.discrete)."""

    period: Literal["Y", "Q", "M", "W"] = Field(
        description="The period that gives a customer one chance to buy: Y (year: a yearly donation drive, an annual"
        " event), Q (quarter), M (month) or W (week, Monday to Sunday). Several purchases in one period count once.")
    horizon_periods: int | None = Field(
        default=None, gt=0, le=520, description="Periods ahead of the expected transactions; null: the CLV horizon"
        " (clv.horizon_months) in periods, at least one.")

    @field_validator("period", mode="before")
    @classmethod
    def _known_period(cls, value):
        if value not in ("Y", "Q", "M", "W"):
            raise ValueError(f"must be Y (year), Q (quarter), M (month) or W (week), got {value!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _period_alone(cls, value):
        if isinstance(value, str):  # models.discrete: Y, a shorthand for {period: Y}
            return {"period": value}
        return value


ModelName = Literal[MODEL_NAMES]
"""A registered purchase model (:mod:`analysis.models.registry`)."""
ModelChoice = Literal[(*MODEL_NAMES, "auto")]


class ModelParams(_Strict):
    """Which purchase model to use and how to fit it."""

    model: ModelChoice = Field(
        default="auto", description="The purchase model that scores the customers. 'auto': of Pareto/NBD and MBG/NBD"
        " (in which a customer who stays silent becomes less likely to be still a customer), the one with the smaller"
        " holdout error; BG/NBD keeps one-time buyers 'alive' forever, so it is used only when chosen by name or when"
        " neither of the others can be fitted. A model that cannot be fitted is replaced by one that can, with a"
        " note in the report.")
    compare: list[ModelName] = Field(
        default_factory=lambda: list(COMPARED_BY_DEFAULT),
        description="The purchase models fitted and compared on the holdout period.")
    penalizer: float = Field(default=0.0, ge=0)
    n_draws: int = Field(default=200, ge=20, description="Parameter draws for the CLV bands.")
    interval_level: float = Field(default=0.90, gt=0, lt=1)
    seed: int = 20050101
    covariates: CovariateParams | None = Field(
        default=None, description="Customer characteristics (acquisition channel, first order value, region, ...):"
        " page 02 estimates how each changes the pace of buying and of dropping out (Pareto/NBD with covariates).")
    discrete: DiscreteParams | None = Field(
        default=None, description="For customers with one chance to buy per period (yearly donations, annual events,"
        " renewals): page 02 adds BG/BB on whole periods, checked on the holdout periods. null: off.")


class ClvParams(_Strict):
    """Customer lifetime value settings; units are in the names."""

    horizon_months: int = Field(default=12, gt=0, le=120)
    annual_discount_rate: float = Field(default=0.10, ge=0, lt=1)
    gross_margin: float = Field(default=0.30, gt=0, le=1)


class ReportParams(_Strict):
    """How the reports look."""

    title: str | None = Field(default=None, description="Heading of the reports. null: 'Customer retention and"
                              " lifetime value' in the report language.")
    language: str = Field(default="en", description="Report language: en, or a language with a catalogue in"
                          " analysis.reporting.i18n.CATALOGUES (nl).")
    currency: str | None = Field(
        default=None, description="ISO 4217 code (EUR, USD, GBP, ...) or one of the symbols $ € £ ¥; written as the"
        " report language writes it (nl: € 1.234, en: €1,234). null: EUR for nl, USD for en.")

    def heading(self) -> str:
        """The title as configured, or the default title in the report language."""
        from analysis.reporting.i18n import say

        return self.title or say("Customer retention and lifetime value", self.language)

    @field_validator("language", mode="after")
    @classmethod
    def _known_language(cls, value: str) -> str:
        from analysis.reporting.i18n import LANGUAGES

        if value not in LANGUAGES:
            raise ValueError(f"report.language must be one of {', '.join(LANGUAGES)} (a language with a catalogue"
                             f" in analysis.reporting.i18n.CATALOGUES), got {value!r}")
        return value

    @field_validator("currency", mode="after")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        from analysis.reporting.fmt import currency_code

        if value is not None:
            currency_code(value)  # raises ValueError with what is accepted
        return value


class PrivacyParams(_Strict):
    """Personal data in what leaves the machine (see analysis.privacy and the README)."""

    key_file: Path | None = Field(
        default=None,
        description="File with the secret key of the customer pseudonyms, outside the repository. null: the"
        " environment variable RETENTION_KIT_PSEUDONYM_KEY, else ~/.config/retention-kit/pseudonym.key (created"
        " with a random key on the first run).",
    )
    crm_export_real_ids: bool = Field(
        default=False,
        description="true: at_risk_high_value.csv (the CRM export) has the real customer ids. The HTML reports and"
        " targets_<scenario>.csv always show pseudonyms; customers.parquet always has the real ids.",
    )


class SparkParams(_Strict):
    """The Spark engine (``engine: spark``); see bench/README.md."""

    master: str | None = Field(default="local[2]", description="'local[N]': Spark on this machine with N threads;"
                               " null: the session of spark-submit or the Databricks job.")
    app_name: str = "retention-kit"
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings, e.g. spark.sql.shuffle.partitions.")


class RunParams(_Strict):
    """One run of the pipeline."""

    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="Who reads and reduces the transaction file: DuckDB on this machine,"
        " or Spark (optional install: make setup-spark).")
    spark: SparkParams = SparkParams()
    data: DataParams
    period: PeriodParams = PeriodParams()
    kpis: KpiParams = KpiParams()
    models: ModelParams = ModelParams()
    clv: ClvParams = ClvParams()
    segments: SegmentParams = SegmentParams()
    roi: RoiParams = RoiParams()
    report: ReportParams = ReportParams()
    privacy: PrivacyParams = PrivacyParams()
    campaigns: list[Campaign] = Field(
        default_factory=list, description="Past campaigns with a control group, measured on page 05"
        " (see analysis.business.campaigns).")

    @model_validator(mode="after")
    def _campaign_names_unique(self) -> "RunParams":
        names = [c.name for c in self.campaigns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"campaign names must be unique; repeated: {repeated}")
        for s in self.roi.scenarios:
            wanted = getattr(s.uplift, "measured", None)
            if wanted is not None and wanted not in names:
                raise ValueError(f"roi scenario {s.name!r} takes its uplift from campaign {wanted!r}, which is not in"
                                 f" the campaigns: section (campaigns: {names or 'none'})")
        return self

    @model_validator(mode="after")
    def _scenario_horizons_match(self) -> "RunParams":
        wrong = [s.name for s in self.roi.scenarios if s.horizon_months != self.clv.horizon_months]
        if wrong:
            raise ValueError(
                f"roi scenario(s) {wrong} use a horizon other than clv.horizon_months ({self.clv.horizon_months}):"
                " the customer scores are computed for that horizon, so set the scenarios' horizon_months to it"
            )
        return self


class _DuplicateKey(yaml.YAMLError):
    """A mapping of the configuration names a key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: a second
    ``period:`` block must not silently replace the first."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(f"the key {key!r} is given twice (lines {seen[key] + 1} and"
                                    f" {key_node.start_mark.line + 1}); remove or merge one of them")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_params(path: str | Path) -> RunParams:
    """Read and validate a run configuration.

    Parameters
    ----------
    path
        A YAML file such as ``params/default.yaml``.

    Returns
    -------
    RunParams
        The validated, immutable configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or has unknown, missing or invalid keys.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"Run configuration {path} is a folder, not a file. Pass a YAML file, e.g."
                          " PARAMS=params/default.yaml")
    if not path.is_file():
        raise ConfigError(f"Run configuration not found: {path}. Pass an existing file, e.g. PARAMS=params/default.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"Run configuration {path} is not a text file (not UTF-8): pass the YAML file, e.g."
                          " a copy of params/default.yaml") from None
    except OSError as exc:
        raise ConfigError(f"Run configuration {path} cannot be read ({exc.strerror or exc}).") from None
    if "\x00" in text:
        raise ConfigError(f"Run configuration {path} is a binary file, not YAML: pass the YAML file, e.g. a copy"
                          " of params/default.yaml")
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(f"Run configuration {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Run configuration {path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"Run configuration {path} is nested too deeply to be a run configuration: pass a"
                          " copy of params/default.yaml") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"Run configuration {path} must be a mapping of sections (data:, period:, ...)")
    try:
        return RunParams.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = "unknown key (check the spelling)" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"  - {where}: {msg}")
        raise ConfigError(f"Run configuration {path} has {len(problems)} problem(s):\n" + "\n".join(problems)) from None


def params_to_dict(params: RunParams) -> dict:
    """The configuration as plain JSON-able data, for the manifest."""
    return params.model_dump(mode="json")


# --------------------------------------------------------------------------- what each step reads

#: The top-level sections of a run configuration.
SECTIONS: tuple[str, ...] = tuple(RunParams.model_fields)

#: Reading one of these reads every section (a dump, a copy, a comparison of the whole configuration).
_WHOLE = frozenset({"model_dump", "model_dump_json", "model_copy", "__dict__", "__repr__", "__str__", "__eq__",
                    "__iter__", "__getstate__", "__copy__", "__deepcopy__"})


def section_digests(params: RunParams) -> dict[str, str]:
    """``{section: sha256}`` of each top-level section's resolved values (defaults filled in), so a comment or
    a reformatted file changes nothing and a changed value changes exactly its section."""
    import hashlib
    import json

    dumped = params.model_dump(mode="json")
    return {name: hashlib.sha256(json.dumps(dumped[name], sort_keys=True).encode()).hexdigest() for name in SECTIONS}


def recording(params: RunParams, record: "Path") -> RunParams:
    """``params`` as an object that writes to ``record`` (JSON, a sorted list) every top-level section the code
    reads from it: what a notebook step depends on, checked by the pipeline against its declared sections.
    Anything that reads the configuration as a whole (a dump, a copy, printing it) counts as every section."""
    import json

    seen: set[str] = set()

    def saw(names) -> None:
        new = set(names) - seen
        if new:
            seen.update(new)
            record.write_text(json.dumps(sorted(seen)) + "\n", encoding="utf-8")

    class Recorded(type(params)):
        def __getattribute__(self, name):
            if name in SECTIONS:
                saw([name])
            elif name in _WHOLE:
                saw(SECTIONS)
            return super().__getattribute__(name)

    Recorded.__name__ = Recorded.__qualname__ = type(params).__name__
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("[]\n", encoding="utf-8")
    return Recorded.model_construct(_fields_set=set(params.model_fields_set),
                                    **{name: getattr(params, name) for name in SECTIONS})
