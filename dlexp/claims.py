"""Claims from the notes, checked against measured numbers.

An experiment script declares what the notes claim and a rule that decides,
from the runs it just made, whether the measurements support it:

    CLAIMS = (
        claims.Claim(
            source='003 Q3', quote='ELU ensures all neurons remain active',
            check=lambda ev: claims.at_most(
                ev.values('activation=elu', NEVER_POSITIVE), 0.0,
                'never-positive units with ELU')),
    )

`check(evidence) -> Verdict` reads per-seed numbers through `Evidence` and
returns one of VERDICTS with one sentence of evidence that quotes the
numbers. Nothing is typed by hand: the verdict, and the sentence, come from
the measurements and their spread over seeds.

The spread rule (`compare`): a difference of means counts when it exceeds
twice its standard error (sqrt(s_a^2/n_a + s_b^2/n_b), sample std over
seeds); with fewer than two finite seeds on either side nothing is decided.
For 3 seeds a side this is a lenient test (a t-test at 95% would need about
4.3 standard errors), so the evidence sentence always shows the numbers.
"""
import dataclasses
import math
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from dlexp import report

SUPPORTED, CONTRADICTED, DEPENDS, INCONCLUSIVE = (
    'supported', 'contradicted', 'depends', 'inconclusive')
VERDICTS = (SUPPORTED, CONTRADICTED, DEPENDS, INCONCLUSIVE)
SE_MULTIPLE = 2.0  # a difference counts beyond this many standard errors


@dataclasses.dataclass(frozen=True)
class Verdict:
  verdict: str  # one of VERDICTS
  evidence: str  # one sentence with the numbers that decided it

  def __post_init__(self):
    if self.verdict not in VERDICTS:
      raise ValueError(f'verdict {self.verdict!r} not in {VERDICTS}')


def across(verdicts: Sequence[Verdict], cases: str) -> Verdict:
  """One verdict from one comparison per case (per model, per cell, ...):
  all supported -> supported; some -> depends (on the `cases`); otherwise
  any contradicted -> contradicted; else inconclusive (also with no case).
  The evidence is theirs, joined."""
  text = '; '.join(v.evidence for v in verdicts)
  kinds = {v.verdict for v in verdicts}
  if kinds == {SUPPORTED}:
    return Verdict(SUPPORTED, text)
  if SUPPORTED in kinds:
    return Verdict(DEPENDS, f'{text} (on the {cases})')
  if CONTRADICTED in kinds:
    return Verdict(CONTRADICTED, text)
  return Verdict(INCONCLUSIVE, text)


@dataclasses.dataclass(frozen=True)
class Claim:
  source: str  # seed file and question, e.g. '003 Q5'
  quote: str  # the notes' words (short)
  check: Callable[['Evidence'], Verdict]


Key = Union[str, report.Column]


class Evidence:
  """The runs of one script invocation, by trial name (table order)."""

  def __init__(self, groups: Dict[str, List[report.Run]],
               order: Optional[Sequence[str]] = None):
    self.groups = groups
    self.trials = [t for t in (order or groups) if t in groups]

  def values(self, trial: str, key: Key) -> np.ndarray:
    """Finite per-seed values of `key` (a final metric name in status.json,
    or a report.Column) for `trial`; empty if the trial is absent."""
    column = key if isinstance(key, report.Column) else report.final(key)
    out = [column.value(r) for r in self.groups.get(trial, [])]
    return np.array([v for v in out if v is not None and math.isfinite(v)],
                    np.float64)

  def trial(self, **overrides) -> Optional[str]:
    """The trial whose axis values include `overrides`, matched on the last
    part of the config path (e.g. dropout_rate=0.3) or on the whole path
    where two axes share a last part (**{'schedule.name': 'cosine'})."""
    for name in self.trials:
      runs = self.groups[name]
      axis_values = runs[0].config.get('overrides') or {}
      given = {k.split('.')[-1]: v for k, v in axis_values.items()}
      given.update(axis_values)
      if all(k in given and _same(given[k], v) for k, v in overrides.items()):
        return name
    return None

  def exact_trial(self, **overrides) -> Optional[str]:
    """The trial whose axis values are exactly `overrides` (last parts of
    the config paths), no more: with passes (a sequence of grids), the
    learning-rate sweep's 'learning_rate=0.1' is not the contrast trial
    'bias_init=0.1,learning_rate=0.1'."""
    for name in self.trials:
      given = {k.split('.')[-1]: v
               for k, v in (self.groups[name][0].config.get('overrides')
                            or {}).items()}
      if set(given) == set(overrides) and all(
          _same(given[k], v) for k, v in overrides.items()):
        return name
    return None

  def seeds(self, trial: str) -> int:
    return len(self.groups.get(trial, []))


