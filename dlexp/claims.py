"""Claims from the notes, decided by stated tests on the measured table.

An experiment script declares each claim: the notes' words verbatim
(`quote`, with `...` elisions only), what was measured (`tested_as`, with
"proxy: ..." where the setting differs from the notes'), the regime the
claim needs (`regime`: preconditions checked before the rule) and a rule
written in one of the declared forms below:

    claims.Claim(
        source='003 Q3', quote='ELU ... can lead to ... better generalization',
        tested_as='test accuracy of the 20x100 MLP, ELU against ReLU',
        regime=(claims.requires('ReLU trains above chance', lambda ev:
                    ev.sample(ev.trial(activation='relu'), VAL), '>=', 0.2),),
        rule=lambda ev: claims.greater(
            ev.sample(ev.trial(activation='elu'), TEST, 'ELU'),
            ev.sample(ev.trial(activation='relu'), TEST, 'ReLU'),
            margin=0.005, what='test accuracy'))

The forms, each with its direction and margin fixed before any number is
seen (dlexp/stats.py has the tests):

- `greater(a, b, margin)` / `less`: A > B by at least the margin (the
  smallest effect that matters). Two one-sided Welch tests at the margin:
  supported when the effect is significantly beyond it, contradicted when
  significantly short of it (A below B, equal, or above by less).
- `equivalent(a, b, margin)`: A = B within the margin (TOST); contradicted
  when A differs from B by more than the margin, significantly.
- `not_worse(a, b, margin)`: A is no worse than B by more than the margin
  (non-inferiority); contradicted when it is worse by more than that.
- `rate_greater(a, b)`: more seeds of A than of B have an all-or-nothing
  outcome (stuck, diverged, collapsed): Fisher's exact test.
  `share_above(a, p0)`: more than a share p0 of A's seeds have it (exact
  binomial test).
- `within(x, target, margin)`, `below(x, bound)`, `above(x, bound)`: a
  value against a target.
- `across(cases, mode)`: one claim over several cases, Holm-adjusted.
  'and' (a conjunction: each part must hold): supported if every part is,
  contradicted if any part is, else inconclusive.
  'all' (the claim says it holds everywhere): supported only if every case
  is; depends only with a case significantly supporting and one
  significantly contradicting; some supported and the rest inconclusive is
  inconclusive, naming the cases. 'any' (an existence claim, "can cause"):
  supported if some case is, else inconclusive; it never contradicts.
  'some' (a general claim whose setting the notes leave open, e.g. no rate
  named): supported if some case is, contradicted only if every case is,
  else inconclusive.

A rule cannot bend a verdict: `evaluate` re-derives every verdict from its
p-values and cases and rejects one that does not match (a rule that maps
contradicted to depends is an error). A trial missing from the user's grid
(`MissingTrial`) makes the claim inconclusive ("not in this grid"); any
other exception in a rule is an error, recorded, and the script exits
non-zero after printing everything else.

Evidence is the table: per-seed values of the columns that the script's
table shows, by trial, with each seed's status. The same values go into
the findings record, so `python -m dlexp.findings --rejudge` decides every
verdict again from the committed records without training.
"""
import contextlib
import contextvars
import dataclasses
import math
import operator
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np

from dlexp import report, stats

SUPPORTED, CONTRADICTED, DEPENDS, INCONCLUSIVE = (
    'supported', 'contradicted', 'depends', 'inconclusive')
ERROR = 'error'  # the rule crashed: a bug, reported and exit status 1
VERDICTS = (SUPPORTED, CONTRADICTED, DEPENDS, INCONCLUSIVE)
DONE, DIVERGED, COLLAPSED = 'done', 'diverged', 'collapsed'

_ALPHA = contextvars.ContextVar('alpha', default=stats.ALPHA)


@contextlib.contextmanager
def alpha_of(alpha: float):
  """The significance level of every test decided inside."""
  token = _ALPHA.set(alpha)
  try:
    yield
  finally:
    _ALPHA.reset(token)


def alpha() -> float:
  return _ALPHA.get()


class MissingTrial(KeyError):
  """The grid the user ran lacks a trial this claim needs."""

  def __str__(self):
    return str(self.args[0]) if self.args else 'trial not in this grid'


class RuleError(Exception):
  """A rule broke the contract (read a column outside the table, bent a
  verdict): a bug in the script, never a verdict."""


