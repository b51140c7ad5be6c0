"""Results as tables and plots, read back from the logged-metrics files.

  python -m dlexp.report WORKDIR... [--plot] [--metrics=val_accuracy,...]

prints a markdown table (one row per trial, mean ± std over seeds) and, with
--plot, writes PNG learning curves into WORKDIR.
"""
import argparse
import dataclasses
import math
import os
import re
import sys
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from dlexp import analysis, records, tables
from dlexp.data import DATASETS
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


def settings_legend(groups: Dict[str, List[Run]]) -> List[str]:
  """For trials run under several settings: one line per config id naming
  the fields in which it differs from the trial's other settings."""
  by_name: Dict[str, Dict[str, Dict]] = {}
  for name, runs in groups.items():
    if ' [' in name and name.endswith(']'):
      r = runs[0]
      fields = workdir.result_fields(r.config.get('config', {}))
      fields.update({f'script.{k}': v for k, v in
                     (r.config.get('script_options') or {}).items()})
      by_name.setdefault(r.trial, {})[r.config_id] = fields
  lines = []
  for trial, variants in by_name.items():
    keys = sorted({k for f in variants.values() for k in f})
    differ = [k for k in keys
              if len({repr(f.get(k)) for f in variants.values()}) > 1]
    for cid, fields in variants.items():
      shown = ', '.join(f'{k}={fields.get(k)!r}' for k in differ)
      lines.append(f'- {trial} [{cid}]: {shown}')
  return lines


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


def plot(runs: Sequence[Run], metrics: Sequence[str], outdir: str,
         groups: Optional[Dict[str, List[Run]]] = None) -> List[str]:
  """One PNG per metric: mean over seeds with a min-max band per trial (or
  per group of `groups`)."""
  import matplotlib  # pylint: disable=g-import-not-at-top; ~0.5 s, only when plotting
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top; only when plotting
  paths = []
  for metric in metrics:
    data = curves(runs, metric, groups)
    if not any(np.isfinite(a).any() for a in data.values()):
      continue
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for trial, arr in data.items():
      x = np.arange(arr.shape[1])
      ok = np.isfinite(arr).any(axis=0)
      if not ok.any():
        continue
      with np.errstate(all='ignore'):
        mean = np.nanmean(arr[:, ok], axis=0)
        lo, hi = np.nanmin(arr[:, ok], axis=0), np.nanmax(arr[:, ok], axis=0)
      line, = ax.plot(x[ok], mean, label=f'{trial} (n={arr.shape[0]})')
      if arr.shape[0] > 1:
        ax.fill_between(x[ok], lo, hi, alpha=0.2, color=line.get_color())
    ax.set_xlabel('epoch')
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, f'{metric}.png')
    fig.savefig(path)
    plt.close(fig)
    paths.append(path)
  return paths


def plot_sweep(runs: Sequence[Run], path: str, column: Column,
               out: str, logx: bool = True, logy: bool = False
               ) -> Optional[str]:
  """One PNG: `column` (one value per seed) against the numeric config
  value at `path`, e.g. final train loss vs learning rate (an LR range
  test). Mean over seeds with a min-max band, one line per combination of
  the other axis values; a seed with no finite value (diverged) is an x on
  the top edge at its x."""
  import matplotlib  # pylint: disable=g-import-not-at-top; ~0.5 s, only when plotting
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top; only when plotting
  lines: Dict[str, Dict[float, List[Optional[float]]]] = {}
  for r in runs:
    x = _number(r.config.get('config', {}).get(path))
    if x is None:
      continue
    rest = ','.join(f'{k.split(".")[-1]}={v}' for k, v in
                    (r.config.get('overrides') or {}).items() if k != path)
    lines.setdefault(rest, {}).setdefault(x, []).append(column.value(r))
  if not lines:
    return None
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  failed = []
  for label, points in lines.items():
    xs = sorted(points)
    ys = [np.array([v for v in points[x] if _finite(v)]) for x in xs]
    ok = [i for i, y in enumerate(ys) if y.size]
    failed += [x for x in xs for v in points[x] if not _finite(v)]
    if ok:
      line, = ax.plot([xs[i] for i in ok], [ys[i].mean() for i in ok], 'o-',
                      label=label or None)
      ax.fill_between([xs[i] for i in ok], [ys[i].min() for i in ok],
                      [ys[i].max() for i in ok], alpha=0.2,
                      color=line.get_color())
  if logx:
    ax.set_xscale('log')
  if logy:
    ax.set_yscale('log')
  if failed:
    top = ax.get_ylim()[1]
    ax.plot(failed, [top] * len(failed), 'kx', clip_on=False,
            label='no finite value (diverged)')
  ax.set_xlabel(path)
  ax.set_ylabel(column.header)
  ax.grid(alpha=0.3, which='both')
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(out)
  plt.close(fig)
  return out


def layer_profile(runs: Sequence[Run], stat: str, epoch: int,
                  layers: Optional[str] = None) -> Dict[str, np.ndarray]:
  """trial -> (seeds, layers) array of diag/<layer>/<stat> at `epoch`, the
  layers in network order (nan where missing); `layers`, a regular
  expression, keeps those whose name it fully matches (e.g. 'dense\\d+')."""
  out = {}
  for trial, rs in by_trial(runs).items():
    order = analysis.run_layer_order(rs[0]) or []
    names = [n for n in order if rs[0].at_epoch(f'diag/{n}/{stat}', epoch)
             is not None and (layers is None or re.fullmatch(layers, n))]
    arr = np.full((len(rs), len(names)), np.nan)
    for i, r in enumerate(rs):
      for j, name in enumerate(names):
        v = r.at_epoch(f'diag/{name}/{stat}', epoch)
        arr[i, j] = np.nan if v is None else v
    out[trial] = arr
  return out


def plot_layers(runs: Sequence[Run], stat: str, epochs: Sequence[int],
                path: str, log: bool = True,
                layers: Optional[str] = None) -> Optional[str]:
  """One PNG: diag/<layer>/<stat> against depth (layer index, input first),
  mean over seeds, one line per trial and epoch; `layers` as in
  layer_profile."""
  import matplotlib  # pylint: disable=g-import-not-at-top; ~0.5 s, only when plotting
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top; only when plotting
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  drawn = False
  for epoch, style in zip(epochs, ('-', '--', ':', '-.')):
    for trial, arr in layer_profile(runs, stat, epoch, layers).items():
      if arr.size and np.isfinite(arr).any():
        with np.errstate(all='ignore'):
          ax.plot(np.arange(1, arr.shape[1] + 1), np.nanmean(arr, axis=0),
                  style, label=f'{trial} @ep{epoch}')
        drawn = True
  if not drawn:
    plt.close(fig)
    return None
  if log:
    ax.set_yscale('log')
  ax.set_xlabel('layer (input first)')
  ax.set_ylabel(stat)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=6)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
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
