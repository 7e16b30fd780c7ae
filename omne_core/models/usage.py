"""`UsageLedger`: every model call's tokens, latency and cost, so a run can report what it spent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from omne_core.config import ModelPrice, OmneSettings


class UsageRecord(BaseModel):
    """One model call. `estimated` marks token counts we computed because the model reported none."""

    model: str
    role: str | None = None
    provider: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None  # None: no price known for this model
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    streamed: bool = False
    cached: bool = False
    estimated: bool = False
    error: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ModelUsageTotals(BaseModel):
    """Sums over every call to one model."""

    model: str
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None  # None: no price known for this model

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, record: UsageRecord) -> None:
        self.calls += 1
        self.failed_calls += record.error is not None
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.latency_s += record.latency_s
        if record.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + record.cost_usd


class UsageSummary(BaseModel):
    """A run's usage: totals per model and overall. `unpriced_models` have no entry in the price table."""

    models: dict[str, ModelUsageTotals] = Field(default_factory=dict)
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    unpriced_models: list[str] = Field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def price_for(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of `model`: an exact entry, else the longest entry it extends with `-...` (gpt-4o-2024-08-06 → gpt-4o)."""
    if model in prices:
        return prices[model]
    prefixes = [name for name in prices if model.startswith(name + "-")]
    return prices[max(prefixes, key=len)] if prefixes else None


def cost_usd(prompt_tokens: int, completion_tokens: int, price: ModelPrice | None) -> float | None:
    """US dollars for a call at `price` (per million tokens), or None when the price is unknown."""
    if price is None:
        return None
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1_000_000


class UsageLedger:
    """Thread- and task-safe log of model calls with per-model totals and cost from a price table."""

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self._prices: dict[str, ModelPrice] = dict(prices or {})
        self._records: list[UsageRecord] = []
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: OmneSettings) -> UsageLedger:
        """A ledger priced with `settings.prices` (defaults plus any overrides from env or omne.toml)."""
        return cls(settings.prices)

    @property
    def prices(self) -> dict[str, ModelPrice]:
        with self._lock:
            return dict(self._prices)

    def set_price(self, model: str, price: ModelPrice) -> None:
        """Add or override one model's price; applies to calls recorded from now on."""
        with self._lock:
            self._prices[model] = price

    def price_for(self, model: str) -> ModelPrice | None:
        with self._lock:
            return price_for(model, self._prices)

    def record(
        self,
        *,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        latency_s: float,
        role: str | None = None,
        provider: str | None = None,
        streamed: bool = False,
        cached: bool = False,
        estimated: bool = False,
        error: str | None = None,
        started_at: datetime | None = None,
    ) -> UsageRecord:
        """Log one call and return its record; cached results cost nothing."""
        price = self.price_for(model)
        record = UsageRecord(
            model=model,
            role=role,
            provider=provider,
            prompt_tokens=max(0, prompt_tokens),
            completion_tokens=max(0, completion_tokens),
            latency_s=max(0.0, latency_s),
            cost_usd=0.0 if cached and price is not None else cost_usd(prompt_tokens, completion_tokens, price),
            streamed=streamed,
            cached=cached,
            estimated=estimated,
            error=error,
            **({"started_at": started_at} if started_at else {}),
        )
        with self._lock:
            self._records.append(record)
        return record

    def extend(self, records: Iterable[UsageRecord]) -> None:
        """Append records made elsewhere (e.g. loaded from another run's JSON)."""
        with self._lock:
            self._records.extend(records)

    def records(self) -> list[UsageRecord]:
        """A snapshot of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def totals(self) -> dict[str, ModelUsageTotals]:
        """Totals per model name."""
        out: dict[str, ModelUsageTotals] = {}
        for record in self.records():
            out.setdefault(record.model, ModelUsageTotals(model=record.model)).add(record)
        return out

    def summary(self) -> UsageSummary:
        """Totals per model and overall; the cost sums priced models only (see `unpriced_models`)."""
        per_model = self.totals()
        summary = UsageSummary(models=per_model)
        for totals in per_model.values():
            summary.calls += totals.calls
            summary.failed_calls += totals.failed_calls
            summary.prompt_tokens += totals.prompt_tokens
            summary.completion_tokens += totals.completion_tokens
            summary.latency_s += totals.latency_s
            if totals.cost_usd is None:
                summary.unpriced_models.append(totals.model)
            else:
                summary.cost_usd += totals.cost_usd
        return summary

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def to_json(self) -> str:
        """Every record and the summary as one JSON document."""
        payload = {
            "records": [record.model_dump(mode="json") for record in self.records()],
            "summary": self.summary().model_dump(mode="json"),
        }
        return json.dumps(payload, indent=2)

    def save(self, path: str | Path) -> Path:
        """Write `to_json()` to `path` (atomically: a crash never leaves half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: str | Path, prices: Mapping[str, ModelPrice] | None = None) -> UsageLedger:
        """A ledger holding the records saved at `path`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        ledger = cls(prices)
        ledger.extend(UsageRecord.model_validate(item) for item in data.get("records", []))
        return ledger