# -- verdicts -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Verdict:
  """A decision and what decided it. Built only by the forms below;
  `derive()` recomputes the decision from its parts."""
  verdict: str
  evidence: str  # one sentence with the numbers
  form: str = ''  # 'A > B (margin 0.005)', 'rate(A) > rate(B)', ...
  result: Optional[stats.Result] = None
  p_support: float = math.nan  # p of the test that supports (nan: none)
  p_contradict: float = math.nan  # p of the test that contradicts
  cases: Tuple[Tuple[str, 'Verdict'], ...] = ()
  mode: str = ''  # across(): 'all', 'and', 'any' or 'some'
  regime: str = ''  # why the regime was not reached ('' if it was)
  alpha: float = stats.ALPHA
  # A combination's (p support, p contradict) once Holm-adjusted as a case
  # of an enclosing across(); None: its own summary.
  adjusted: Optional[Tuple[float, float]] = None

  def __post_init__(self):
    if self.verdict not in VERDICTS:
      raise ValueError(f'verdict {self.verdict!r} not in {VERDICTS}')

  def derive(self) -> str:
    """The verdict its tests give (evaluate checks that it is this one)."""
    if self.regime or (self.result is None and not self.cases):
      return INCONCLUSIVE
    if self.cases:
      return _combine([(n, v.verdict) for n, v in self._adjusted()],
                      self.mode)[0]
    return _decide(self.p_support, self.p_contradict, self.alpha)

  def summary(self) -> Tuple[float, float]:
    """(p of support, p of contradiction) of this verdict as one test: a
    leaf's own; for cases combined, from their Holm-adjusted p-values: all
    must hold ('all', 'and': an intersection-union test, the largest p of
    support; contradicted by any part, the smallest p of contradiction),
    or some must ('any': the smallest p of support; never contradicted;
    'some': contradicted only when every case is, the largest p of
    contradiction)."""
    if not self.cases:
      return self.p_support, self.p_contradict
    if self.regime:
      return math.nan, math.nan
    if self.adjusted is not None:
      return self.adjusted
    pairs = [v.summary() for _, v in self._adjusted()]
    sup = [ps for ps, _ in pairs]
    con = [pc for _, pc in pairs if math.isfinite(pc)]
    if self.mode in ('any', 'some'):
      finite = [p for p in sup if math.isfinite(p)]
      # 'some' is contradicted only when every case is: the largest p.
      every = self.mode == 'some' and con and len(con) == len(pairs)
      return ((min(finite) if finite else math.nan),
              max(con) if every else math.nan)
    best_con = min(con) if con else math.nan
    return (max(sup) if sup and all(map(math.isfinite, sup)) else math.nan,
            best_con)

  def _adjusted(self) -> List[Tuple[str, 'Verdict']]:
    """The cases as single tests (nested combinations by their summary),
    with p-values Holm-adjusted over the cases (support and contradiction
    each), and each case's decision at those p-values."""
    pairs = [v.summary() for _, v in self.cases]
    # A deterministic case (an exact count: p is 0 or 1, no sampling) can
    # make no false discovery, so it keeps its p and is not counted in
    # Holm's family.
    fixed = [_deterministic(v) for _, v in self.cases]
    sup, con = ([ps for ps, _ in pairs], [pc for _, pc in pairs])
    rand = [i for i, f in enumerate(fixed) if not f]
    for ps, adj in ((sup, stats.holm([sup[i] for i in rand])),
                    (con, stats.holm([con[i] for i in rand]))):
      for i, p in zip(rand, adj):
        ps[i] = p
    out = []
    for (name, v), ps, pc in zip(self.cases, sup, con):
      if v.regime:
        out.append((name, v))
      elif v.cases:  # a combination: its own cases keep their own p's
        out.append((name, dataclasses.replace(
            v, adjusted=(ps, pc), verdict=_decide(ps, pc, v.alpha))))
      else:
        out.append((name, dataclasses.replace(
            v, p_support=ps, p_contradict=pc,
            verdict=_decide(ps, pc, v.alpha))))
    return out

  def with_note(self, text: str) -> 'Verdict':
    """The same decision with more context in its sentence."""
    return dataclasses.replace(self, evidence=f'{self.evidence}; {text}')

  @property
  def p(self) -> float:
    """The p-value shown for the verdict: the deciding test's (for cases
    combined, the summary of their Holm-adjusted p-values), else the
    smaller of the two."""
    p_support, p_contradict = self.summary()
    if self.verdict == CONTRADICTED:
      return p_contradict
    if self.verdict == SUPPORTED:
      return p_support
    finite = [p for p in (p_support, p_contradict) if math.isfinite(p)]
    return min(finite) if finite else math.nan

  def shown(self) -> Optional[stats.Result]:
    """The result a summary row shows: its own, or that of the case whose
    p-value is the verdict's p (the case that decides it), so that the
    effect, interval and p of a row belong together."""
    return self.shown_case()[1]

  def shown_case(self) -> Tuple[str, Optional[stats.Result]]:
    """(which case, its result) for `shown()`: the deciding case's name,
    nested names joined by ' / ' ('' for a verdict's own result), so that
    a row whose effect is one part of a combination says which part."""
    if self.result is not None or not self.cases:
      return '', self.result
    target = self.p
    parts = [v for _, v in self._adjusted()]  # p's at this level
    if not parts:
      return '', None

    def distance(i):
      # The case whose own p (the one toward its own verdict) is the row's;
      # among ties (e.g. every case at p = 1), one with the row's verdict,
      # then the smallest p.
      p = parts[i].p
      own = p if math.isfinite(p) else math.inf
      near = abs(own - target) if math.isfinite(target) else own
      return near, parts[i].verdict != self.verdict, own

    # The deciding case as it was built (a combination's own cases carry
    # p's adjusted within it, which its own shown_case() compares).
    name, case = self.cases[min(range(len(parts)), key=distance)]
    inner, result = case.shown_case()
    return (f'{name} / {inner}' if inner else name), result


def _deterministic(v: Verdict) -> bool:
  """Whether a verdict rests on exact (deterministic) measurements only."""
  if v.regime:
    return False
  if v.cases:
    return all(_deterministic(c) for _, c in v.cases)
  return v.result is not None and v.result.test == stats.EXACT_TEST


