"""Typed run configuration: pydantic models, safe YAML loading, dotted ``--set`` overrides.

Validation happens once, here, at the edge. Every error is one line naming the file and
the key path (strategies are addressed by name: ``strategies.sixty_forty.params.weights``),
with a "did you mean" when a close key exists.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import (
    Strict as StrictMode,
)

from backtest.constants import REGIME_MODELS
from backtest.data.registry import check_macro_source, check_source
from backtest.errors import ConfigError
from backtest.safe_io import find_non_finite, load_yaml_text, read_text_file
from backtest.units import role_error

# Documented limits (docs/config.md): every number must be finite and inside its range.
MAX_BPS = 10_000.0  # fees, slippage, borrow: at most 100 % (10,000 bp)
MAX_LEVERAGE = 100.0
MAX_SPREAD_BPS = 2_000.0  # financing spread and short-rebate haircut: at most 20 % a year
MAX_SEED = 2**32 - 1  # numpy seeds
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)

DEFAULT_UNIVERSE = [
    "SPY",
    "IWM",
    "QQQ",
    "GLD",
    "DBC",
    "TIP",
    "VNQ",
    "BIL",
    "SHY",
    "IEF",
    "TLT",
    "AGG",
    "HYG",
    "UUP",
    "SVXY",
    "VIXY",
]
DEFAULT_MACRO = [
    "VIX",
    "VIX3M",
    "DGS2",
    "DGS10",
    "DTB3",
    "DGS3MO",
    "SOFR",
    "IORB",
    "DFEDTARU",
    "WALCL",
    "WRESBAL",
    "RRPONTSYD",
    "WDTGAL",
    "TREAST",
    "CPIAUCSL",
]


# ---------------------------------------------------------------------------- strict inputs
#: The one rule for every number, flag and name a user can type (run configs, strategy
#: params, optimizer and regime params, scenario files; YAML, ``--set`` and the API alike):
#: unknown keys are errors and scalars are never coerced. A boolean, a string or a null is
#: not a number (``weights: {SPY: true}``, ``fee_bps: "5"``), an integer key takes only an
#: integer (``lag_days: 1.5`` or ``true`` are errors), a text key takes only text (a YAML
#: ``NO`` is not the ticker NO). Every input model takes this ``model_config``.
STRICT_INPUT = ConfigDict(extra="forbid", strict=True)


def iso_date(v: Any) -> Any:
    """Before-validator of :data:`IsoDate`: a date object or a ``YYYY-MM-DD`` string, never a number."""
    if isinstance(v, bool | int | float):  # 0 would silently mean 1970-01-01
        raise ValueError(f"expected a date YYYY-MM-DD, got the number {v!r}")
    if isinstance(v, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            raise ValueError(f"expected a date YYYY-MM-DD, got {v!r}")
        return v.strip()
    return v


#: A date key: a YAML date or an ISO ``YYYY-MM-DD`` text (``--set``, the API, saved configs).
IsoDate = Annotated[date, StrictMode(False), BeforeValidator(iso_date)]


class Strict(BaseModel):
    """Base model: unknown keys are errors, scalars strict (:data:`STRICT_INPUT`), assignments validated."""

    model_config = ConfigDict(**STRICT_INPUT, validate_assignment=True)


class AllowEntry(Strict):
    """A known real price event accepted on purpose (``data.allow``; see ``backtest.data.sanity``)."""

    series: str = Field(..., min_length=1, max_length=32)
    date: IsoDate
    kind: Literal["price", "spike", "split", "jump", "closed_day"]


class DataConfig(Strict):
    """Where prices and macro series come from."""

    source: str = Field("sample", description="a registered data source (backtest.data.registry.SOURCES)")
    macro_source: str | None = Field(
        None, description="default: the source's own (fred for yahoo)"
    )
    dir: str | None = Field(None, description="csv folder; --data-dir overrides")
    start: IsoDate | None = None
    end: IsoDate | None = None
    universe: list[str] = Field(default_factory=lambda: list(DEFAULT_UNIVERSE), min_length=1)
    macro: list[str] = Field(default_factory=lambda: list(DEFAULT_MACRO))
    refresh: bool = False
    seed: int = Field(7, ge=0, le=MAX_SEED, description="seed of the synthetic sample market")
    allow: list[AllowEntry] = Field(default_factory=list, max_length=10_000,
                                    description="price events accepted on purpose (series, date, kind)")
    units: dict[str, Literal["percent", "index points", "usd millions", "usd billions", "index", "level"]] = Field(
        default_factory=dict, description="units of macro series rmpbt does not know (needed to fill a role)")
    stale: Literal["error", "warn"] = Field(
        "error", description="a series in a role ending too long before the run's end: error, or warn and carry on")

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return check_source(v)

    @field_validator("macro_source")
    @classmethod
    def _macro_source(cls, v: str | None, info: ValidationInfo) -> str | None:
        return v if v is None else check_macro_source(v, info.data.get("source"))

    @field_validator("start", "end")
    @classmethod
    def _date_range(cls, v: date | None) -> date | None:
        if v is not None and not MIN_DATE <= v <= MAX_DATE:
            raise ValueError(f"date {v} outside {MIN_DATE}..{MAX_DATE}")
        return v

    @field_validator("universe", "macro")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for t in v:
            if not t or not t.strip() or any(c in t for c in "/\\\0") or len(t) > 32:
                raise ValueError(f"bad ticker or series name {t!r}")
            if t in seen:
                raise ValueError(f"{t!r} listed twice")
            seen.add(t)
        return v

    @model_validator(mode="after")
    def _check(self) -> "DataConfig":
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class RebalanceConfig(Strict):
    """When target weights are re-decided."""

    every: Literal["daily", "weekly", "monthly", "quarterly"] = "monthly"
    drift_band: float | None = Field(
        None,
        ge=0,
        le=1,
        description="rebalance only if some weight drifted more than this from target",
    )


class ExecutionConfig(Strict):
    """Decision-to-fill lag and leverage."""

    lag_days: int = Field(1, ge=0, le=20)
    max_gross_leverage: float = Field(2.0, gt=0, le=MAX_LEVERAGE)


class CostsConfig(Strict):
    """Trading and financing costs."""

    fee_bps: float = Field(0.0, ge=0, le=MAX_BPS)
    slippage_bps: float = Field(0.0, ge=0, le=MAX_BPS)
    borrow_bps: float = Field(
        50.0, ge=0, le=MAX_BPS, description="annual borrow fee on short positions"
    )
    borrow_bps_by_asset: dict[str, float] = Field(default_factory=dict)

    @field_validator("borrow_bps_by_asset")
    @classmethod
    def _per_asset(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if not math.isfinite(x) or not 0 <= x <= MAX_BPS:
                raise ValueError(f"{k}: {x!r} bp is outside 0..{MAX_BPS:g}")
        return v


class CashConfig(Strict):
    """What uninvested cash earns."""

    rate: str = Field("none", description="none, or a series id such as DTB3")
    borrow_spread_bps: float = Field(
        50.0, ge=0, le=MAX_SPREAD_BPS, allow_inf_nan=False,
        description="annual spread over the cash rate paid on negative cash (leverage)",
    )
    short_rebate_haircut_bps: float = Field(
        25.0, ge=0, le=MAX_SPREAD_BPS, allow_inf_nan=False,
        description="annual haircut below the cash rate on short proceeds (accrues on the short leg)",
    )


class RegimeConfig(Strict):
    """Which regime model labels the days."""

    model: str = Field("calendar", description="a registered regime model (backtest.constants.REGIME_MODELS)")
    by: Literal["effective", "announced"] = "effective"
    calendar: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v not in REGIME_MODELS:
            close = difflib.get_close_matches(v, list(REGIME_MODELS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(REGIME_MODELS)}"
            raise ValueError(f"unknown regime model {v!r} ({hint})")
        return v


class ReportConfig(Strict):
    """Report outputs."""

    html: bool = True
    png: bool = True


class StrategyConfig(Strict):
    """One strategy: a unique name, a registered kind, its params (validated by the kind)."""

    name: str
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in " ./="):
            raise ValueError(
                f"strategy name {v!r} must be non-empty without spaces, dots, '/' or '='"
            )
        return v


class EpisodeConfig(Strict):
    """A named window for ``rmpbt evidence``'s episode replay (both ends included)."""

    name: str = Field(..., min_length=1, max_length=80)
    start: IsoDate
    end: IsoDate

    @field_validator("start", "end")
    @classmethod
    def _date_range(cls, v: date) -> date:
        return DataConfig._date_range(v)

    @model_validator(mode="after")
    def _order(self) -> "EpisodeConfig":
        if self.end < self.start:
            raise ValueError(f"episode {self.name!r}: end {self.end} is before start {self.start}")
        return self


