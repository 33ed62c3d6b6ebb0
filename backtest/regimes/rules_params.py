"""Parameters of the regime models: the ``rules`` thresholds and the shared validation.

:class:`RulesParams` holds the ``rules`` classifier's thresholds (defaults in
``configs/regimes/rules.yaml``, overridden by ``regimes.params``; unknown keys are errors);
:class:`RegimeParams` and :func:`validate_params` are shared by every regime model's params.
The classifier itself is :mod:`backtest.regimes.rules` (one history) over the state machine
of :mod:`backtest.regimes.rules_batch` (any number of paths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from backtest.config import STRICT_INPUT, format_validation_error
from backtest.constants import REGIME_KINDS
from backtest.errors import ConfigError
from backtest.safe_io import load_yaml_text, read_text_file

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "configs" / "regimes" / "rules.yaml"
RULE_SIGNALS = ("walcl_chg_4w", "walcl_chg_13w", "treast_chg_4w", "treast_chg_13w", "sofr_iorb", "vix")

__all__ = ["DEFAULT_RULES", "RULE_SIGNALS", "RegimeParams", "RulesParams", "check_labels", "load_rules_params",
           "validate_params"]


class RegimeParams(BaseModel):
    """Base of regime-model params: unknown keys are errors, scalars strict (``backtest.config.STRICT_INPUT``)."""

    model_config = STRICT_INPUT


def check_labels(labels: list[str], required: tuple[str, ...] = ()) -> list[str]:
    """Validate regime labels (known kinds, unique, containing ``required``)."""
    for lab in labels:
        if lab not in REGIME_KINDS:
            raise ValueError(f"unknown regime label {lab!r} (expected one of {', '.join(REGIME_KINDS)})")
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate regime label in {labels}")
    for req in required:
        if req not in labels:
            raise ValueError(f"labels must include {req!r}")
    return labels


class RulesParams(RegimeParams):
    """Thresholds of the rules classifier (see ``configs/regimes/rules.yaml``)."""

    labels: list[str] = Field(default_factory=lambda: list(REGIME_KINDS))
    initial: str = "plateau"
    qe_enter_walcl_13w: float = 100.0
    qe_min_treast_13w: float = 0.0
    qe_enter_treast_13w: float = 100.0
    qe_exit_4w: float = 20.0
    qt_enter_treast_13w: float = Field(-20.0, le=0)
    qt_max_walcl_13w: float = 0.0
    qt_exit_treast_4w: float = 5.0
    rmp_enter_treast_4w: float = 10.0
    rmp_enter_walcl_13w: float = 50.0
    rmp_max_walcl_13w: float = 400.0
    rmp_exit_treast_4w: float = 0.0
    funding_enter: float = 0.10
    funding_exit: float = 0.0
    vix_enter: float = Field(30.0, gt=0, le=200)
    vix_exit: float = Field(25.0, gt=0, le=200)
    funding_memory_days: int = Field(126, ge=0, le=2520)
    confirm_days: int = Field(10, ge=1, le=252)
    min_dwell_days: int = Field(21, ge=0, le=252)
    stress_min_days: int = Field(3, ge=1, le=252)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        return check_labels(v, required=("plateau",))

    @field_validator("initial")
    @classmethod
    def _initial(cls, v: str) -> str:
        check_labels([v])
        return v

    @model_validator(mode="after")
    def _order(self) -> "RulesParams":
        if self.initial not in self.labels:
            raise ValueError(f"initial regime {self.initial!r} is not in labels {self.labels}")
        if self.funding_exit > self.funding_enter:
            raise ValueError("funding_exit must not exceed funding_enter")
        if self.vix_exit > self.vix_enter:
            raise ValueError("vix_exit must not exceed vix_enter")
        if self.rmp_max_walcl_13w <= self.rmp_enter_walcl_13w:
            raise ValueError("rmp_max_walcl_13w must exceed rmp_enter_walcl_13w")
        return self


def validate_params(model: type[BaseModel], raw: dict[str, Any], origin: str = "", prefix: str = "regimes.params") -> Any:
    """Validate ``raw`` against a params model.

    Raises
    ------
    ConfigError
        One line ``[origin: ]prefix.key: message`` (with a did-you-mean for unknown keys).
    """

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        msg = format_validation_error(exc, "", model, prefix=prefix).removeprefix(": ")
        raise ConfigError(f"{origin}: {msg}" if origin else msg) from None


def load_rules_params(overrides: dict[str, Any] | None = None, path: str | Path | None = None) -> RulesParams:
    """Defaults from ``configs/regimes/rules.yaml`` updated with ``overrides`` (``regimes.params``).

    Raises
    ------
    ConfigError
        Unreadable defaults file, unknown key, bad value or unknown regime label.
    """
    p = Path(path) if path is not None else DEFAULT_RULES
    base = load_yaml_text(read_text_file(p, "rules thresholds file"), str(p)) or {}
    if not isinstance(base, dict):
        raise ConfigError(f"{p}: expected a mapping of thresholds")
    validate_params(RulesParams, base, str(p), prefix="")
    merged = {**base, **(overrides or {})}
    return validate_params(RulesParams, merged)