def _nan_big(p: float) -> float:
  return p if math.isfinite(p) else 2.0


def _decide(p_support: float, p_contradict: float, a: float) -> str:
  if math.isfinite(p_support) and p_support < a:
    return SUPPORTED
  if math.isfinite(p_contradict) and p_contradict < a:
    return CONTRADICTED
  return INCONCLUSIVE


def _combine(cases: Sequence[Tuple[str, str]], mode: str
             ) -> Tuple[str, str]:
  """(verdict, why) of a claim over cases, from each case's verdict."""
  sup = [n for n, v in cases if v == SUPPORTED]
  con = [n for n, v in cases if v == CONTRADICTED]
  if not cases:
    return INCONCLUSIVE, 'no case'
  if mode == 'and':  # the claim is a conjunction: every part must hold
    if len(sup) == len(cases):
      return SUPPORTED, 'every part supported'
    if con:
      return CONTRADICTED, f'contradicted in {", ".join(con)}'
    return INCONCLUSIVE, (f'supported in {", ".join(sup) or "no part"}; the '
                          'rest inconclusive')
  if mode == 'some':
    if sup:
      return SUPPORTED, f'supported in {", ".join(sup)}'
    if len(con) == len(cases):
      return CONTRADICTED, 'contradicted in every case'
    return INCONCLUSIVE, 'no case supports it; not every case contradicts it'
  if mode == 'any':
    against = (f'; significantly against in {", ".join(con)}, which an '
               'existence claim does not count as a refutation' if con else '')
    if sup:
      return SUPPORTED, f'supported in {", ".join(sup)}{against}'
    return INCONCLUSIVE, 'no case supports it (an existence claim cannot ' \
        f'be contradicted by its absence here){against}'
  if len(sup) == len(cases):
    return SUPPORTED, 'supported in every case'
  if sup and con:
    return DEPENDS, (f'supported in {", ".join(sup)}; contradicted in '
                     f'{", ".join(con)}')
  if len(con) == len(cases):
    return CONTRADICTED, 'contradicted in every case'
  if con:
    # A claim said to hold everywhere fails where it is contradicted.
    return CONTRADICTED, (f'contradicted in {", ".join(con)}; the rest '
                          'inconclusive')
  if sup:
    return INCONCLUSIVE, (f'supported only in {", ".join(sup)}; the rest '
                          'inconclusive')
  return INCONCLUSIVE, 'no case decided'


def across(cases: Sequence[Tuple[str, Verdict]], mode: str = 'all'
           ) -> Verdict:
  """One verdict from one per case (see the module docstring), with
  Holm's adjustment over the cases."""
  if mode not in ('all', 'any', 'and', 'some'):
    raise ValueError(f"mode {mode!r}: 'all', 'any', 'some' or 'and'")
  cases = tuple((str(n), v) for n, v in cases)
  shell = Verdict(INCONCLUSIVE, '', form=f'{mode} of {len(cases)} cases '
                  '(Holm)', cases=cases, mode=mode, alpha=alpha())
  adjusted = shell._adjusted()  # pylint: disable=protected-access
  verdict, why = _combine([(n, v.verdict) for n, v in adjusted], mode)
  text = '; '.join(
      f'[{n}: {v.verdict}, {"exact" if _deterministic(v) else "Holm"} '
      f'p{_p(v.p)}] {v.evidence}' for n, v in adjusted)
  return dataclasses.replace(shell, verdict=verdict,
                             evidence=f'{why}. {text}')


# -- evidence -------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sample:
  """One trial's per-seed values of one column, as a comparison arm."""
  values: np.ndarray  # finite, from seeds that did not collapse
  name: str
  seeds: int = 0  # seeds the trial ran
  no_value: int = 0  # seeds with no finite value (e.g. never reached)
  collapsed: int = 0  # seeds left out: they diverged or ended at chance
  basis: str = ''  # 'restored best epoch', 'last epoch', ''
  at_chance: int = 0  # seeds kept although they collapsed to chance
  exact: bool = False  # a deterministic measurement (report.Column.exact)

  def describe(self, fmt: str = '.4f') -> str:
    text = f'{self.name} {describe(self.values, fmt)}'
    dropped = [f'{k} of {self.seeds} {why}' for k, why in (
        (self.no_value, 'without a finite value'),
        (self.collapsed, 'diverged or collapsed to chance, left out'),
        (self.at_chance, 'diverged or collapsed to chance, kept')) if k]
    return text + (f' [{"; ".join(dropped)}]' if dropped else '')


@dataclasses.dataclass(frozen=True)
class Count:
  """How many of a trial's seeds had an all-or-nothing outcome."""
  k: int
  n: int
  name: str
  what: str  # 'diverged', 'collapsed', 'stuck (train loss > 2.2)'

  def describe(self) -> str:
    return f'{self.name} {self.k}/{self.n} {self.what}'


Key = Union[str, report.Column]


