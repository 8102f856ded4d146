"""Reference profiles: ``profile(frame)`` is a compact per-column summary (CDF knots or exact
counts, category counts, missing rates) that stands in for a reference frame in ``check_drift``
and ships in delivered artefacts as ``profile.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pytest_mlgate.errors import DataError
from pytest_mlgate.fingerprints import fingerprint
from pytest_mlgate.strict_json import number

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnProfile", "Profile", "profile"]

ColumnKind = Literal["numeric", "categorical"]
#: 2: numeric columns keep CDF knots (observed values with exact counts), refined in the tails;
#: 1 (still read): quantiles at uniform levels.
PROFILE_SCHEMA = 2
#: Knots at these many uniform quantile levels (0, 1/1000, ..., 1) start every numeric column.
DEFAULT_QUANTILES = 1001
#: Numeric columns with at most this many distinct values keep exact value counts instead.
EXACT_MAX_DISTINCT = 512
#: Knots are added where the CDF is stretched until the Wasserstein error bound is at most this
#: share of the column's standard deviation (a tenth of the default drift threshold).
EFFECT_ERROR_TARGET = 0.01
#: No numeric column keeps more knots than this; its bound is then what was reached.
MAX_KNOTS = 4096


@dataclass(frozen=True)
class ColumnProfile:
    """Summary of one column.

    numeric: exact ``values``/``counts`` when the column has few distinct values; otherwise CDF
    ``knots`` (observed values) with ``below`` (values strictly below each knot) and ``at`` (values
    equal to it), the CDF being linear between knots, and ``effect_bound``: the most the
    Wasserstein effect size (in SDs) read from the profile can differ from the one read from the
    frame, whatever the current data. Profiles of schema 1 hold ``quantiles`` at ``levels``
    instead (no bound). Also ``hist_edges``/``hist_counts``, ``mean``/``std`` (ddof=0).
    categorical: ``categories``/``counts``. ``n`` counts all rows, ``n_missing`` missing ones.
    """

    name: str
    kind: ColumnKind
    dtype: str
    n: int
    n_missing: int
    mean: float | None = None
    std: float | None = None
    levels: tuple[float, ...] = ()
    quantiles: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    hist_edges: tuple[float, ...] = ()
    hist_counts: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    knots: tuple[float, ...] = ()
    below: tuple[int, ...] = ()
    at: tuple[int, ...] = ()
    effect_bound: float | None = None

    def __post_init__(self) -> None:
        _check_column(self)

    @property
    def n_present(self) -> int:
        return self.n - self.n_missing

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n if self.n else 0.0

    @property
    def exact(self) -> bool:
        """True when a numeric column's full distribution is stored (values and counts)."""
        return self.kind == "numeric" and len(self.values) > 0

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "dtype": self.dtype,
            "n": self.n, "n_missing": self.n_missing,
        }
        if self.kind == "numeric":
            d.update(mean=number(self.mean), std=number(self.std),
                     hist_edges=[number(x) for x in self.hist_edges],
                     hist_counts=list(self.hist_counts))
            if self.exact:
                d.update(values=[number(x) for x in self.values], counts=list(self.counts))
            elif self.knots:
                d.update(knots=[number(x) for x in self.knots], below=list(self.below),
                         at=list(self.at), effect_bound=number(self.effect_bound))
            elif self.levels:
                d.update(levels=list(self.levels), quantiles=[number(x) for x in self.quantiles])
        else:
            d.update(categories=list(self.categories), counts=list(self.counts))
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ColumnProfile:
        kind = d["kind"]
        if kind not in ("numeric", "categorical"):
            raise DataError(f"profile column {d.get('name')!r}: unknown kind {kind!r}")

        def floats(key: str) -> tuple[float, ...]:
            return tuple(float(x) for x in d.get(key) or ())

        return cls(
            name=str(d["name"]), kind=kind, dtype=str(d["dtype"]), n=int(d["n"]),
            n_missing=int(d["n_missing"]),
            mean=None if d.get("mean") is None else float(d["mean"]),
            std=None if d.get("std") is None else float(d["std"]),
            levels=floats("levels"), quantiles=floats("quantiles"), values=floats("values"),
            counts=tuple(int(x) for x in d.get("counts") or ()),
            hist_edges=floats("hist_edges"),
            hist_counts=tuple(int(x) for x in d.get("hist_counts") or ()),
            categories=tuple(str(x) for x in d.get("categories") or ()),
            knots=floats("knots"), below=tuple(int(x) for x in d.get("below") or ()),
            at=tuple(int(x) for x in d.get("at") or ()),
            effect_bound=None if d.get("effect_bound") is None else float(d["effect_bound"]),
        )


