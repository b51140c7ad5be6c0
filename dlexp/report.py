"""Results as tables and plots, read back from the logged-metrics files.

  python -m dlexp.report WORKDIR... [--plot] [--metrics=val_accuracy,...]

prints a markdown table (one row per trial, mean ± std over seeds) and, with
--plot, writes PNG learning curves into WORKDIR (a line per trial and
setting, diverged and at-chance seeds marked).
"""
import argparse
import dataclasses
import math
import os
import re
import sys
import textwrap
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from dlexp import analysis, records, tables
from dlexp.data import DATASETS
from dlexp.errors import ConfigError
from dlexp.train import workdir


@dataclasses.dataclass
class Run:
  """One trial x seed directory."""
  directory: str
  config: Dict
  status: Dict
  _metrics: Optional[List[Dict]] = None

  @property
  def trial(self) -> str:
    return self.config.get('trial') or 'run'

  @property
  def config_id(self) -> str:
    """The id of the result-changing settings (the run directory's parent);
    computed from config.json for runs written before ids existed."""
    if self.config.get('config_id'):
      return self.config['config_id']
    return workdir.config_id(self.config.get('config', {}),
                             self.config.get('script_options'))

  @property
  def fold(self) -> int:
    """The held-out fold under cross-validation, else -1."""
    return self.config.get('fold', -1)

  @property
  def seed(self) -> int:
    return self.config.get('seed', 0)

  @property
  def metrics(self) -> List[Dict]:
    if self._metrics is None:
      self._metrics = records.read_metrics(
          os.path.join(self.directory, 'metrics.jsonl'))
    return self._metrics

  def final(self, key: str) -> Optional[float]:
    return _number(self.status.get('final', {}).get(key))

  def at_epoch(self, key: str, epoch: int) -> Optional[float]:
    for row in self.metrics:
      if row.get('epoch') == epoch and key in row:
        return _number(row[key])
    return None


# A run "ends at chance" when its last-epoch validation accuracy is within
# this of 1 / (number of classes): it learned nothing, whatever its status.
CHANCE_MARGIN = 0.02


def chance(run: Run) -> Optional[float]:
  """1 / the number of classes the run was trained on; None for
  regression or an unknown dataset."""
  cfg = run.config.get('config', {})
  classes = cfg.get('data.classes')
  if classes:
    return 1.0 / len(classes)
  # Kept off report's import: the data registry pulls in the loaders.
  try:
    spec = DATASETS.get(cfg.get('data.name', ''))
  except Exception:  # pylint: disable=broad-except
    return None
  return 1.0 / spec.num_classes if spec.num_classes else None


def last_value(run: Run, key: str) -> Optional[float]:
  rows = [row for row in run.metrics if key in row]
  return _number(rows[-1][key]) if rows else None


def status_of(run: Run) -> str:
  """The run's status; 'collapsed' for a finished run whose last epoch's
  validation accuracy is at chance."""
  status = run.status.get('status', '?')
  if status != 'done':
    return status
  level = chance(run)
  acc = last_value(run, 'val_accuracy')
  if level is not None and acc is not None and math.isfinite(acc) and (
      acc <= level + CHANCE_MARGIN):
    return 'collapsed'
  return status


def restored_early(run: Run) -> bool:
  """Its final metrics are a restored epoch's, not the last epoch's."""
  best, ran = run.final('best_epoch'), run.final('epochs_run')
  return bool(run.status.get('final', {}).get('restored_best')) and (
      best is not None and ran is not None and best < ran)


def _number(value) -> Optional[float]:
  if value is None:
    return None
  try:
    return float(value)  # 'nan' strings too
  except (TypeError, ValueError):
    return None


@dataclasses.dataclass
class Column:
  header: str
  value: Callable[[Run], Optional[float]]  # one number per seed
  fmt: str = '.4f'
  spread: bool = True  # show ± std over seeds
  # Read from the run's final metrics, which are the restored best epoch's
  # where early stopping restored one (a verdict names that basis).
  restorable: bool = False
  # A deterministic measurement (a FLOP or parameter count, a stored size):
  # equal across seeds by construction, so decided by the numbers
  # themselves rather than tested as a sample of seeds.
  exact: bool = False


# Final values that describe the run, not the restored epoch's metrics.
RUN_KEYS = ('epochs_run', 'best_epoch', 'diverged_epoch', 'stopped_epoch')


def final(key: str, header: Optional[str] = None, fmt: str = '.4f',
          exact: bool = False) -> Column:
  return Column(header or key, lambda r: r.final(key), fmt,
                restorable=key not in RUN_KEYS, exact=exact)


def at_epoch(key: str, epoch: int, header: str, fmt: str = '.3f') -> Column:
  return Column(header, lambda r: r.at_epoch(key, epoch), fmt)