class Evidence:
  """The table of one script invocation: per trial (table order) its axis
  values, each seed's status and each column's per-seed values."""

  def __init__(self, trials: Dict[str, Dict[str, Any]]):
    self.table = trials
    self.trials = list(trials)

  @classmethod
  def from_runs(cls, groups: Dict[str, List[report.Run]],
                columns: Sequence[report.Column],
                order: Optional[Sequence[str]] = None) -> 'Evidence':
    names = [t for t in (order or groups) if t in groups]
    return cls({t: _trial_record(groups[t], columns) for t in names})

  def record(self) -> Dict[str, Any]:
    """As findings records store it: the table order kept explicitly (the
    records are written with sorted keys)."""
    return {'order': list(self.trials), 'trials': self.table}

  # trials
  def find(self, **overrides) -> Optional[str]:
    """The trial whose axis values include `overrides` (last part of the
    config path, or the whole path where two axes share a last part),
    None if there is none."""
    for name in self.trials:
      given = _axes(self.table[name])
      if all(k in given and same(given[k], v) for k, v in overrides.items()):
        return name
    return None

  def axes(self, trial: str) -> Dict[str, Any]:
    """The trial's axis values, by the config path's last part and by the
    whole path."""
    return _axes(self.table[self.need(trial)])

  def trial(self, **overrides) -> str:
    """As find(), but a trial this grid lacks is MissingTrial."""
    name = self.find(**overrides)
    if name is None:
      raise MissingTrial(f'no trial with {_kv(overrides)} in this grid')
    return name

  def exact_trial(self, **overrides) -> str:
    """The trial whose axis values are exactly `overrides`, no more (with
    passes, 'learning_rate=0.1' is not 'bias_init=0.1,learning_rate=0.1')."""
    for name in self.trials:
      given = {k.split('.')[-1]: v
               for k, v in self.table[name].get('overrides', {}).items()}
      if set(given) == set(overrides) and all(
          same(given[k], v) for k, v in overrides.items()):
        return name
    raise MissingTrial(f'no trial with exactly {_kv(overrides)}')

  def need(self, trial: str) -> str:
    if trial not in self.table:
      raise MissingTrial(f'trial {trial!r} is not in this grid')
    return trial

  def headers(self) -> List[str]:
    """The table's column headers (a rule that needs a setting, such as a
    target accuracy, reads it from its column's header, never a flag)."""
    first = next(iter(self.table.values()), {})
    return list(first.get('columns', {}))

  def seeds(self, trial: str) -> int:
    return len(self.table[self.need(trial)].get('status', []))

  # values
  def column(self, trial: str, key: Key) -> List[Optional[float]]:
    """Every seed's value (None where none) of a column of the table."""
    header = key.header if isinstance(key, report.Column) else key
    columns = self.table[self.need(trial)]['columns']
    if header not in columns:
      raise RuleError(f'column {header!r} is not in the table '
                      f'({", ".join(columns)}): a rule reads what the table '
                      'shows')
    return columns[header]

  def sample(self, trial: str, key: Key, name: Optional[str] = None,
             keep_collapsed: bool = False) -> Sample:
    """The seeds' finite values. Seeds that failed (diverged, or collapsed
    to chance) are left out and counted, so that no mean mixes failed and
    learning seeds; `keep_collapsed` keeps them (a claim about failure)."""
    row = self.table[self.need(trial)]
    raw = self.column(trial, key)
    states = row.get('status', [DONE] * len(raw))
    kept, no_value, collapsed, at_chance = [], 0, 0, 0
    for value, state in zip(raw, states):
      failed = state in (DIVERGED, COLLAPSED)
      if failed and not keep_collapsed:
        collapsed += 1
      elif value is None or not math.isfinite(value):
        no_value += 1
      else:
        kept.append(value)
        at_chance += failed
    restored = sum(row.get('restored', []))
    header = key.header if isinstance(key, report.Column) else key
    basis = (f'restored best epoch in {restored} of {len(raw)} seeds'
             if restored and header in row.get('restored_columns', [])
             else '')
    return Sample(np.array(kept, np.float64), name or trial, len(raw),
                  no_value, collapsed, basis, at_chance,
                  header in row.get('exact_columns', []))

  def values(self, trial: str, key: Key) -> np.ndarray:
    return self.sample(trial, key).values

  def paired(self, a: Tuple[str, Key], b: Tuple[str, Key],
             name: str) -> Sample:
    """Per seed, (trial, column) `a` minus `b`, matched by seed (the same
    seed: its data order and initialization). A seed that diverged or
    collapsed to chance on either side is left out and counted, as
    `sample` leaves it out; one without a finite value on either side is
    left out as having no value."""
    sides = [(self.need(t), key) for t, key in (a, b)]
    by_seed = [dict(zip(self.table[t]['seeds'], self.column(t, key)))
               for t, key in sides]
    failed = {s for t, _ in sides
              for s, state in zip(self.table[t]['seeds'],
                                  self.table[t].get('status', []))
              if state in (DIVERGED, COLLAPSED)}
    seeds = [s for s in by_seed[0] if s in by_seed[1]]
    diffs, no_value = [], 0
    for s in seeds:
      x, y = by_seed[0][s], by_seed[1][s]
      if s in failed:
        continue
      if x is None or y is None or not math.isfinite(x - y):
        no_value += 1
      else:
        diffs.append(x - y)
    return Sample(np.array(diffs, np.float64), name, len(seeds), no_value,
                  len([s for s in seeds if s in failed]))

  def count(self, trial: str, what: Optional[str] = None,
            key: Optional[Key] = None,
            where: Optional[Callable[[Optional[float]], bool]] = None,
            name: Optional[str] = None) -> Count:
    """Seeds of `trial` with status `what` ('diverged', 'collapsed'), or,
    with `key` and `where`, whose value of that column satisfies `where`
    (a seed without a value is passed None)."""
    row = self.table[self.need(trial)]
    if key is not None:
      hits = sum(bool(where(v)) for v in self.column(trial, key))
      what = what or (key.header if isinstance(key, report.Column) else key)
    elif what == COLLAPSED:
      hits = sum(row.get('collapsed', []))
    else:
      what = what or DIVERGED
      hits = sum(s == what for s in row.get('status', []))
    return Count(int(hits), len(row.get('status', [])), name or trial, what)