@dataclass(frozen=True)
class Profile:
    """A compact per-column summary of a reference frame (JSON-safe; ``profile.json``)."""

    n_rows: int
    columns: tuple[ColumnProfile, ...]
    fingerprint: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_rows < 0:
            raise DataError("profile: n_rows is negative.")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise DataError("profile: two columns have the same name.")
        for c in self.columns:
            if c.n != self.n_rows:
                raise DataError(f"profile column {c.name[:60]!r}: n is {c.n} but the profile "
                                f"has {self.n_rows} rows.")

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PROFILE_SCHEMA,
            "kind": "mlgate-profile",
            "n_rows": self.n_rows,
            "fingerprint": self.fingerprint,
            "info": dict(self.info),
            "columns": [c.to_json() for c in self.columns],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Profile:
        if not isinstance(d, Mapping) or d.get("kind") != "mlgate-profile":
            raise DataError("not an mlgate profile: expected a JSON object with "
                            "\"kind\": \"mlgate-profile\" (written by pytest_mlgate.profile).")
        schema = int(d.get("schema", 0))
        if schema > PROFILE_SCHEMA:
            raise DataError(f"profile schema {schema} is newer than this pytest-mlgate supports "
                            f"({PROFILE_SCHEMA}); upgrade pytest-mlgate.")
        return cls(
            n_rows=int(d["n_rows"]),
            columns=tuple(ColumnProfile.from_json(c) for c in d["columns"]),
            fingerprint=d.get("fingerprint"),
            info=dict(d.get("info") or {}),
        )


def _check_column(c: ColumnProfile) -> None:
    """DataError unless ``c`` is a column ``profile`` could have written: the drift statistics
    rely on sorted knots, matching lengths and counts that add up to the rows present. This is
    the one check, run whenever a profile is made (by ``profile``, ``from_json`` or by hand)."""
    where = f"profile column {str(c.name)[:60]!r}"

    def fail(why: str) -> None:
        raise DataError(f"{where}: {why}; write profiles with pytest_mlgate.profile(frame).")

    def increasing(xs: tuple[float, ...], strict: bool, what: str) -> None:
        a = np.asarray(xs, dtype=np.float64)
        if np.isnan(a).any():
            fail(f"{what} holds NaN")
        steps = np.diff(a)
        if (steps < 0).any() or (strict and (steps == 0).any()):
            fail(f"{what} is not sorted")

    def counts(xs: tuple[int, ...], what: str) -> int:
        if any(x < 0 for x in xs):
            fail(f"{what}: a count is negative")
        return sum(xs)

    if c.kind not in ("numeric", "categorical"):
        fail(f"unknown kind {c.kind!r}")
    if c.n < 0 or not 0 <= c.n_missing <= c.n:
        fail("n_missing must lie between 0 and n, n >= 0")
    if c.kind == "categorical":
        if c.values or c.knots or c.levels or c.quantiles:
            fail("a categorical column holds numeric summaries")
        if len(c.categories) != len(c.counts) or len(set(c.categories)) != len(c.categories):
            fail("categories and counts do not pair up")
        if counts(c.counts, "counts") != c.n_present:
            fail("counts do not add up to the rows present (n - n_missing)")
        return
    if c.categories:
        fail("a numeric column holds categories")
    for label, x in (("mean", c.mean), ("std", c.std)):
        if x is not None and not math.isfinite(x):
            fail(f"{label} is not a finite number")
    if c.std is not None and c.std < 0:
        fail("std is negative")
    forms = [label for label, present in (("values", c.values or c.counts),
                                          ("knots", c.knots or c.below or c.at),
                                          ("quantiles", c.levels or c.quantiles)) if present]
    if len(forms) > 1:
        fail(f"it holds both {forms[0]} and {forms[1]}; a column has one form")
    if c.n_present == 0:
        if forms:
            fail(f"it has no values present but holds {forms[0]}")
    elif not forms:
        fail("it has values present but neither values, knots nor quantiles")
    elif forms[0] == "values":
        if len(c.values) != len(c.counts) or any(x < 1 for x in c.counts):
            fail("values and counts do not pair up")
        increasing(c.values, True, "values")
        if counts(c.counts, "counts") != c.n_present:
            fail("counts do not add up to the rows present (n - n_missing)")
    elif forms[0] == "knots":
        if not len(c.knots) == len(c.below) == len(c.at):
            fail("knots, below and at do not pair up")
        increasing(c.knots, True, "knots")
        counts(c.below, "below")
        if any(x < 1 for x in c.at):
            fail("at: every knot is an observed value, counted at least once")
        ends = [b + a for b, a in zip(c.below, c.at, strict=True)]
        if c.below[0] != 0 or ends[-1] != c.n_present or any(
                nxt < end for end, nxt in zip(ends, c.below[1:], strict=False)):
            fail("below and at are not the counts of a sorted column (from 0 to the rows "
                 "present)")
        if c.effect_bound is None or not c.effect_bound >= 0:
            fail("effect_bound must be a number >= 0")
    else:
        if not c.quantiles or len(c.quantiles) != len(c.levels):
            fail("quantiles and levels do not pair up")
        if not all(0.0 <= p <= 1.0 for p in c.levels):
            fail("levels must lie in [0, 1]")
        increasing(c.levels, True, "levels")
        increasing(c.quantiles, False, "quantiles")
    if c.hist_edges or c.hist_counts:
        if len(c.hist_edges) != len(c.hist_counts) + 1:
            fail("hist_edges and hist_counts do not pair up")
        if not all(math.isfinite(e) for e in c.hist_edges):
            fail("hist_edges are not finite")
        increasing(c.hist_edges, False, "hist_edges")
        if counts(c.hist_counts, "hist_counts") > c.n_present:
            fail("hist_counts add up to more than the rows present")