def last(key: str, header: Optional[str] = None, fmt: str = '.4f') -> Column:
  """`key` at the last epoch the run logged (final() gives the restored
  best epoch's metrics); no value where it is not finite, e.g. the epoch a
  run diverged in."""
  def value(run: Run) -> Optional[float]:
    rows = [row for row in run.metrics if key in row]
    return _number(rows[-1][key]) if rows else None
  return Column(header or f'{key} @end', value, fmt)


def epochs_to(key: str, target: float, header: str, mode: str = 'max'
              ) -> Column:
  """First epoch at which `key` reaches `target` (>= for mode 'max', <= for
  'min'); seeds that never reach it have no value (the cell says how many
  seeds the mean covers)."""
  def first(run: Run) -> Optional[float]:
    for row in run.metrics:
      v = _number(row.get(key))
      if row.get('epoch', 0) >= 1 and v is not None and math.isfinite(v) and (
          v >= target if mode == 'max' else v <= target):
        return float(row['epoch'])
    return None
  return Column(header, first, '.1f')


def timeline(run: Run, key: str) -> List[tuple]:
  """[(training seconds of this run so far, `key`)] per logged epoch, epoch
  0 at 0 s. An epoch's time is shared by the members that trained in it
  (looped members train one after another; vmapped ones together)."""
  out, seconds = [], 0.0
  for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
    if row.get('epoch', 0) >= 1:
      if 'epoch_seconds' not in row:
        continue
      seconds += row['epoch_seconds'] / max(row.get('members', 1), 1)
    out.append((seconds, _number(row.get(key))))
  return out


def seconds_to(key: str, target: float, header: str, mode: str = 'max'
               ) -> Column:
  """Training seconds until `key` first reaches `target` (see timeline);
  seeds that never reach it have no value."""
  def first(run: Run) -> Optional[float]:
    for seconds, v in timeline(run, key)[1:]:
      if v is not None and math.isfinite(v) and (
          v >= target if mode == 'max' else v <= target):
        return seconds
    return None
  return Column(header, first, '.1f')


def at_seconds(key: str, budget: float, header: str, fmt: str = '.4f'
               ) -> Column:
  """`key` after the last epoch that ended within `budget` training seconds
  (epoch 0, the untrained network, if none did): equal-time comparisons."""
  def value(run: Run) -> Optional[float]:
    done = [v for seconds, v in timeline(run, key) if seconds <= budget]
    return done[-1] if done else None
  return Column(header, value, fmt)


def trained_curve(run: Run, key: str) -> np.ndarray:
  """`key` at epochs 1, 2, ... up to the last finite value (a diverged
  run's curve ends where it stopped being finite)."""
  values = []
  for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
    v = _number(row.get(key))
    if row.get('epoch', 0) >= 1:
      if v is None or not math.isfinite(v):
        break
      values.append(v)
  return np.array(values, np.float64)


def still_gaining(key: str, epochs: int, fmt: str = '+.3f') -> Column:
  """`key` still gained at the end, a convergence check: the mean of the
  last `epochs` epochs minus the mean of the `epochs` before (means, so one
  epoch's noise does not decide it); none for a run that diverged or ran
  fewer epochs."""
  def value(run: Run) -> Optional[float]:
    curve = trained_curve(run, key)
    if status_of(run) == 'diverged' or curve.size < 2 * epochs:
      return None
    return float(curve[-epochs:].mean() - curve[-2 * epochs:-epochs].mean())
  return Column(f'val gain last {epochs}' if key == 'val_accuracy'
                else f'{key} gain last {epochs}', value, fmt)


def rises(key: str, header: str) -> Column:
  """Fraction of epoch-to-epoch changes of `key` that are increases (for a
  loss: how often an epoch ended worse than the one before)."""
  def value(run: Run) -> Optional[float]:
    d = np.diff(trained_curve(run, key))
    return float(np.mean(d > 0)) if d.size else None
  return Column(header, value, '.2f')


def reversals(key: str, header: str) -> Column:
  """Fraction of consecutive epoch-to-epoch changes of `key` that flip
  direction (down then up, or up then down): bouncing, as opposed to a
  steady fall or a steady climb."""
  def value(run: Run) -> Optional[float]:
    d = np.sign(np.diff(trained_curve(run, key)))
    return float(np.mean(d[1:] * d[:-1] < 0)) if d.size >= 2 else None
  return Column(header, value, '.2f')


def epoch_of_best(key: str, header: str, mode: str = 'min') -> Column:
  """The epoch (>= 1) at which `key` was lowest ('min') or highest ('max')
  before any non-finite value."""
  def value(run: Run) -> Optional[float]:
    c = trained_curve(run, key)
    if not c.size:
      return None
    return float((np.argmin(c) if mode == 'min' else np.argmax(c)) + 1)
  return Column(header, value, '.1f')