def _axes(row: Dict[str, Any]) -> Dict[str, Any]:
  given = {k.split('.')[-1]: v for k, v in row.get('overrides', {}).items()}
  given.update(row.get('overrides', {}))
  return given


def _kv(overrides: Dict[str, Any]) -> str:
  return ', '.join(f'{k}={v!r}' for k, v in overrides.items())


def _trial_record(runs: Sequence[report.Run],
                  columns: Sequence[report.Column]) -> Dict[str, Any]:
  """Per seed: under cross-validation a seed's value is its folds' mean
  (folds share the seed's data, so they are not independent runs)."""
  seeds = sorted({r.seed for r in runs})
  by_seed = {s: [r for r in runs if r.seed == s] for s in seeds}

  def per_seed(fn):
    out = []
    for s in seeds:
      vals = [fn(r) for r in by_seed[s]]
      ok = [v for v in vals if v is not None and math.isfinite(v)]
      out.append(float(np.mean(ok)) if ok and len(ok) == len(vals) else None)
    return out

  def status(s):
    names = [report.status_of(r) for r in by_seed[s]]
    return next((n for n in names if n != DONE), DONE)

  return dict(
      overrides=dict(runs[0].config.get('overrides') or {}),
      seeds=seeds, status=[status(s) for s in seeds],
      collapsed=[status(s) == COLLAPSED for s in seeds],
      restored=[any(report.restored_early(r) for r in by_seed[s])
                for s in seeds],
      restored_columns=[c.header for c in columns if c.restorable],
      exact_columns=[c.header for c in columns if c.exact],
      columns={c.header: per_seed(c.value) for c in columns})


def fabricate(table: Dict[str, Dict[str, Sequence[Optional[float]]]],
              overrides: Optional[Dict[str, Dict[str, Any]]] = None,
              status: Optional[Dict[str, Sequence[str]]] = None,
              exact: Sequence[str] = ()) -> Evidence:
  """Evidence made up for a test: {trial: {column header: per-seed values}}
  (None: no value). Axis values default to the trial name parsed as
  'key=value,key=value'; every seed is 'done' unless `status` says;
  `exact` names the deterministic columns (report.Column.exact)."""
  rows = {}
  for trial, columns in table.items():
    n = max((len(v) for v in columns.values()), default=0)
    given = (overrides or {}).get(trial)
    if given is None:
      given = {}
      for part in trial.split(','):
        if '=' in part:
          k, v = part.split('=', 1)
          given[k] = _parse(v)
    states = list((status or {}).get(trial, [DONE] * n))
    rows[trial] = dict(
        overrides=given, seeds=list(range(n)), status=states,
        collapsed=[s == COLLAPSED for s in states], restored=[False] * n,
        exact_columns=list(exact),
        columns={h: [None if v is None else float(v) for v in vals]
                 for h, vals in columns.items()})
  return Evidence(rows)


def _parse(text: str):
  for kind in (int, float):
    try:
      return kind(text)
    except ValueError:
      pass
  return {'True': True, 'False': False}.get(text, text)


class PartEvidence:
  """The evidence of a script of several parts (ablation.run_parts): one
  Evidence per part, by part name."""

  def __init__(self, parts: Dict[str, Evidence]):
    self.parts = dict(parts)

  def part(self, name: str) -> Evidence:
    if name not in self.parts:
      raise MissingTrial(f'part {name!r} did not run')
    return self.parts[name]

  def record(self) -> Dict[str, Any]:
    return {'parts': {n: e.record() for n, e in self.parts.items()}}


def from_record(data: Dict[str, Any]) -> Union[Evidence, PartEvidence]:
  """The evidence a findings record stored."""
  if 'parts' in data:
    return PartEvidence({n: _evidence(t) for n, t in data['parts'].items()})
  return _evidence(data)


def _evidence(data: Dict[str, Any]) -> Evidence:
  if 'order' in data and 'trials' in data:
    return Evidence({t: data['trials'][t] for t in data['order']})
  return Evidence(data)  # written before the order was kept


def same(a, b) -> bool:
  """Axis values equal: numbers within float rounding, others exactly."""
  if isinstance(a, (int, float)) and isinstance(b, (int, float)):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
  return a == b


# -- the forms ------------------------------------------------------------------
def describe(values, fmt: str = '.4f') -> str:
  """'0.8731 ± 0.0042 (n=5)': mean ± sample std over seeds."""
  values = np.asarray(values, np.float64)
  if values.size == 0:
    return 'n/a (n=0)'
  if values.size == 1:
    return f'{values[0]:{fmt}} (n=1)'
  return (f'{values.mean():{fmt}} ± {values.std(ddof=1):{fmt}} '
          f'(n={values.size})')