def column_kind(series: pd.Series, name: str, *, error: type[Exception] = DataError) -> ColumnKind:
    """"numeric" or "categorical" for one column; mixed-type object columns raise ``error``."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype) or (
            isinstance(dtype, np.dtype) and dtype.kind == "O"
            and pd.api.types.infer_dtype(series, skipna=True) == "complex"):
        raise error(
            f"column {name!r} holds complex numbers; drift and profiles compare real values "
            "only. Compare the parts as two columns (frame[col].to_numpy().real and .imag, or "
            "abs and angle), or leave the column out with columns=[...]."
        )
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if isinstance(dtype, pd.StringDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return "numeric"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("string", "boolean", "empty"):
            return "categorical"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "numeric"
        raise error(
            f"column {name!r} mixes value types (pandas infers {inferred!r}); a column must "
            "hold numbers or text, not both. Convert it, e.g. frame[col].astype(str)."
        )
    raise error(f"column {name!r} has dtype {dtype}, which is neither numeric nor categorical; "
                "convert it or leave it out with columns=[...].")


def numeric_values(series: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Non-missing values as float64 (datetimes as int64 nanoseconds)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        s = series.dropna()
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = np.asarray(s.to_numpy(dtype="datetime64[ns]")).view(np.int64)
        return ns.astype(np.float64)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        v = np.asarray(series.to_numpy(), dtype=np.float64)
        # A finite sum means no NaN: skip the mask and the copy (the common case).
        if np.isfinite(v.sum()):
            return v
        return v[~np.isnan(v)]
    return np.asarray(series.dropna().to_numpy(dtype=np.float64), dtype=np.float64)


def category_counts(series: pd.Series) -> tuple[list[str], np.ndarray[Any, np.dtype[np.int64]]]:
    """Non-missing categories (as str) and their counts, sorted by category."""
    vc = series.dropna().astype(str).value_counts(sort=False)
    order = np.argsort(np.asarray(vc.index, dtype=object).astype(str), kind="stable")
    cats = [str(c) for c in np.asarray(vc.index, dtype=object)[order]]
    return cats, np.asarray(vc.to_numpy()[order], dtype=np.int64)


def profile(frame: pd.DataFrame, *, bins: int = 20, quantiles: int = DEFAULT_QUANTILES) -> Profile:
    """Summarise ``frame`` per column: ``quantiles`` CDF knots and a ``bins``-bin histogram for
    numeric columns, counts for categorical ones, missing counts for both."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"profile: expected a pandas DataFrame, got {type(frame).__name__}.")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"profile: the frame is empty ({frame.shape[0]} rows, "
                        f"{frame.shape[1]} columns); profile the training data.")
    if bins < 1 or quantiles < 2:
        raise DataError("profile: bins must be >= 1 and quantiles >= 2.")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise DataError("profile: column names must be unique (as strings).")
    levels = np.linspace(0.0, 1.0, quantiles)
    cols: list[ColumnProfile] = []
    for i, name in enumerate(names):
        s = frame.iloc[:, i]
        kind = column_kind(s, name)
        n_missing = int(s.isna().sum())
        base = {"name": name, "kind": kind, "dtype": str(s.dtype), "n": len(s),
                "n_missing": n_missing}
        if kind == "categorical":
            cats, counts = category_counts(s)
            cols.append(ColumnProfile(**base, categories=tuple(cats),  # type: ignore[arg-type]
                                      counts=tuple(int(c) for c in counts)))
            continue
        v = np.sort(numeric_values(s))
        if v.size == 0:
            cols.append(ColumnProfile(**base))  # type: ignore[arg-type]
            continue
        # Infinities stay in the quantiles (the drift test sees them) but not in the moments
        # or the histogram, which need finite ends.
        fin = v[np.isfinite(v)]
        if fin.size == 0:
            fin = np.zeros(1)
        edges = np.histogram_bin_edges(fin, bins=bins)
        hist, _ = np.histogram(fin, bins=edges)
        extra: dict[str, Any] = {}
        last = np.r_[v[1:] != v[:-1], True]
        if int(last.sum()) <= EXACT_MAX_DISTINCT:
            ends = np.flatnonzero(last)
            counts = np.diff(np.r_[0, ends + 1])
            extra = {"values": tuple(v[ends].tolist()), "counts": tuple(counts.tolist())}
        else:
            knots, below, at, bound = cdf_knots(v, levels, float(fin.std()))
            extra = {"knots": tuple(knots.tolist()), "below": tuple(below.tolist()),
                     "at": tuple(at.tolist()), "effect_bound": bound}
        cols.append(ColumnProfile(
            **base, mean=float(fin.mean()), std=float(fin.std()),  # type: ignore[arg-type]
            hist_edges=tuple(edges.tolist()), hist_counts=tuple(int(c) for c in hist), **extra,
        ))
    return Profile(n_rows=int(frame.shape[0]), columns=tuple(cols), fingerprint=fingerprint(frame))