DEFAULT_COLUMNS = (
    final('val_accuracy', 'val acc'),
    final('test_accuracy', 'test acc'),
    Column('best epoch', lambda r: r.final('best_epoch'), '.1f'),
    Column('wall s', lambda r: _number(r.status.get('train_seconds')), '.0f',
           spread=False),
)


def default_column(header: str) -> Column:
  """One of DEFAULT_COLUMNS by its header ('val acc', 'test acc', 'best
  epoch', 'wall s'), so a script names the column it reads."""
  for column in DEFAULT_COLUMNS:
    if column.header == header:
      return column
  raise ConfigError(f'no default column {header!r}; allowed: '
                    + ', '.join(repr(c.header) for c in DEFAULT_COLUMNS))


def load_runs(workdir: str) -> List[Run]:
  runs = []
  for d in records.find_runs(workdir):
    config = records.read_json(os.path.join(d, 'config.json'))
    status = records.read_json(os.path.join(d, 'status.json'))
    if config is not None and status is not None:
      runs.append(Run(d, config, status))
  return runs


def by_trial(runs: Sequence[Run]) -> Dict[str, List[Run]]:
  """Runs grouped by trial and settings: 'trial' when the trial has one
  config id among `runs`, else 'trial [config id]' per id."""
  ids: Dict[str, set] = {}
  for r in runs:
    ids.setdefault(r.trial, set()).add(r.config_id)
  groups: Dict[str, List[Run]] = {}
  for r in runs:
    name = r.trial if len(ids[r.trial]) == 1 else f'{r.trial} [{r.config_id}]'
    groups.setdefault(name, []).append(r)
  return groups


def _result_fields(run: Run) -> Dict:
  """The run's result-changing config fields and its script options
  ('script.<name>')."""
  fields = workdir.result_fields(run.config.get('config', {}))
  fields.update({f'script.{k}': v for k, v in
                 (run.config.get('script_options') or {}).items()})
  return fields


def _differing(fields: Sequence[Dict]) -> List[str]:
  """The keys whose values are not the same in every one of `fields`."""
  keys = sorted({k for f in fields for k in f})
  return [k for k in keys if len({repr(f.get(k)) for f in fields}) > 1]


def setting_fields(groups: Dict[str, List[Run]]) -> Dict[str, str]:
  """For trials run under several settings: group name ('trial [config
  id]') -> 'field=value, ...' of the fields in which that config id
  differs from the trial's other settings."""
  by_name: Dict[str, Dict[str, Dict]] = {}
  for name, runs in groups.items():
    if runs and ' [' in name and name.endswith(']'):
      by_name.setdefault(runs[0].trial, {})[name] = _result_fields(runs[0])
  out = {}
  for variants in by_name.values():
    differ = _differing(list(variants.values()))
    for name, fields in variants.items():
      out[name] = ', '.join(f'{k}={fields.get(k)!r}' for k in differ)
  return out


def settings_legend(groups: Dict[str, List[Run]]) -> List[str]:
  """For trials run under several settings: one line per config id naming
  the fields in which it differs from the trial's other settings."""
  return [f'- {name}: {shown}' for name, shown in
          setting_fields(groups).items()]


def _finite(value) -> bool:
  return value is not None and math.isfinite(value)


def mean_std(values: Sequence[Optional[float]], fmt: str,
             spread: bool = True) -> str:
  """'0.8731 ± 0.0042' (sample std over seeds), 'n/a' if nothing finite.

  When some seeds have no finite value, the cell says how many seeds the
  mean covers: '0.8731 ± 0.0042 (2/3)'.
  """
  finite = [v for v in values if _finite(v)]
  if not finite:
    return 'n/a'
  mean = float(np.mean(finite))
  if len(finite) == 1 or not spread:
    text = format(mean, fmt)
  else:
    text = (f'{format(mean, fmt)} ± '
            f'{format(float(np.std(finite, ddof=1)), fmt.lstrip("+"))}')
  if len(finite) < len(values):
    text += f' ({len(finite)}/{len(values)})'
  return text


def _why(run: Run) -> str:
  """A run's status, with the epoch where it diverged if known."""
  status = status_of(run)
  epoch = run.final('diverged_epoch')
  if status == 'diverged' and epoch is not None:
    return f'diverged at epoch {int(epoch)}'
  return status


def _statuses(runs: Sequence[Run]) -> str:
  states = [status_of(r) for r in runs]
  names = sorted(set(states))
  if len(names) == 1:
    return names[0]
  return ','.join(f'{s}:{states.count(s)}' for s in names)


LAST_VAL = Column('val acc @last', lambda r: last_value(r, 'val_accuracy'))


def shown_columns(groups: Dict[str, List[Run]],
                  columns: Sequence[Column]) -> List[Column]:
  """The table's columns: where some run's final metrics come from a
  restored best epoch, the last epoch's validation accuracy beside them."""
  columns = list(columns)
  restored = any(restored_early(r) for rs in groups.values() for r in rs)
  if restored and LAST_VAL.header not in [c.header for c in columns]:
    at = next((i + 1 for i, c in enumerate(columns)
               if c.header == 'val acc'), len(columns))
    columns.insert(at, LAST_VAL)
  return columns