def _p(p: float) -> str:
  """'=0.012', '<0.001' or '=n/a', to follow 'p'."""
  if not math.isfinite(p):
    return '=n/a'
  return f'={p:.2g}' if p >= 0.001 else '<0.001'


def _stated(r: stats.Result, fmt: str) -> str:
  """'effect +0.012 [95% CI +0.004, +0.020], Welch t p=0.01 (exact
  permutation p=0.008), detectable effect 0.009'."""
  if not r.decidable:
    return (f'effect {r.effect:+{fmt}}; not decidable with n={r.n} '
            '(fewer than 2 runs a side)')
  level = round(100 * (1 - alpha()))
  perm = (f' (exact permutation p{_p(r.p_permutation)})'
          if r.p_permutation is not None else '')
  mde = (f', detectable effect {r.mde:{fmt.lstrip("+")}}'
         if math.isfinite(r.mde) else '')
  return (f'effect {r.effect:+{fmt}} [{level}% CI {r.ci[0]:+{fmt}}, '
          f'{r.ci[1]:+{fmt}}], {r.test} p{_p(r.p)}{perm}{mde}')


def _basis(*samples: Sample) -> str:
  notes = [f'{s.name}: {s.basis}' for s in samples if s.basis]
  return f' (basis: {"; ".join(notes)})' if notes else ''


def _issue(what: str, form: str, text: str, result: stats.Result,
           p_support: float, p_contradict: float) -> Verdict:
  a = alpha()
  if not result.decidable:
    p_support = p_contradict = math.nan
  return Verdict(_decide(p_support, p_contradict, a), f'{what}: {text}',
                 form=form, result=result, p_support=p_support,
                 p_contradict=p_contradict, alpha=a)


def _beyond(a: Sample, b: Sample, margin: float, sign: int, what: str,
            fmt: str) -> Verdict:
  """greater (sign +1) or less (-1): two one-sided Welch tests at the
  margin, fixed before any number was seen."""
  if not margin > 0:
    raise ValueError(f'margin {margin!r}: a positive smallest effect that '
                     'matters')
  ex = a.exact and b.exact
  r = stats.welch(a.values, b.values, alpha(), ex)
  beyond, short = ('greater', 'less') if sign > 0 else ('less', 'greater')
  p_sup = stats.shifted_p(a.values, b.values, sign * margin, beyond, ex)
  p_con = stats.shifted_p(a.values, b.values, sign * margin, short, ex)
  how = (' (exact permutation tests at the margin: whole-number counts)'
         if not ex and stats.counts(a.values, b.values) else '')
  text = (f'{a.describe(fmt)} vs {b.describe(fmt)}; {_stated(r, fmt)}; '
          f'beyond the margin {margin:g}: p{_p(p_sup)}, short of it: '
          f'p{_p(p_con)}{how}{_basis(a, b)}')
  relation = '>' if sign > 0 else '<'
  return _issue(what, f'{a.name} {relation} {b.name} (margin {margin:g})',
                text, r, p_sup, p_con)


def greater(a: Sample, b: Sample, margin: float, what: str,
            fmt: str = '.4f') -> Verdict:
  """Claim: mean(A) > mean(B) by an effect that matters (`margin`), by
  two one-sided Welch tests at the margin (a minimum-effect test).
  Supported: A - B significantly above the margin.
  Contradicted: A - B significantly below it (A below B, equal, or above
  by less). In between, inconclusive: the interval holds the margin.
  """
  return _beyond(a, b, margin, +1, what, fmt)


def less(a: Sample, b: Sample, margin: float, what: str,
         fmt: str = '.4f') -> Verdict:
  """Claim: mean(A) < mean(B) (greater with the sides as the claim says
  them; the effect shown is A - B)."""
  return _beyond(a, b, margin, -1, what, fmt)


def equivalent(a: Sample, b: Sample, margin: float, what: str,
               fmt: str = '.4f') -> Verdict:
  """Claim: A = B within `margin`. Supported: TOST at alpha. Contradicted:
  |A - B| > margin, by a one-sided Welch test."""
  ex = a.exact and b.exact
  r = stats.welch(a.values, b.values, alpha(), ex)
  p_sup = stats.tost(a.values, b.values, margin, ex)
  p_con = min(stats.shifted_p(a.values, b.values, margin, 'greater', ex),
              stats.shifted_p(a.values, b.values, -margin, 'less', ex))
  text = (f'{a.describe(fmt)} vs {b.describe(fmt)}; {_stated(r, fmt)}; '
          f'TOST p{_p(p_sup)} for margin ±{margin:g}{_basis(a, b)}')
  return _issue(what, f'{a.name} ≈ {b.name} (±{margin:g})', text, r, p_sup,
                p_con)


