"""The statistics behind every verdict, on scipy.stats.

Each function takes per-seed numbers (one per independent run) and returns
a `Result`: the effect, its confidence interval, the test's name, its
p-value, the n on each side and the smallest effect that this n and spread
would detect at 80% power (the minimum detectable effect, MDE). A verdict
(dlexp.claims) is decided from these, never from a bare mean.

- Differences of means: Welch's t-test (unequal variances), with an exact
  permutation test beside it where the runs are few enough to enumerate.
- "No difference", "as good", "not slower": two one-sided tests (TOST)
  against a margin stated before any number is seen (Lakens 2017).
- Counts of all-or-nothing outcomes (stuck, diverged, collapsed seeds):
  Fisher's exact test on the 2 x 2 table.
- A value against a stated target: the one-sample t-test (and TOST).
- Several tests in one claim: Holm's step-down adjustment; over a whole
  report: Benjamini-Hochberg q-values.

Where the numbers have no spread at all (a count of passes in a compiled
program, every seed at exactly 0), the t-tests are undefined: two samples
are compared by the exact permutation test and one against a target by the
sign test, so a handful of identical seeds decides only as much as their
number allows.
"""
import dataclasses
import math
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05  # default; config.claims.alpha sets it per run
POWER = 0.8  # the power at which the detectable effect is stated
# Exact permutation tests enumerate every split of the runs; beyond this
# many splits (10 + 10 runs is 184,756) only Welch's test is reported.
MAX_PERMUTATIONS = 20_000


@dataclasses.dataclass(frozen=True)
class Result:
  """One test of one comparison."""
  test: str  # 'Welch t', 'TOST (Welch)', 'Fisher exact', ...
  effect: float  # mean(a) - mean(b), rate(a) - rate(b), mean - target
  ci: Tuple[float, float]  # (1 - alpha) confidence interval of the effect
  p: float  # the two-sided p-value of the difference (nan: not decidable)
  n: Tuple[int, ...]  # runs on each side
  mde: float  # smallest |effect| detectable at POWER, two-sided alpha
  p_permutation: Optional[float] = None  # exact, two-sided, where computed

  @property
  def decidable(self) -> bool:
    return math.isfinite(self.p)


def finite(values) -> np.ndarray:
  a = np.asarray(values, np.float64).ravel()
  return a[np.isfinite(a)]


def _exact(a: np.ndarray, b: np.ndarray) -> bool:
  """Both sides without spread (deterministic measurements)."""
  return np.ptp(a) == 0 and np.ptp(b) == 0


def _undecidable(test, effect, n) -> Result:
  return Result(test, effect, (math.nan, math.nan), math.nan, n, math.nan)


def _welch_se_df(a: np.ndarray, b: np.ndarray) -> Tuple[float, float]:
  va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
  se = math.sqrt(va + vb)
  df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
  return se, df


def detectable(se: float, df: float, alpha: float = ALPHA,
               power: float = POWER) -> float:
  """The smallest true effect that a two-sided t-test at `alpha`, with
  this standard error and degrees of freedom, detects with `power`: solved
  on the noncentral t distribution."""
  if not (se > 0 and df > 0):
    return math.nan
  crit = stats.t.ppf(1 - alpha / 2, df)

  def shortfall(effect):
    nc = effect / se
    return (stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
            - power)

  approx = se * (crit + stats.t.ppf(power, df))  # normal-theory rule
  try:
    return float(optimize.brentq(shortfall, 0.0, approx + 2 * se,
                                 xtol=se * 1e-6))
  except ValueError:  # scipy's nct is nan at tiny df and large shifts
    return float(approx)


def permutation_p(a: np.ndarray, b: np.ndarray) -> Optional[float]:
  """Exact two-sided permutation p of the difference of means, where the
  splits are few enough to enumerate; None otherwise."""
  if math.comb(a.size + b.size, a.size) > MAX_PERMUTATIONS:
    return None
  return _permutation(a, b, 'two-sided')