def cdf_knots(
    v: np.ndarray[Any, np.dtype[np.float64]], levels: np.ndarray[Any, np.dtype[np.float64]],
    sd: float, *, target: float = EFFECT_ERROR_TARGET, max_knots: int = MAX_KNOTS,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    """Knots of the CDF of sorted values ``v``: (knot values, count below, count at, bound).

    The reconstruction is exact at every knot and linear in between, so on a segment holding a
    share ``p`` of the values over a width ``w`` the reconstructed CDF is off by at most ``p``,
    and the Wasserstein distance of any sample to it by at most ``p * w``. Knots start at the
    quantile ``levels``; segments where ``p * w`` is largest are split (at the observed value
    nearest their middle) until the sum, divided by ``sd``, is at most ``target``. That sum is
    the returned bound on the effect size's error. Uniform levels alone spread a heavy tail's
    last 0.1% over its whole range (a bias above 0.1 SD for t(2) data); the split knots follow
    the tail instead.
    """
    n = v.size
    knots = np.unique(np.r_[np.quantile(v, levels, method="inverted_cdf"), v[0], v[-1]])
    fin = v[np.isfinite(v)]
    if fin.size:
        knots = np.unique(np.r_[knots, fin[0], fin[-1]])

    def measure(k: np.ndarray[Any, Any]) -> tuple[Any, Any, Any]:
        below = np.searchsorted(v, k, "left")
        upto = np.searchsorted(v, k, "right")
        inner = below[1:] - upto[:-1]  # values strictly between neighbouring knots
        with np.errstate(invalid="ignore"):
            width = np.diff(k)
            contrib = np.where(inner > 0, inner * width / n, 0.0)
        return below, upto, contrib

    below, upto, contrib = measure(knots)
    budget = target * sd if sd > 0 and math.isfinite(sd) else 0.0
    while knots.size < max_knots and contrib.size and float(contrib.sum()) > budget:
        # Split every segment above its share of the budget, the largest first.
        share = budget / (2.0 * contrib.size)
        worst = np.flatnonzero(contrib > share)
        worst = worst[np.argsort(contrib[worst])[::-1][: max_knots - knots.size]]
        if worst.size == 0:
            break
        mid = knots[worst] + (knots[worst + 1] - knots[worst]) / 2.0
        pos = np.clip(np.searchsorted(v, mid), upto[worst], below[worst + 1] - 1)
        fresh = v[pos]
        # Nearest observed value to the middle: the one just below may be closer.
        prev = v[np.maximum(pos - 1, upto[worst])]
        fresh = np.where(np.abs(prev - mid) < np.abs(fresh - mid), prev, fresh)
        grown = np.unique(np.r_[knots, fresh])
        if grown.size == knots.size:
            break
        knots = grown
        below, upto, contrib = measure(knots)
    total = float(contrib.sum())
    bound = total / sd if sd > 0 and math.isfinite(sd) else (0.0 if total == 0 else math.inf)
    return knots, below, upto - below, bound