def not_worse(a: Sample, b: Sample, margin: float, what: str,
              higher_is_better: bool = True, fmt: str = '.4f') -> Verdict:
  """Claim: A is not worse than B by more than `margin` (non-inferiority,
  one-sided at alpha). Contradicted: A is worse than B by more than the
  margin, significantly."""
  sign = 1.0 if higher_is_better else -1.0
  ex = a.exact and b.exact
  r = stats.welch(a.values, b.values, alpha(), ex)
  good, bad = ('greater', 'less') if higher_is_better else ('less',
                                                             'greater')
  p_sup = stats.shifted_p(a.values, b.values, -sign * margin, good, ex)
  p_con = stats.shifted_p(a.values, b.values, -sign * margin, bad, ex)
  direction = 'higher' if higher_is_better else 'lower'
  text = (f'{a.describe(fmt)} vs {b.describe(fmt)}; {_stated(r, fmt)}; '
          f'non-inferiority p{_p(p_sup)} for margin {margin:g} '
          f'({direction} is better){_basis(a, b)}')
  return _issue(what, f'{a.name} not worse than {b.name} (margin '
                f'{margin:g})', text, r, p_sup, p_con)


def rate_greater(a: Count, b: Count, what: str) -> Verdict:
  """Claim: a larger share of A's seeds than of B's have the outcome:
  Fisher's exact test, one-sided each way (the direction is the claim's);
  the shown interval and p of the difference are two-sided."""
  r = stats.fisher(a.k, a.n, b.k, b.n, alpha())
  p_sup = stats.fisher_p(a.k, a.n, b.k, b.n, 'greater') if a.n and b.n \
      else math.nan
  p_con = stats.fisher_p(a.k, a.n, b.k, b.n, 'less') if a.n and b.n \
      else math.nan
  text = f'{a.describe()} vs {b.describe()}; {_stated(r, ".2f")}'
  return _issue(what, f'rate({a.name}) > rate({b.name})', text, r, p_sup,
                p_con)


def share_above(a: Count, p0: float, what: str) -> Verdict:
  """Claim: more than a share `p0` of A's seeds have the outcome (exact
  binomial test, one-sided each way)."""
  r = stats.binomial(a.k, a.n, p0, alpha())
  text = f'{a.describe()} against a share of {p0:g}; {_stated(r, ".2f")}'
  return _issue(what, f'rate({a.name}) > {p0:g}', text, r,
                stats.binomial_p(a.k, a.n, p0, 'greater'),
                stats.binomial_p(a.k, a.n, p0, 'less'))


def within(x: Sample, target: float, margin: float, what: str,
           fmt: str = '.4f') -> Verdict:
  """Claim: the mean is `target` within ±`margin` (one-sample TOST).
  Contradicted: it is outside, significantly."""
  ex = x.exact
  r = stats.one_sample(x.values, target, alpha(), ex)
  p_sup = max(stats.one_sample_p(x.values, target - margin, 'greater', ex),
              stats.one_sample_p(x.values, target + margin, 'less', ex))
  p_con = min(stats.one_sample_p(x.values, target + margin, 'greater', ex),
              stats.one_sample_p(x.values, target - margin, 'less', ex))
  text = (f'{x.describe(fmt)} against {target:{fmt}} ± {margin:g}; '
          f'{_stated(r, fmt)}{_basis(x)}')
  return _issue(what, f'{x.name} = {target:g} ± {margin:g}', text, r, p_sup,
                p_con)


def below(x: Sample, bound: float, what: str, fmt: str = '.4f') -> Verdict:
  """Claim: the mean is below `bound` (one-sample t, one-sided).
  Contradicted: significantly above it."""
  return _against_bound(x, bound, -1, what, fmt)


def above(x: Sample, bound: float, what: str, fmt: str = '.4f') -> Verdict:
  """Claim: the mean is above `bound`. Contradicted: significantly below."""
  return _against_bound(x, bound, +1, what, fmt)


def _against_bound(x: Sample, bound: float, sign: int, what: str,
                   fmt: str) -> Verdict:
  """above (sign +1) or below (-1) `bound`: one-sided one-sample tests,
  both printed, since the interval and p stated first are two-sided."""
  r = stats.one_sample(x.values, bound, alpha(), x.exact)
  beyond, short = ('greater', 'less') if sign > 0 else ('less', 'greater')
  p_sup = stats.one_sample_p(x.values, bound, beyond, x.exact)
  p_con = stats.one_sample_p(x.values, bound, short, x.exact)
  side = 'above' if sign > 0 else 'below'
  text = (f'{x.describe(fmt)} against {bound:{fmt}}; {_stated(r, fmt)}; '
          f'{side} it (one-sided): p{_p(p_sup)}, not {side}: p{_p(p_con)}'
          f'{_basis(x)}')
  relation = '>' if sign > 0 else '<'
  return _issue(what, f'{x.name} {relation} {bound:g}', text, r, p_sup,
                p_con)



def less_overfitting(gap: Sample, gap_without: Sample, test: Sample,
                     test_without: Sample, gap_margin: float,
                     keep_margin: float) -> Verdict:
  """A remedy prevents overfitting: a smaller train - val accuracy gap than
  without it (beyond `gap_margin`) AND test accuracy not worse by more
  than `keep_margin` ('and'): a gap closed by underfitting is not
  overfitting prevented."""
  return across([
      ('gap', less(gap, gap_without, gap_margin, 'train - val accuracy gap')),
      ('test accuracy', not_worse(test, test_without, keep_margin,
                                  'test accuracy'))], 'and')

# -- claims -------------------------------------------------------------------
_OPS = {'>=': operator.ge, '>': operator.gt, '<=': operator.le,
        '<': operator.lt}