def table(groups: Dict[str, List[Run]],
          columns: Sequence[Column] = DEFAULT_COLUMNS,
          order: Optional[Sequence[str]] = None) -> str:
  """Markdown table, one row per trial; then, if any seed had no finite
  value in a column that others had, one line per such seed saying which
  means it is left out of and why (its status)."""
  names = list(order) if order else list(groups)
  columns = shown_columns(groups, columns)
  folds = any(r.fold >= 0 for rs in groups.values() for r in rs)
  # Under cross-validation a trial's runs are its seeds x folds.
  header = ['trial', 'runs' if folds else 'seeds'] + [
      c.header for c in columns] + ['status']
  rows, notes = [], []
  for name in names:
    runs = sorted(groups.get(name, []), key=lambda r: (r.seed, r.fold))
    if not runs:
      continue
    left_out: Dict[int, List[str]] = {}
    cells = [name, str(len(runs))]
    for c in columns:
      values = [c.value(r) for r in runs]
      cells.append(mean_std(values, c.fmt, c.spread))
      if any(_finite(v) for v in values):
        for i, v in enumerate(values):
          if not _finite(v):
            left_out.setdefault(i, []).append(c.header)
    cells.append(_statuses(runs))
    rows.append(cells)
    for i, headers in left_out.items():
      fold = f', fold {runs[i].fold}' if runs[i].fold >= 0 else ''
      notes.append(f'- {name}, seed {runs[i].seed}{fold} ({_why(runs[i])}): '
                   f'no finite value, left out of {", ".join(headers)}')
  lines = [tables.markdown(header, rows)]
  if notes:
    lines += ['', 'Seeds left out of means (the (k/n) cells):'] + notes
  return '\n'.join(lines)


# -- plots ------------------------------------------------------------------
# Each figure is built by a *_figure function (tests read its artists back)
# and written by plot, plot_sweep or plot_layers. On every figure a run
# that failed is marked, never just left out of a mean: MARKS[status].
MARKS = {'diverged': ('x', 'diverged'), 'collapsed': ('v', 'at chance')}
# A seed with no finite value that did not diverge (e.g. a target it never
# reached): marked on the top edge like a diverged one, but not called so.
NO_VALUE = ('^', 'with no value')
# Line styles after matplotlib's four named ones: each figure's lines must
# differ in colour or style, whatever their number (see line_styles).
_DASHES = ('-', '--', ':', '-.', (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)),
           (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1, 1, 1)))
_COLORS = 10  # matplotlib's default cycle, 'C0'..'C9'
_LOSS_UNITS = {'cross_entropy': 'nats', 'binary_cross_entropy': 'nats',
               'bce': 'nats', 'focal': 'nats', 'mse': 'squared target units',
               'mae': 'target units', 'huber': 'target units'}
_LAYER_STATS = {
    'grad_norm': 'gradient norm (L2, per layer)',
    'act_mean': 'activation mean (per layer)',
    'act_std': 'activation std (per layer)'}


def curves(runs: Sequence[Run], metric: str,
           groups: Optional[Dict[str, List[Run]]] = None
           ) -> Dict[str, np.ndarray]:
  """trial -> (seeds, epochs) array of `metric` (nan where missing); the
  runs grouped by trial, or as `groups` says."""
  out = {}
  for trial, rs in (groups if groups is not None else by_trial(runs)).items():
    epochs = max((row.get('epoch', 0) for r in rs for row in r.metrics),
                 default=0)
    arr = np.full((len(rs), epochs + 1), np.nan)
    for i, r in enumerate(rs):
      for row in r.metrics:
        v = _number(row.get(metric))
        if v is not None:
          arr[i, row['epoch']] = v
    out[trial] = arr
  return out


def _dash(k: int):
  return _DASHES[k] if k < len(_DASHES) else (0, (k, 1, 1, 1))