def _permutation(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
  res = stats.permutation_test(
      (a, b), lambda x, y, axis: np.mean(x, axis) - np.mean(y, axis),
      permutation_type='independent', alternative=alternative,
      n_resamples=MAX_PERMUTATIONS, vectorized=True)
  return float(res.pvalue)


def _no_spread_p(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
  """Both sides without spread, where Welch's t is undefined: the exact
  permutation test (the smallest p it can give is 1 / C(n_a + n_b, n_a),
  so a handful of seeds decides only clear separations); with too many
  runs to enumerate, the separation itself (0 or 1)."""
  if math.comb(a.size + b.size, a.size) <= MAX_PERMUTATIONS:
    return _permutation(a, b, alternative)
  return _holds(a.mean() - b.mean(), alternative)


EXACT_TEST = 'exact (deterministic)'  # a comparison decided by the numbers


def welch(a, b, alpha: float = ALPHA, exact: bool = False) -> Result:
  """mean(a) - mean(b): Welch's t-test, its CI and MDE, and the exact
  permutation p where feasible. `exact`: both are deterministic
  measurements (a FLOP count), decided by the numbers themselves."""
  a, b = finite(a), finite(b)
  n = (int(a.size), int(b.size))
  effect = float(a.mean() - b.mean()) if a.size and b.size else math.nan
  if min(n) < 2:
    return _undecidable('Welch t', effect, n)
  if exact and _exact(a, b):
    return Result(EXACT_TEST, effect, (effect, effect),
                  float(effect == 0), n, 0.0)
  if _exact(a, b):
    return Result('permutation (no spread)', effect, (effect, effect),
                  _no_spread_p(a, b, 'two-sided'), n, math.nan)
  with warnings.catch_warnings():  # one side without spread: not a loss
    warnings.simplefilter('ignore', RuntimeWarning)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(1 - alpha)
  se, df = _welch_se_df(a, b)
  return Result('Welch t', effect, (float(ci.low), float(ci.high)),
                float(res.pvalue), n, detectable(se, df, alpha),
                permutation_p(a, b))


def counts(a, b) -> bool:
  """Whether both samples are whole numbers (epochs, steps) few enough to
  enumerate every split: then shifted_p is the exact permutation test."""
  a, b = finite(a), finite(b)
  return (bool(np.all(a == np.round(a)) and np.all(b == np.round(b)))
          and math.comb(a.size + b.size, a.size) <= MAX_PERMUTATIONS)


def shifted_p(a, b, shift: float, alternative: str,
              exact: bool = False) -> float:
  """One-sided p of H1: mean(a) - mean(b) > shift ('greater') or < shift
  ('less'): Welch's t; the exact permutation test of a - shift against b
  where both are whole-number counts (`counts`: ties at a handful of seeds
  make the t approximation unreliable, and the permutation test needs no
  normality) or have no spread."""
  a, b = finite(a), finite(b)
  if min(a.size, b.size) < 2:
    return math.nan
  if exact and _exact(a, b):
    return _holds(a.mean() - b.mean() - shift, alternative)
  if _exact(a, b):
    return _no_spread_p(a - shift, b, alternative)
  if counts(a, b):
    return _permutation(a - shift, b, alternative)
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)
    return float(stats.ttest_ind(a - shift, b, equal_var=False,
                                 alternative=alternative).pvalue)


def tost(a, b, margin: float, exact: bool = False) -> float:
  """p of equivalence: |mean(a) - mean(b)| < margin, by two one-sided
  Welch tests (the larger of their p-values)."""
  return max(shifted_p(a, b, -margin, 'greater', exact),
             shifted_p(a, b, margin, 'less', exact))


def _holds(diff: float, alternative: str) -> float:
  """A deterministic comparison as a p-value: 0 if it holds, else 1."""
  holds = {'greater': diff > 0, 'less': diff < 0,
           'two-sided': diff != 0}[alternative]
  return 0.0 if holds else 1.0


def one_sample(x, target: float, alpha: float = ALPHA,
               exact: bool = False) -> Result:
  """mean(x) - target: the one-sample t-test (`exact`: see welch)."""
  x = finite(x)
  n = (int(x.size),)
  effect = float(x.mean() - target) if x.size else math.nan
  if x.size < 2:
    return _undecidable('one-sample t', effect, n)
  if exact and np.ptp(x) == 0:
    return Result(EXACT_TEST, effect, (effect, effect),
                  float(effect == 0), n, 0.0)
  if np.ptp(x) == 0:
    return Result('sign test (no spread)', effect, (effect, effect),
                  _sign_p(x, target, 'two-sided'), n, math.nan)
  res = stats.ttest_1samp(x, target)
  ci = res.confidence_interval(1 - alpha)
  se = x.std(ddof=1) / math.sqrt(x.size)
  return Result('one-sample t', effect,
                (float(ci.low) - target, float(ci.high) - target),
                float(res.pvalue), n, detectable(se, x.size - 1, alpha))


def one_sample_p(x, target: float, alternative: str,
                 exact: bool = False) -> float:
  """One-sided p of H1: mean(x) > target ('greater') or < target."""
  x = finite(x)
  if x.size < 2:
    return math.nan
  if exact and np.ptp(x) == 0:
    return _holds(x[0] - target, alternative)
  if np.ptp(x) == 0:
    return _sign_p(x, target, alternative)
  return float(stats.ttest_1samp(x, target, alternative=alternative).pvalue)


def _sign_p(x: np.ndarray, target: float, alternative: str) -> float:
  """The sign test of the median against `target` (ties dropped): valid
  where the one-sample t is not, e.g. every seed at exactly 0; five seeds
  on one side give one-sided p = 1/32."""
  above, below = int((x > target).sum()), int((x < target).sum())
  if above + below == 0:
    return 1.0
  return float(stats.binomtest(above, above + below, 0.5,
                               alternative=alternative).pvalue)


def _wilson(k: int, n: int, alpha: float) -> Tuple[float, float]:
  ci = stats.binomtest(k, n).proportion_ci(1 - alpha, method='wilson')
  return float(ci.low), float(ci.high)


def rate_difference_ci(k_a, n_a, k_b, n_b, alpha=ALPHA):
  """Newcombe's hybrid score interval for rate(a) - rate(b) (method 10 of
  Newcombe 1998), from the two Wilson intervals. Hand-written: scipy has
  the one-sample Wilson interval but no two-sample difference interval."""
  pa, pb = k_a / n_a, k_b / n_b
  la, ua = _wilson(k_a, n_a, alpha)
  lb, ub = _wilson(k_b, n_b, alpha)
  d = pa - pb
  lo = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
  hi = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
  return lo, hi


def fisher_p(k_a, n_a, k_b, n_b, alternative='two-sided') -> float:
  return float(stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]],
                                  alternative=alternative)[1])