@dataclasses.dataclass(frozen=True)
class Check:
  """A precondition's outcome."""
  what: str
  value: float
  op: str
  threshold: float
  ok: bool
  n: int

  def describe(self) -> str:
    return (f'{self.what}: {self.value:.4g} (mean of {self.n}) {self.op} '
            f'{self.threshold:g}' if self.ok else
            f'{self.what}: {self.value:.4g} (mean of {self.n}) is not '
            f'{self.op} {self.threshold:g}')


@dataclasses.dataclass(frozen=True)
class Requirement:
  what: str
  get: Callable[[Any], Union[Sample, np.ndarray, float]]
  op: str
  threshold: float

  def check(self, ev) -> Check:
    got = self.get(ev)
    values = got.values if isinstance(got, Sample) else np.atleast_1d(
        np.asarray(got, np.float64))
    values = values[np.isfinite(values)]
    value = float(values.mean()) if values.size else math.nan
    ok = bool(values.size) and _OPS[self.op](value, self.threshold)
    return Check(self.what, value, self.op, self.threshold, ok,
                 int(values.size))


def requires(what: str, get: Callable[[Any], Any], op: str,
             threshold: float) -> Requirement:
  """A precondition: the mean of `get(ev)` (a Sample, values or a number)
  `op` `threshold`, e.g. requires("the baseline's train-val gap", lambda
  ev: ev.sample(ev.trial(dropout_rate=0.0), GAP), '>=', 0.05)."""
  if op not in _OPS:
    raise ValueError(f'op {op!r} not in {tuple(_OPS)}')
  return Requirement(what, get, op, threshold)


@dataclasses.dataclass(frozen=True)
class Claim:
  """One claim of the notes (or, with `outside`, of a paper or published
  baseline) and the rule that decides it."""
  source: str  # the notes' file and label: '003 Q5', '004 G6', '004 K3'
  quote: str  # the notes' words verbatim, '...' elisions only
  tested_as: str  # what was measured, on what ('proxy: ...' if it differs)
  rule: Callable[[Any], Verdict]
  regime: Sequence[Requirement] = ()
  existence: bool = False  # "can cause": supported or inconclusive only
  outside: str = ''  # not from the notes: the paper or baseline it is from


def evaluate(claims: Sequence[Claim], evidence: Any,
             alpha_: float = stats.ALPHA) -> List[Dict[str, Any]]:
  """Each claim with its verdict, as findings records store them. A
  MissingTrial gives 'inconclusive: not in this grid'; any other exception
  gives verdict 'error' with its message (the caller exits non-zero)."""
  with alpha_of(alpha_):
    return [_judge(c, evidence, alpha_) for c in claims]


def _judge(claim: Claim, evidence: Any, alpha_: float) -> Dict[str, Any]:
  out = dict(source=claim.source, quote=claim.quote,
             tested_as=claim.tested_as, existence=claim.existence,
             outside=claim.outside, alpha=alpha_, regime=[])
  try:
    checks = [r.check(evidence) for r in claim.regime]
    out['regime'] = [c.describe() for c in checks]
    failed = [c for c in checks if not c.ok]
    if failed:
      text = 'regime not reached: ' + '; '.join(c.describe() for c in failed)
      return dict(out, verdict=INCONCLUSIVE, evidence=text, regime_ok=False)
    verdict = claim.rule(evidence)
    _check_verdict(claim, verdict)
  except MissingTrial as e:
    return dict(out, verdict=INCONCLUSIVE, evidence=f'not in this grid: {e}')
  except Exception as e:  # pylint: disable=broad-except
    return dict(out, verdict=ERROR, evidence=f'{type(e).__name__}: {e}')
  part, shown = verdict.shown_case()
  out.update(verdict=verdict.verdict, evidence=verdict.evidence,
             form=verdict.form, p=_finite_or_none(verdict.p), regime_ok=True)
  if shown is not None:
    out.update(test=shown.test, effect=_finite_or_none(shown.effect),
               ci=[_finite_or_none(x) for x in shown.ci], n=list(shown.n),
               mde=_finite_or_none(shown.mde), shown_case=part)
  return out


def _check_verdict(claim: Claim, verdict: Any) -> None:
  if not isinstance(verdict, Verdict):
    raise RuleError(f'the rule returned {type(verdict).__name__}, not a '
                    'claims.Verdict from one of the declared forms')
  for v in _nested(verdict):
    derived = v.derive()
    if derived != v.verdict:
      raise RuleError(f'verdict {v.verdict!r} is not what its tests give '
                      f'({derived!r}): a rule cannot remap a verdict')
  if claim.existence and verdict.verdict not in (SUPPORTED, INCONCLUSIVE):
    raise RuleError(f'an existence claim cannot be {verdict.verdict}: '
                    'combine its cases with across(..., "any")')


def _nested(verdict: Verdict) -> List[Verdict]:
  """The verdict and every case inside it, at any depth."""
  out = [verdict]
  for _, v in verdict.cases:
    out += _nested(v)
  return out


def _finite_or_none(x):
  return float(x) if x is not None and math.isfinite(x) else None


SMOKE_LABEL = 'not evaluated (smoke size: a plumbing check; the rule gave '


def label(verdict: str, size: str) -> str:
  """The verdict as printed: a smoke-size run is a plumbing check."""
  if size == 'smoke':
    return f'{SMOKE_LABEL}{verdict.upper()})'
  return verdict.upper()