class PartEvidence:
  """The evidence of a script of several parts (cli.run_parts): one
  Evidence per part, by part name."""

  def __init__(self, parts: Dict[str, Evidence]):
    self.parts = dict(parts)

  def part(self, name: str) -> Evidence:
    """That part's Evidence; KeyError (an 'inconclusive' verdict) if the
    part did not run."""
    if name not in self.parts:
      raise KeyError(f'part {name!r} did not run')
    return self.parts[name]


def _same(a, b) -> bool:
  if isinstance(a, (int, float)) and isinstance(b, (int, float)):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
  return a == b


def describe(values: np.ndarray, fmt: str = '.4f') -> str:
  """'0.8731 ± 0.0042 (n=3)': mean ± sample std over the runs (seeds, or
  seeds x folds under cross-validation)."""
  if values.size == 0:
    return 'n/a'
  if values.size == 1:
    return f'{values[0]:{fmt}} (n=1)'
  return (f'{values.mean():{fmt}} ± {values.std(ddof=1):{fmt}} '
          f'(n={values.size})')


@dataclasses.dataclass(frozen=True)
class Comparison:
  """mean(a) - mean(b) and its standard error over seeds."""
  diff: float
  se: float
  decided: bool  # both sides have >= 2 finite seeds

  @property
  def significant(self) -> bool:
    return self.decided and abs(self.diff) > SE_MULTIPLE * self.se

  @property
  def sign(self) -> int:
    """+1 / -1 for a significant difference, 0 otherwise."""
    return int(np.sign(self.diff)) if self.significant else 0


def difference(a: np.ndarray, b: np.ndarray) -> Comparison:
  if a.size < 2 or b.size < 2:
    diff = float(a.mean() - b.mean()) if a.size and b.size else math.nan
    return Comparison(diff, math.nan, False)
  se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
  return Comparison(float(a.mean() - b.mean()), se, True)


def compare(a: np.ndarray, b: np.ndarray, what: str, a_name: str,
            b_name: str, expect: int = 1, fmt: str = '.4f') -> Verdict:
  """Supported when mean(a) - mean(b) has the expected sign (+1: a larger)
  beyond the spread rule, contradicted when significantly the other way,
  inconclusive within the spread."""
  c = difference(a, b)
  text = (f'{what}: {describe(a, fmt)} for {a_name} vs {describe(b, fmt)} for '
          f'{b_name}; difference {c.diff:+{fmt}}')
  if not c.decided:
    return Verdict(INCONCLUSIVE, text + ' (fewer than 2 runs a side)')
  text += f', {SE_MULTIPLE:g} SE = {SE_MULTIPLE * c.se:{fmt}}'
  if c.sign == expect:
    return Verdict(SUPPORTED, text)
  if c.sign == -expect:
    return Verdict(CONTRADICTED, text)
  return Verdict(INCONCLUSIVE, text + ' (within the spread)')


def at_most(values: np.ndarray, bound: float, what: str,
            fmt: str = '.4f') -> Verdict:
  """Supported when every seed's value is <= bound."""
  if values.size == 0:
    return Verdict(INCONCLUSIVE, f'{what}: no finite measurement')
  text = f'{what}: {describe(values, fmt)}, max {values.max():{fmt}}'
  if values.max() <= bound:
    return Verdict(SUPPORTED, text + f' <= {bound:{fmt}}')
  return Verdict(CONTRADICTED, text + f' > {bound:{fmt}}')


def near(values: np.ndarray, target: float, tolerance: float, what: str,
         fmt: str = '.4f') -> Verdict:
  """Supported when the mean is within `tolerance` of `target`,
  contradicted when it is farther than that plus the spread rule."""
  if values.size == 0:
    return Verdict(INCONCLUSIVE, f'{what}: no finite measurement')
  mean = values.mean()
  se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
  text = (f'{what}: {describe(values, fmt)} against {target:{fmt}} '
          f'(tolerance {tolerance:{fmt}})')
  if abs(mean - target) <= tolerance:
    return Verdict(SUPPORTED, text)
  if abs(mean - target) > tolerance + SE_MULTIPLE * se:
    return Verdict(CONTRADICTED, text)
  return Verdict(INCONCLUSIVE, text)


def evaluate(claims: Sequence[Claim], evidence: Evidence) -> List[Dict]:
  """Each claim with its verdict, as findings records store them. A rule
  that fails (e.g. a trial the user left out of the grid) gives
  'inconclusive' with the reason, never a crash after a finished run."""
  out = []
  for claim in claims:
    try:
      verdict = claim.check(evidence)
    except (KeyError, ValueError, IndexError, TypeError,
            ZeroDivisionError) as e:
      verdict = Verdict(INCONCLUSIVE, f'not decidable from this grid '
                        f'({type(e).__name__}: {e})')
    out.append(dict(source=claim.source, quote=claim.quote,
                    verdict=verdict.verdict, evidence=verdict.evidence))
  return out