def rate_detectable(n_a: int, n_b: int, base: float, alpha: float = ALPHA,
                    power: float = POWER) -> float:
  """The smallest rise of rate(a) over rate(b) = `base` that Fisher's
  two-sided test at `alpha` detects with `power`, by exact enumeration of
  both binomials (n is a handful of seeds); nan if even rate(a) = 1 is not
  detected that often."""
  reject = np.array([[fisher_p(i, n_a, j, n_b) < alpha
                      for j in range(n_b + 1)] for i in range(n_a + 1)])
  pb = stats.binom.pmf(np.arange(n_b + 1), n_b, base)

  def power_at(rate):
    pa = stats.binom.pmf(np.arange(n_a + 1), n_a, rate)
    return float(pa @ reject @ pb)

  if power_at(1.0) < power:
    return math.nan
  rate = optimize.brentq(lambda r: power_at(r) - power, base, 1.0,
                         xtol=1e-4)
  return float(rate - base)


def fisher(k_a: int, n_a: int, k_b: int, n_b: int,
           alpha: float = ALPHA) -> Result:
  """rate(a) - rate(b) for counts k of n seeds: Fisher's exact test."""
  n = (int(n_a), int(n_b))
  if min(n) < 1:
    return _undecidable('Fisher exact', math.nan, n)
  effect = k_a / n_a - k_b / n_b
  return Result('Fisher exact', effect,
                rate_difference_ci(k_a, n_a, k_b, n_b, alpha),
                fisher_p(k_a, n_a, k_b, n_b), n,
                rate_detectable(n_a, n_b, k_b / n_b, alpha))


def binomial(k: int, n: int, p0: float, alpha: float = ALPHA) -> Result:
  """rate - p0 for k of n seeds: the exact binomial test, Wilson CI."""
  if n < 1:
    return _undecidable('exact binomial', math.nan, (n,))
  lo, hi = _wilson(k, n, alpha)
  return Result('exact binomial', k / n - p0, (lo - p0, hi - p0),
                float(stats.binomtest(k, n, p0).pvalue), (n,), math.nan)


def binomial_p(k: int, n: int, p0: float, alternative: str) -> float:
  return float(stats.binomtest(k, n, p0, alternative=alternative).pvalue) \
      if n else math.nan


def holm(ps: Sequence[float]) -> np.ndarray:
  """Holm's step-down adjusted p-values (nan stays nan). Hand-written:
  scipy.stats has Benjamini-Hochberg (false_discovery_control) but not
  Holm."""
  ps = np.asarray(ps, np.float64)
  out = np.full(ps.shape, np.nan)
  ok = np.flatnonzero(np.isfinite(ps))
  m = ok.size
  running = 0.0
  for rank, i in enumerate(ok[np.argsort(ps[ok], kind='stable')]):
    running = max(running, min(1.0, (m - rank) * ps[i]))
    out[i] = running
  return out


def bh(ps: Sequence[float]) -> np.ndarray:
  """Benjamini-Hochberg q-values (nan stays nan)."""
  ps = np.asarray(ps, np.float64)
  out = np.full(ps.shape, np.nan)
  ok = np.isfinite(ps)
  if ok.any():
    out[ok] = stats.false_discovery_control(ps[ok], method='bh')
  return out