def line_styles(keys: Sequence[tuple]) -> Dict[tuple, Dict]:
  """(group, variant) -> {'color', 'linestyle'}: one colour per group (the
  default cycle's ten, then again), one line style per variant of a group
  (its settings, its epoch) and per pass through the colours, so no two
  keys share both and the variants of a group share its colour."""
  keys = list(dict.fromkeys(keys))
  variants: Dict[str, List] = {}
  for group, variant in keys:
    variants.setdefault(group, []).append(variant)
  width = max((len(v) for v in variants.values()), default=1)
  out = {}
  for i, (group, names) in enumerate(variants.items()):
    for j, variant in enumerate(names):
      out[(group, variant)] = dict(color=f'C{i % _COLORS}',
                                   linestyle=_dash(i // _COLORS * width + j))
  return out


def _split(name: str) -> tuple:
  """'trial [config id]' -> ('trial', 'config id'); 'trial' -> ('trial',
  '')."""
  if name.endswith(']') and ' [' in name:
    base, _, cid = name[:-1].rpartition(' [')
    return base, cid
  return name, ''


def _label(name: str, fields: Dict[str, str]) -> str:
  """A group's name, its config id replaced by the fields that differ."""
  base, cid = _split(name)
  return f'{base} [{fields[name]}]' if cid and fields.get(name) else name


def quantity(name: str, runs: Sequence[Run] = ()) -> str:
  """`name` (a metric or column header) with its unit: accuracies are
  fractions (not percent), a loss is in nats for the classification losses
  (of `runs`' config), steps, seconds or epochs where the name says so."""
  words = set(re.split(r'[^a-z0-9]+', name.lower()))
  if words & {'accuracy', 'acc'}:
    unit = 'fraction'
  elif 'loss' in words:
    names = dict.fromkeys(r.config.get('config', {}).get(
        'loss.name', 'cross_entropy') for r in runs) or ['cross_entropy']
    unit = ' or '.join(dict.fromkeys(_LOSS_UNITS.get(n, n) for n in names))
  elif words & {'mse', 'mae'}:
    unit = 'squared target units' if 'mse' in words else 'target units'
  elif words & {'step', 'steps'}:
    unit = 'steps'
  elif words & {'s', 'seconds'}:
    unit = 's'
  elif words & {'ep', 'epoch', 'epochs'}:
    unit = 'epoch'
  else:
    return name
  return f'{name} ({unit})'


def _workdir_name(run: Run) -> str:
  """The name of the workdir the run is in (WORKDIR/<trial>/<config
  id>/seed_<n>[/fold_<k>])."""
  d = os.path.normpath(run.directory)
  if os.path.basename(d).startswith('fold_'):
    d = os.path.dirname(d)
  for _ in range(3):
    d = os.path.dirname(d)
  return os.path.basename(d)


def _title(runs: Sequence[Run], what: str, source: Optional[str],
           note: str) -> str:
  """'<script or workdir>: <what>; varies <fields>', then `note` (how to
  read the marks) on a second line."""
  if not source:
    names = list(dict.fromkeys(n for n in map(_workdir_name, runs) if n))
    source = ' + '.join(names[:2]) + (f' + {len(names) - 2} more'
                                      if len(names) > 2 else '')
  varying = _differing([_result_fields(r) for r in runs])
  shown = ', '.join(varying[:3]) + (f' (+{len(varying) - 3} more)'
                                    if len(varying) > 3 else '')
  head = f'{source or "runs"}: {what}' + (f'; varies {shown}' if shown else
                                          '')
  return '\n'.join(textwrap.wrap(head, 90) + textwrap.wrap(note, 100))


def _failures(runs: Sequence[Run]) -> List[str]:
  """['2 diverged', '1 at chance', ...]: the runs that did not finish
  well, by status."""
  states = [status_of(r) for r in runs]
  return [f'{states.count(s)} {MARKS[s][1] if s in MARKS else s}'
          for s in sorted(set(states)) if s != 'done']


def _new_axes():
  """A figure and its axes, off pyplot (no global state, no display)."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top; ~0.5 s, only when plotting
  fig = Figure(figsize=(6.4, 4.2), dpi=120)
  return fig, fig.subplots()


def _integer_ticks(axis) -> None:
  from matplotlib.ticker import MaxNLocator  # pylint: disable=g-import-not-at-top; only when plotting
  axis.set_major_locator(MaxNLocator(integer=True))


def _log_scale(ax, axis: str, values) -> None:
  """A log axis; symlog (linear below the smallest positive value) where
  some values are <= 0, which a log axis would silently drop."""
  v = np.asarray([x for x in values if _finite(x)], np.float64)
  setter = ax.set_xscale if axis == 'x' else ax.set_yscale
  if v.size and (v <= 0).any():
    positive = v[v > 0]
    setter('symlog', linthresh=float(positive.min()) if positive.size else 1)
  else:
    setter('log')


def _mark(ax, x, y, marker: str, color: str, **kw) -> None:
  ax.plot([x], [y], marker, color=color, linestyle='none', markersize=8,
          markeredgewidth=1.5, zorder=3, **kw)


def _edge_marks(ax, edge: Sequence[tuple]) -> None:
  """(x, marker, colour) marks on the top edge, for seeds with no finite
  value to draw: one per distinct mark, those of other groups at the same
  x stacked downwards so none hides another. The y range is frozen first
  so they sit on it."""
  from matplotlib.transforms import offset_copy  # pylint: disable=g-import-not-at-top; only when plotting
  if not edge:
    return
  top = ax.set_ylim(ax.get_ylim())[1]
  _include_x(ax, [x for x, _, _ in edge])
  stacks: Dict[float, List[tuple]] = {}
  for x, marker, color in edge:
    stack = stacks.setdefault(x, [])
    if (marker, color) not in stack:
      shift = offset_copy(ax.transData, fig=ax.figure, y=-9 * len(stack),
                          units='points')
      stack.append((marker, color))
      _mark(ax, x, top, marker, color, clip_on=False, transform=shift)


def _include_x(ax, xs: Sequence[float]) -> None:
  """Widens the x range to hold `xs` (a seed with no finite value at an x
  no line reaches, e.g. a learning rate where every seed diverged: its
  mark would sit outside the axes, beside the legend)."""
  lo, hi = ax.get_xlim()
  if min(xs) >= lo and max(xs) <= hi:
    return
  if ax.get_xscale() == 'log' and min(xs) > 0:
    lo, hi = min(lo, min(xs) / 1.5), max(hi, max(xs) * 1.5)
  else:
    pad = 0.05 * ((max(hi, max(xs)) - min(lo, min(xs))) or 1.0)
    lo, hi = min(lo, min(xs) - pad), max(hi, max(xs) + pad)
  ax.set_xlim(lo, hi)


def _finish(ax, marks: set) -> None:
  """Legend keys for the marks drawn, the grid and the legend (outside the
  axes, so it never hides a line)."""
  for marker, word in (*MARKS.values(), NO_VALUE):
    if marker in marks:
      ax.plot([], [], marker, color='0.25', linestyle='none',
              label=f'{marker}: a seed {word}')
  ax.grid(alpha=0.3, which='both')
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0),
              frameon=False)


def _mean_band(ax, arr: np.ndarray, style: Dict, label: str) -> None:
  """Mean over seeds (rows) where some seed has a value, min-max band; a
  lone point gets a marker, or it would not show."""
  x = np.arange(arr.shape[1])
  ok = np.isfinite(arr).any(axis=0)
  mean = np.nanmean(arr[:, ok], axis=0) if ok.any() else np.zeros(0)
  ax.plot(x[ok], mean, marker='o' if ok.sum() == 1 else None,
          label=label, **style)
  if arr.shape[0] > 1 and ok.any():
    ax.fill_between(x[ok], np.nanmin(arr[:, ok], axis=0),
                    np.nanmax(arr[:, ok], axis=0), alpha=0.15, linewidth=0,
                    color=style['color'])


def _seed_marks(ax, runs: Sequence[Run], arr: np.ndarray, color: str,
                marks: set) -> List[tuple]:
  """Marks each failed seed (MARKS) at its last finite value; returns the
  edge marks of those with none (at the epoch it diverged in)."""
  edge = []
  for i, run in enumerate(runs):
    state = status_of(run)
    if state not in MARKS:
      continue
    marker = MARKS[state][0]
    marks.add(marker)
    finite = np.flatnonzero(np.isfinite(arr[i]))
    if finite.size:
      _mark(ax, finite[-1], arr[i, finite[-1]], marker, color)
    else:
      edge.append((run.final('diverged_epoch') or 1, marker, color))
  return edge


def _chance_line(ax, metric: str, runs: Sequence[Run]) -> None:
  """An accuracy's chance level (1 / classes), where the runs share one."""
  levels = {chance(r) for r in runs} - {None}
  if 'accuracy' in metric and len(levels) == 1:
    level = levels.pop()
    ax.axhline(level, color='0.35', linestyle=(0, (1, 2)), linewidth=1,
               label=f'chance (1/{round(1 / level)})')


def curve_figure(runs: Sequence[Run], metric: str,
                 groups: Optional[Dict[str, List[Run]]] = None,
                 source: Optional[str] = None):
  """The learning curves of `metric`: per group (by_trial's: a trial, or a
  trial under one of its settings) the mean over seeds with a min-max
  band, each a colour per trial and a line style per setting; a diverged
  seed is an x at its last finite value (on the top edge if it has none),
  a seed at chance a v at its last value; accuracies get the chance level.
  None when no run logged a finite value of `metric`."""
  groups = {n: rs for n, rs in (groups if groups is not None
                                else by_trial(runs)).items() if rs}
  data = curves(runs, metric, groups)
  if not any(np.isfinite(a).any() for a in data.values()):
    return None
  fig, ax = _new_axes()
  styles = line_styles([_split(name) for name in data])
  fields = setting_fields(groups)
  edge, marks = [], set()
  for name, arr in data.items():
    style = styles[_split(name)]
    note = ', '.join([f'n={arr.shape[0]}'] + _failures(groups[name]))
    _mean_band(ax, arr, style, f'{_label(name, fields)} ({note})')
    edge += _seed_marks(ax, groups[name], arr, style['color'], marks)
  _chance_line(ax, metric, runs)
  _edge_marks(ax, edge)
  _integer_ticks(ax.xaxis)
  drawn0 = any(np.isfinite(a[:, 0]).any() for a in data.values())
  ax.set_xlabel('epoch (0 = before training)' if drawn0 else 'epoch')
  ax.set_ylabel(quantity(metric, runs))
  note = 'line: mean over seeds; band: min-max over seeds' + (
      "; a mark: a failed seed's last finite value (top edge: it has none)"
      if marks else '')
  ax.set_title(_title(runs, f'{metric} per epoch', source, note),
               fontsize=8)
  _finish(ax, marks)
  return fig


def plot(runs: Sequence[Run], metrics: Sequence[str], outdir: str,
         groups: Optional[Dict[str, List[Run]]] = None,
         source: Optional[str] = None) -> List[str]:
  """One PNG per metric, `outdir`/<metric>.png (curve_figure); `source`
  (the script) titles it, else the runs' workdir."""
  paths = []
  for metric in metrics:
    fig = curve_figure(runs, metric, groups, source)
    if fig is not None:
      path = os.path.join(outdir, f'{metric}.png')
      fig.savefig(path, bbox_inches='tight')
      paths.append(path)
  return paths


def _sweep_points(runs: Sequence[Run], path: str, column: Column
                  ) -> Dict[str, Dict[float, List[tuple]]]:
  """line label (the other axes' values) -> {x: [(value, run), ...]}."""
  lines: Dict[str, Dict[float, List[tuple]]] = {}
  for r in runs:
    x = _number(r.config.get('config', {}).get(path))
    if x is None:
      continue
    rest = ','.join(f'{k.split(".")[-1]}={v}' for k, v in
                    (r.config.get('overrides') or {}).items() if k != path)
    lines.setdefault(rest, {}).setdefault(x, []).append((column.value(r), r))
  return lines


def _sweep_line(ax, label: str, points: Dict[float, List[tuple]],
                style: Dict, marks: set) -> List[tuple]:
  """One line of sweep_figure; returns its edge marks."""
  xs = sorted(points)
  ys = [np.array([v for v, _ in points[x] if _finite(v)]) for x in xs]
  ok = [i for i, y in enumerate(ys) if y.size]
  counts = sorted({len(points[x]) for x in xs})
  n = str(counts[0]) if len(counts) == 1 else f'{counts[0]}-{counts[-1]}'
  runs = [r for x in xs for _, r in points[x]]
  note = ', '.join([f'n={n} per point'] + _failures(runs))
  ax.plot([xs[i] for i in ok], [ys[i].mean() for i in ok], marker='o',
          label=f'{label or "mean over seeds"} ({note})', **style)
  ax.fill_between([xs[i] for i in ok], [ys[i].min() for i in ok],
                  [ys[i].max() for i in ok], alpha=0.15, linewidth=0,
                  color=style['color'])
  edge = []
  for x in xs:
    for v, r in points[x]:
      state = status_of(r)
      if not _finite(v):
        marker = MARKS[state][0] if state in MARKS else NO_VALUE[0]
        edge.append((x, marker, style['color']))
        marks.add(marker)
      elif state in MARKS:
        _mark(ax, x, v, MARKS[state][0], style['color'])
        marks.add(MARKS[state][0])
  return edge


def sweep_figure(runs: Sequence[Run], path: str, column: Column,
                 logx: bool = True, logy: bool = False,
                 source: Optional[str] = None):
  """`column` (one value per seed) against the numeric config value at
  `path`: mean over seeds with a min-max band, one line per combination of
  the other axis values. A seed with no finite value is marked on the top
  edge at its x (an x if it diverged, else a ^), a seed at chance is a v at
  its value. None when no run has the config value."""
  lines = _sweep_points(runs, path, column)
  if not lines:
    return None
  fig, ax = _new_axes()
  styles = line_styles([(label, '') for label in lines])
  edge, marks = [], set()
  for label, points in lines.items():
    edge += _sweep_line(ax, label, points, styles[(label, '')], marks)
  if logx:
    _log_scale(ax, 'x', [x for p in lines.values() for x in p])
  if logy:
    _log_scale(ax, 'y', [v for p in lines.values() for vs in p.values()
                         for v, _ in vs])
  _edge_marks(ax, edge)
  ax.set_xlabel(path)
  ax.set_ylabel(quantity(column.header, runs))
  note = 'line: mean over seeds; band: min-max over seeds' + (
      "; a mark: a seed's value (top edge: it has no finite one)"
      if marks else '')
  ax.set_title(_title(runs, f'{column.header} against {path}', source, note),
               fontsize=8)
  _finish(ax, marks)
  return fig


def plot_sweep(runs: Sequence[Run], path: str, column: Column,
               out: str, logx: bool = True, logy: bool = False,
               source: Optional[str] = None) -> Optional[str]:
  """One PNG, `out` (sweep_figure), e.g. final train loss against the
  learning rate (an LR range test); None if nothing to draw."""
  fig = sweep_figure(runs, path, column, logx, logy, source)
  if fig is None:
    return None
  fig.savefig(out, bbox_inches='tight')
  return out


def layer_profile(runs: Sequence[Run], stat: str, epoch: int,
                  layers: Optional[str] = None) -> Dict[str, np.ndarray]:
  """trial -> (seeds, layers) array of diag/<layer>/<stat> at `epoch`, the
  layers in network order (nan where missing); `layers`, a regular
  expression, keeps those whose name it fully matches (e.g. 'dense\\d+').
  A layer counts if any seed logged it (the first may have diverged)."""
  out = {}
  for trial, rs in by_trial(runs).items():
    order = analysis.run_layer_order(rs[0]) or []
    names = [n for n in order if (layers is None or re.fullmatch(layers, n))
             and any(r.at_epoch(f'diag/{n}/{stat}', epoch) is not None
                     for r in rs)]
    arr = np.full((len(rs), len(names)), np.nan)
    for i, r in enumerate(rs):
      for j, name in enumerate(names):
        v = r.at_epoch(f'diag/{name}/{stat}', epoch)
        arr[i, j] = np.nan if v is None else v
    out[trial] = arr
  return out


def _when(epoch: int) -> str:
  return 'before training' if epoch == 0 else f'after epoch {epoch}'


def layers_figure(runs: Sequence[Run], stat: str, epochs: Sequence[int],
                  log: bool = True, layers: Optional[str] = None,
                  source: Optional[str] = None):
  """diag/<layer>/<stat> against depth (1 = the layer nearest the input),
  mean over seeds with a marker per layer, a colour per trial and a line
  style per setting and epoch; `layers` as in layer_profile. None when no
  run logged the statistic."""
  groups = by_trial(runs)
  fields = setting_fields(groups)
  profiles = {e: layer_profile(runs, stat, e, layers) for e in epochs}
  drawn = [(e, name, profiles[e][name]) for name in groups for e in epochs
           if profiles[e][name].size and np.isfinite(profiles[e][name]).any()]
  if not drawn:
    return None
  fig, ax = _new_axes()
  key = lambda name, e: (_split(name)[0], f'{_split(name)[1]}@{e}')
  styles = line_styles([key(name, e) for name in groups for e in epochs])
  for e, name, arr in drawn:
    note = ', '.join([f'n={arr.shape[0]}'] + _failures(groups[name]))
    with warnings.catch_warnings():  # a layer no seed has a finite value of
      warnings.simplefilter('ignore', RuntimeWarning)
      mean = np.nanmean(arr, axis=0)
    ax.plot(np.arange(1, arr.shape[1] + 1), mean, marker='.',
            label=f'{_label(name, fields)}, {_when(e)} ({note})',
            **styles[key(name, e)])
  if log:
    _log_scale(ax, 'y', np.concatenate([a.ravel() for _, _, a in drawn]))
  _integer_ticks(ax.xaxis)
  ax.set_xlabel('layer (1 = nearest the input)')
  ax.set_ylabel(_LAYER_STATS.get(stat, quantity(stat)))
  ax.set_title(_title(runs, f'{stat} by layer, '
                      f'{" and ".join(_when(e) for e in epochs)}', source,
                      'line: mean over seeds of the statistic on a fixed '
                      'probe batch'), fontsize=8)
  _finish(ax, set())
  return fig


def plot_layers(runs: Sequence[Run], stat: str, epochs: Sequence[int],
                path: str, log: bool = True,
                layers: Optional[str] = None,
                source: Optional[str] = None) -> Optional[str]:
  """One PNG, `path` (layers_figure); None if nothing to draw."""
  fig = layers_figure(runs, stat, epochs, log, layers, source)
  if fig is None:
    return None
  fig.savefig(path, bbox_inches='tight')
  return path


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m dlexp.report', description=__doc__.split('\n')[0])
  parser.add_argument('workdirs', nargs='+', metavar='WORKDIR',
                      help='one or more workdirs (e.g. the trial shards of a '
                      'sweep): their runs are reported together')
  parser.add_argument('--plot', action='store_true',
                      help='write PNG learning curves into the first WORKDIR')
  parser.add_argument('--metrics', default='val_accuracy,val_loss,train_loss',
                      help='comma-separated metrics to plot')
  args = parser.parse_args(argv)
  for path in args.workdirs:
    if not os.path.isdir(path):
      print(f'error: workdir {path!r} is not a directory', file=sys.stderr)
      return 2
  runs = [r for path in args.workdirs for r in load_runs(path)]
  if not runs:
    print(f'error: no runs (status.json + config.json) under '
          f'{", ".join(args.workdirs)}', file=sys.stderr)
    return 2
  groups = by_trial(runs)
  print(table(groups))
  legend = settings_legend(groups)
  if legend:
    print('\nTrials run under several settings (fields that differ):')
    print('\n'.join(legend))
  if args.plot:
    for path in plot(runs, args.metrics.split(','), args.workdirs[0]):
      print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