#: Optimizer objectives in return units, whose unset ``turnover_penalty`` defaults to the
#: configured fee + slippage (``min_variance`` is in variance units; ``max_sharpe`` and
#: ``risk_parity`` take no penalty).
COST_PENALTY_OBJECTIVES = ("mean_variance", "tracking_error", "min_cvar")


class RunConfig(Strict):
    """A whole run: data, schedule, costs, cash, regimes and strategies."""

    name: str = Field("run", min_length=1, max_length=200)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    data: DataConfig = Field(default_factory=DataConfig)
    rebalance: RebalanceConfig = Field(default_factory=RebalanceConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    cash: CashConfig = Field(default_factory=CashConfig)
    regimes: RegimeConfig = Field(default_factory=RegimeConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    benchmark: str | None = Field(None, description="strategy name used as the baseline in reports")
    strategies: list[StrategyConfig]
    episodes: list[EpisodeConfig] | None = Field(
        None, description="extra named windows for rmpbt evidence (name, start, end)")

    @model_validator(mode="after")
    def _unique(self) -> "RunConfig":
        names = [e.name for e in self.episodes or []]
        if len(set(names)) < len(names):
            raise ValueError(f"episodes: name {next(n for n in names if names.count(n) > 1)!r} listed twice")
        seen: set[str] = set()
        for s in self.strategies:
            if s.name in seen:
                raise ValueError(f"duplicate strategy name {s.name!r}")
            seen.add(s.name)
        if not self.strategies:
            raise ValueError("no strategies")
        if self.benchmark is not None and self.benchmark not in seen:
            close = difflib.get_close_matches(self.benchmark, sorted(seen), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"benchmark {self.benchmark!r} is not a strategy name{hint}")
        rate = self.cash.rate
        if rate.lower() != "none" and rate not in ("DTB3", "cash_rate"):
            why = role_error("cash.rate", rate, self.data.units)
            if why is not None:
                raise ValueError(f"cash.rate: {why}")
        self._cost_turnover_penalty()
        return self

    def _cost_turnover_penalty(self) -> None:
        """Default an optimizer's ``turnover_penalty`` to the configured costs (issue 24).

        A strategy's ``params.optimizer`` block with an objective in return units
        (:data:`COST_PENALTY_OBJECTIVES`) that does not set ``turnover_penalty`` gets the cost
        of trading one unit of NAV: ``fee_bps / 1e4 + slippage_bps / 1e4`` (the same number as
        :meth:`backtest.execution.spec.Costs.trade_cost` of 1.0; a test holds them equal).
        Written into the config, so saved configs and the hash show it.
        """
        kappa = self.costs.fee_bps / 1e4 + self.costs.slippage_bps / 1e4
        for s in self.strategies:
            block = s.params.get("optimizer")
            if (not isinstance(block, dict) or "turnover_penalty" in block
                    or block.get("objective", "mean_variance") not in COST_PENALTY_OBJECTIVES):
                continue
            s.params = {**s.params, "optimizer": {**block, "turnover_penalty": kappa}}

    def resolved_dict(self) -> dict[str, Any]:
        """The config as plain data (JSON/YAML-ready); ``episodes`` only when set."""
        out = json.loads(self.model_dump_json())
        if out.get("episodes") is None:
            out.pop("episodes", None)
        return out

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved config (16 hex digits)."""
        blob = json.dumps(self.resolved_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def settings_record(self) -> dict[str, Any]:
        """The key execution settings every run folder's ``provenance.json`` records (``settings``)."""
        return {
            "rebalance": self.rebalance.every,
            "drift_band": self.rebalance.drift_band,
            "lag_days": self.execution.lag_days,
            "fee_bps": self.costs.fee_bps,
            "slippage_bps": self.costs.slippage_bps,
            "borrow_bps": self.costs.borrow_bps,
            "cash_rate": self.cash.rate,
            "borrow_spread_bps": self.cash.borrow_spread_bps,
            "short_rebate_haircut_bps": self.cash.short_rebate_haircut_bps,
            "regime_model": self.regimes.model,
            "regime_by": self.regimes.by,
        }


# ---------------------------------------------------------------------------- errors


def _fields_of(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean), walking nested models."""
    cur: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = getattr(cur, "model_fields", {}).get(part)
        if fld is None:
            return []
        ann = fld.annotation
        args = getattr(ann, "__args__", ())
        cand = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not cand:
            return []
        cur = cand[0]
    return list(getattr(cur, "model_fields", {}).keys())


_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "string_type": "text",
    "bool_type": "true or false",
    "date_type": "a date YYYY-MM-DD",
    "dict_type": "a mapping",
    "list_type": "a list",
}


def describe_input(v: Any) -> str:
    """How a refused scalar is named in a message: ``the boolean true``, ``the text '5'``, ``null``."""
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if v is None:
        return "null"
    if isinstance(v, str):
        return f"the text {v!r}"
    if isinstance(v, float | int):
        return f"{v:g}" if isinstance(v, float) else str(v)
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list | tuple):
        return "a list"
    return repr(v)


def format_validation_error(
    exc: ValidationError,
    origin: str,
    model: type[BaseModel],
    prefix: str = "",
    raw: dict[str, Any] | None = None,
) -> str:
    """Turn the first pydantic error into one line: ``file: key.path: message``."""
    errors = exc.errors()
    # An unknown key usually explains a "missing" one (a typo): report it first.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    parts: list[str] = []
    for i, p in enumerate(loc):
        if isinstance(p, int) and i > 0 and loc[i - 1] == "strategies" and raw is not None:
            try:
                parts[-1] = f"strategies.{raw['strategies'][p]['name']}"
                continue
            except (KeyError, IndexError, TypeError):
                pass
        parts.append(str(p))
    path = ".".join(([prefix] if prefix else []) + parts)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = _fields_of(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = f"unknown key {loc[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif err["type"] == "missing":
        msg = "required key missing"
    elif err["type"] in _EXPECTED:
        msg = f"expected {_EXPECTED[err['type']]}, got {describe_input(err.get('input'))}"
    else:
        msg = msg.replace("Value error, ", "")
        if "input" in err and err["type"] not in ("value_error",):
            msg += f" (got {describe_input(err['input'])})"
    where = f"{path}: " if path else ""
    return f"{origin}: {where}{msg}"


# ---------------------------------------------------------------------------- overrides


def parse_value(text: str) -> Any:
    """Parse an override value as YAML (numbers, booleans, lists, null, strings)."""
    from backtest.safe_io import StrictLoader

    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, ValueError, RecursionError):
        return text


def apply_override(raw: dict[str, Any], dotted: str, value: Any, origin: str = "--set") -> None:
    """Set ``raw[dotted] = value`` in place, creating intermediate mappings.

    Raises
    ------
    ConfigError
        If the path is empty or walks through a value that is not a mapping.
    """
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"{origin} {dotted}: empty key in dotted path")
    cur: Any = raw
    for i, part in enumerate(parts[:-1]):
        if not isinstance(cur, dict):
            raise ConfigError(f"{origin} {dotted}: {'.'.join(parts[:i])} is not a mapping")
        if cur.get(part) is None:
            cur[part] = {}
        cur = cur[part]
    if not isinstance(cur, dict):
        raise ConfigError(f"{origin} {dotted}: {'.'.join(parts[:-1])} is not a mapping")
    cur[parts[-1]] = value


def _apply_sets(raw: dict[str, Any], sets: list[str]) -> None:
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected KEY=VALUE")
        key, val = item.split("=", 1)
        _apply_nested(raw, key.strip(), parse_value(val))


def _apply_nested(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    if parts[0] == "strategies" and len(parts) >= 3:
        name, rest = parts[1], parts[2:]
        strategies = raw.get("strategies") or []
        match = [s for s in strategies if isinstance(s, dict) and s.get("name") == name]
        if not match:
            names = [str(s.get("name")) for s in strategies if isinstance(s, dict)]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"--set {dotted}: no strategy named {name!r}{hint}")
        apply_override(match[0], ".".join(rest), value, origin="--set")
        return
    apply_override(raw, dotted, value)


# ---------------------------------------------------------------------------- loading


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the strict safe loader; one-line ConfigError on any problem.

    Only regular UTF-8 text files up to 1 MB; duplicate keys, alias bombs and impossible
    dates are errors (see :mod:`backtest.safe_io`).
    """
    p = Path(path)
    raw = load_yaml_text(read_text_file(p, "config file"), str(p))
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def load_config(
    path: str | Path | dict[str, Any] | RunConfig,
    sets: list[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    data_dir: str | None = None,
    validate_strategies: bool = True,
) -> RunConfig:
    """Load, override and validate a run config: the one loader of a :class:`RunConfig`.

    Every command (through :func:`backtest.commands.loading.load_run_config`, which adds the
    strategy params check) and the API (``rmpbt.load_config``) load configs here.

    Parameters
    ----------
    path : str, Path, dict or RunConfig
        YAML file; or a mapping with the YAML's structure (messages name ``<dict>``); or an
        already validated config (returned as is without overrides, else re-validated from
        its resolved form, messages naming the config).
    sets : list of str, optional
        ``KEY=VALUE`` overrides with dotted keys.
    start, end : str, optional
        Override ``data.start`` / ``data.end`` (ISO dates).
    data_dir : str, optional
        Override ``data.dir``; a ``sample`` config then reads that folder (``csv``).
        A relative ``data.dir`` written in the file is relative to the file's folder.
    validate_strategies : bool
        Ignored; kept for compatibility. This module validates the config's structure
        only: strategy params are checked by ``strategies.base.validate_config`` (see
        ``backtest.commands.loading.load_run_config``).

    Raises
    ------
    ConfigError
        One line naming the file and key path.
    """
    if isinstance(path, RunConfig):
        if not sets and start is None and end is None and data_dir is None:
            return path
        return config_from_dict(path.resolved_dict(), path.name, sets, start=start, end=end, data_dir=data_dir)
    if isinstance(path, dict):
        return config_from_dict(path, "<dict>", sets, start=start, end=end, data_dir=data_dir)
    raw = read_yaml(path)
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("dir"), str) and not Path(data["dir"]).expanduser().is_absolute():
        data["dir"] = str((Path(path).parent / data["dir"]).resolve())  # relative to the config file, not the cwd
    return config_from_dict(
        raw,
        str(path),
        sets,
        start=start,
        end=end,
        data_dir=data_dir,
        validate_strategies=validate_strategies,
    )


def config_from_dict(
    raw: dict[str, Any],
    origin: str = "<config>",
    sets: list[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    data_dir: str | None = None,
    validate_strategies: bool = True,
) -> RunConfig:
    """Validate a config given as a mapping (see :func:`load_config`)."""
    raw = copy.deepcopy(raw)
    _apply_sets(raw, sets or [])
    bad = find_non_finite(raw)
    if bad is not None:
        raise ConfigError(f"{origin}: {bad[0]}: must be a finite number (got {bad[1]!r})")
    data = raw.setdefault("data", {}) if isinstance(raw.get("data", {}), dict) else raw.get("data")
    if isinstance(data, dict):
        if start is not None:
            data["start"] = start
        if end is not None:
            data["end"] = end
        if data_dir is not None:
            data["dir"] = data_dir
            if data.get("source", "sample") == "sample":
                data["source"] = "csv"
                if data.get("macro_source") == "sample":
                    data["macro_source"] = "csv"
    absolute_paths(raw)
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin, RunConfig, raw=raw)) from None
    # Strategy params are validated by the layer above (``strategies.base.validate_config``,
    # called by ``backtest.commands.loading.load_run_config`` and by ``build_strategy``):
    # config never imports strategies.
    return cfg


def absolute_paths(raw: dict[str, Any]) -> None:
    """Make ``data.dir`` and ``regimes.calendar`` absolute in place when they are relative.

    A relative path reaching here is relative to the current folder (``--data-dir``,
    ``--set``, a config given as a mapping; :func:`load_config` has already made a config
    file's own ``data.dir`` relative to the file). Stored absolute, every config a run,
    tune or scenario folder writes (``config.yaml``, ``best.yaml``) resolves to the same
    data from any folder (``docs/config.md``).
    """
    for section, key in (("data", "dir"), ("regimes", "calendar")):
        sub = raw.get(section)
        val = sub.get(key) if isinstance(sub, dict) else None
        try:
            if isinstance(val, str) and val.strip() and not Path(val).expanduser().is_absolute():
                sub[key] = str(Path(val).resolve())
        except (OSError, ValueError, RuntimeError):  # NUL byte, symlink loop: reported where the path is read
            pass


def dump_yaml(cfg: RunConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(cfg.resolved_dict(), sort_keys=False)
