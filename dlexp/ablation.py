"""Running an ablation: its grid (or parts), its table, its verdicts and its
findings record, for one Session (dlexp.session).

A script declares axes, columns and claims and calls `run_ablation`
(several sweeps: `run_parts`); `run_grid` trains without printing, for
scripts that build their own table. Every function takes the Session, so an
experiment runs the same from its flags (dlexp.cli builds the Session) and
from Python (the script's `run()` builds it).
"""
import copy
import dataclasses
import os
import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from dlexp import claims as claims_lib
from dlexp import data as data_lib
from dlexp import config as config_lib
from dlexp import distributed, findings, records, report
from dlexp import grid as grid_lib
from dlexp.errors import DlexpError, RunFailed
from dlexp.session import Session
from dlexp.train import runner

# A script's own figure: fn(runs, outdir) -> the PNG's path, or None.
Plotter = Callable[[Sequence[report.Run], str], Optional[str]]


@dataclasses.dataclass
class Result:
  """What an ablation returns: its table (markdown), the per-seed evidence
  the verdicts were decided on, the verdicts, the findings record's path
  (None for a trial shard or a non-primary process) and the grid(s)."""
  table: str
  evidence: Any
  verdicts: List[Dict[str, Any]]
  record: Optional[str]
  grid: Any

  def verdict(self, quote_start: str) -> str:
    """The verdict of the claim whose quote starts with `quote_start`."""
    found = [v['verdict'] for v in self.verdicts
             if v['quote'].startswith(quote_start)]
    if len(found) != 1:
      raise KeyError(f'{len(found)} claims start with {quote_start!r}')
    return found[0]


def check_axes(session: Session, axes,
               axis_flags: Optional[Dict[str, str]] = None) -> None:
  """The grid sets each axis path per trial: a config value the user gave
  for an axis would be overwritten without a word, so it is an error naming
  both. `axis_flags` maps a config path (also one inside a joint axis) to
  the flag that sets it."""
  for path, axis in grid_lib.axis_paths(axes).items():
    if path in session.given:
      flag = (axis_flags or {}).get(path) or (axis_flags or {}).get(axis)
      how = f'--{flag}' if flag else 'this script\'s axis flag'
      grids = [axes] if isinstance(axes, dict) else axes
      values = [v.get(path) if isinstance(v, dict) else v
                for g in grids for v in g.get(axis, ())]
      shown = ', '.join(str(v) for v in dict.fromkeys(values)
                        if v is not None)
      raise DlexpError(
          f'{session.given[path]} is overridden by the ablated axis {axis} '
          f'({shown}); set it with {how}')


@dataclasses.dataclass
class Grid:
  """One grid's outcome: per-member results, the runs of exactly this grid
  (a reused workdir may hold others), grouped by trial in grid order."""
  config: Any
  results: List[Dict[str, Any]]
  runs: List[report.Run]
  groups: Dict[str, List[report.Run]]
  trials: List[str]

  @property
  def directories(self) -> List[str]:
    return sorted(r.directory for r in self.runs)

  def table(self, columns: Sequence[report.Column]) -> str:
    return report.table(self.groups, columns, order=self.trials)

  def evidence(self, columns: Sequence[report.Column]
               ) -> claims_lib.Evidence:
    """Per-seed values of the table's columns (report.shown_columns)."""
    return claims_lib.Evidence.from_runs(
        self.groups, report.shown_columns(self.groups, columns), self.trials)


def run_grid(session: Session, axes, config, final_hooks=(),
             options: Optional[Dict[str, Any]] = None,
             axis_flags: Optional[Dict[str, str]] = None,
             dataset=None) -> Grid:
  """Trains the grid (see run_ablation) without printing its table.
  `dataset`: config.data's dataset when the script has loaded it already
  (it must be what config.data describes)."""
  check_axes(session, axes, axis_flags)
  results = runner.run(config, axes, session.workdir,
                       final_hooks=final_hooks,
                       rerun_failed=session.rerun_failed,
                       script_options=options, shard=session.shard,
                       dataset=dataset, show_models=session.summary)
  # A grid with no axes has one trial, '' (reports call it 'run').
  trials = list(dict.fromkeys(r['trial'] or 'run' for r in results))
  dirs = {os.path.realpath(r['directory']) for r in results}
  runs = [r for r in report.load_runs(session.workdir)
          if os.path.realpath(r.directory) in dirs]
  return Grid(config, results, runs, report.by_trial(runs), trials)


def combine(parts: Sequence[Tuple[str, Grid]]) -> Grid:
  """Several grids as one (for one table, one findings record): each
  part's trials renamed 'label,trial' ('label' when the grid has no axes:
  its one trial is 'run'), in the order given. For grids that cannot share
  one call of run_grid: other data (data.* is never an axis); run_parts
  combines its parts. The config is the first part's."""
  results, runs, groups, trials = [], [], {}, []
  for label, grid in parts:
    rename = lambda t, label=label: ','.join(
        x for x in (label, '' if t in ('', 'run') else t) if x) or 'run'
    for trial in grid.trials:
      name = rename(trial)
      if name in groups:
        raise DlexpError(f'two grids both have trial {name!r}; give them '
                         'distinct labels')
      groups[name] = grid.groups.get(trial, [])
      trials.append(name)
    results += [dict(r, trial=rename(r['trial'])) for r in grid.results]
    runs += grid.runs
  return Grid(parts[0][1].config, results, runs, groups, trials)


def run_line(config) -> str:
  """The line above a table: data, model, epochs, seeds."""
  folds = (f' x {config.data.cv_folds} folds' if config.data.cv_folds
           else '')
  model = config.model.name
  if model == 'mlp':  # the shape is what a smoke run shrinks
    hidden = tuple(config.model.hidden) or (
        (config.model.width,) * config.model.depth)
    model += ' ' + ('x'.join(str(h) for h in hidden) if len(set(hidden)) > 1
                    else f'{len(hidden)}x{hidden[0]}' if hidden else '0x0')
  # A limit at or above the dataset's size limits nothing (diabetes' 353
  # under a shared 12,000): say so rather than print the limit.
  limit = config.data.train_limit
  size = data_lib.DATASETS.get(config.data.name).num_train
  data = config.data.name + (f' (at most {limit} training examples)'
                              if 0 < limit < size else '')
  return (f'{data}, model {model}, {config.epochs} '
          f'epochs, seeds {config.seed}..{config.seed + config.num_seeds - 1}'
          f'{folds} (mean ± std over {"runs" if folds else "seeds"})')


def run_ablation(session: Session, axes, config,
                 columns: Sequence[report.Column] = report.DEFAULT_COLUMNS,
                 title: str = '', final_hooks=(),
                 options: Optional[Dict[str, Any]] = None,
                 axis_flags: Optional[Dict[str, str]] = None,
                 claims: Sequence[claims_lib.Claim] = (),
                 plots: Sequence[str] = ('val_accuracy', 'train_loss'),
                 plotters: Sequence[Plotter] = ()) -> Result:
  """Runs the grid, prints its table and the verdicts on `claims`, and
  writes the findings record.

  `axes`: {config path: values}, every combination of the values (an axis
  may be joint: values that are {path: value} dicts); or a sequence of such
  dicts, the union of their products in order (passes, e.g. a learning-rate
  grid for ReLU plus a few contrasting trials rather than the full product;
  see grid_lib.make_trials).

  `options`: the script's own settings that change what its hooks measure
  (e.g. MC-dropout samples); like config fields, they are part of each run's
  identity, so a rerun with other options never reuses these runs.
  `axis_flags` names the flag that sets each axis path, for error messages.
  `plots`: metrics drawn as learning curves for the findings (not at the
  smoke size; all with session.plot). `plotters`: the script's other
  figures, each `fn(runs, outdir) -> path or None` (e.g.
  report.plot_sweep), drawn when the learning curves are and added to the
  findings record.
  """
  grid = run_grid(session, axes, config, final_hooks, options, axis_flags)
  text = grid.table(columns)
  return conclude(session, grid, title, run_line(grid.config), text, claims,
                  plots, plotters, columns=columns)


def conclude(session: Session, grid: Grid, title: str, line: str, text: str,
             claims: Sequence[claims_lib.Claim],
             plots: Sequence[str] = ('val_accuracy', 'train_loss'),
             plotters: Sequence[Plotter] = (), evidence: Any = None,
             drawn: Optional[List[str]] = None,
             columns: Sequence[report.Column] = report.DEFAULT_COLUMNS
             ) -> Result:
  """After a grid (several grids: combine): prints its table `text` under
  `title` and `line`; with the whole grid (not a trial shard) on the
  primary process, draws `plots` and `plotters` and publishes the verdicts
  on `claims` (checked on `evidence`, default the grid's) and the findings
  record; raises RunFailed if a member failed. `drawn`: the figures
  run_parts drew as it printed each part's table, so only the title is
  printed here. `columns`: the table's, whose per-seed values are the
  default evidence."""
  if drawn is None:
    show(session, title, line, text)
  elif title:
    print(f'\n## {title}; workdir {os.path.abspath(session.workdir)}')
  evidence = grid.evidence(columns) if evidence is None else evidence
  verdicts, path = [], None
  index, count = session.shard
  if count > 1:
    # The claims need the whole grid; a shard's table is a part of it.
    print(f'\ntrial shard {index}/{count}: this table has this shard\'s '
          'runs only. With every shard done in one workdir (or copied into '
          'one), rerun the same command without --trial_shard: it trains '
          'nothing and prints the whole table, the verdicts and the findings.')
  elif distributed.is_primary():
    written = (plot_curves(session, grid, plots, plotters) if drawn is None
               else drawn)
    verdicts, path = publish(session, title, text, claims, evidence,
                             grid.directories, preamble=line, plots=written,
                             alpha=grid.config.claims.alpha)
  check_failed(grid)
  return Result(text, evidence, verdicts, path, grid)


@dataclasses.dataclass
class Part:
  """One sweep of a script that runs several, each with its own settings
  (another dataset, model or loss), its own table and its own evidence.

  `settings` (config path -> value) apply on top of the resolved config;
  like an axis, a path a part sets cannot also be given by the user.
  `flag_settings` come from the script's own flags (e.g.
  --regression_epochs for this part's epochs): they apply without that
  check, and the script documents which shared flag they stand in for.
  """
  name: str
  axes: Any  # as run_ablation's
  columns: Sequence[report.Column] = report.DEFAULT_COLUMNS
  settings: Dict[str, Any] = dataclasses.field(default_factory=dict)
  final_hooks: Sequence[Any] = ()
  flag_settings: Dict[str, Any] = dataclasses.field(default_factory=dict)


def part_config(session: Session, config, part: Part):
  """A copy of `config` with the part's settings; a user-given value for
  one of them is an error (the part would replace it without a word)."""
  cfg = copy.deepcopy(config)
  for path, value in part.settings.items():
    if path in session.given:
      raise DlexpError(f'{session.given[path]} is set by part {part.name!r} '
                       f'of this script (to {value!r}); use the script\'s '
                       'own flags')
    config_lib.set_value(cfg, path, value)
  for path, value in part.flag_settings.items():
    config_lib.set_value(cfg, path, value)
  config_lib.validate(cfg)
  return cfg


def run_parts(session: Session, parts: Sequence[Part], config,
              title: str = '', options: Optional[Dict[str, Any]] = None,
              axis_flags: Optional[Dict[str, str]] = None,
              claims: Sequence[claims_lib.Claim] = (),
              plots: Sequence[str] = ()) -> Result:
  """run_ablation for a script of several sweeps (`parts`, each its own
  grid): one table per part under its name, printed as the part finishes,
  then (conclude) one set of verdicts and one findings record for all.
  Claim checks get a claims.PartEvidence (`ev.part(name)` is that part's
  Evidence). Every setting is validated before the first part trains.
  The Result's grid is {part name: its Grid}."""
  configs = [part_config(session, config, p) for p in parts]  # errors first
  for p in parts:
    check_axes(session, p.axes, axis_flags)
  grids, texts, written = [], [], []
  for p, cfg in zip(parts, configs):
    grid = run_grid(session, p.axes, cfg, p.final_hooks, options, axis_flags)
    grids.append((p.name, grid))
    texts.append(f'### {p.name}\n\n{run_line(cfg)}\n\n{grid.table(p.columns)}')
    print(f'\n{texts[-1]}')
    if distributed.is_primary():
      written += plot_curves(session, grid, plots, subdir=p.name)
  evidence = claims_lib.PartEvidence(
      {n: g.evidence(p.columns) for (n, g), p in zip(grids, parts)})
  result = conclude(session, combine(grids), title, '', '\n\n'.join(texts),
                    claims, evidence=evidence, drawn=written)
  return dataclasses.replace(result, grid=dict(grids))


def show(session: Session, title: str, line: str, table: str) -> None:
  print()
  if title:
    print(f'## {title}')
  print(f'{line}; workdir {os.path.abspath(session.workdir)}')
  print(table)


def check_failed(grid: Grid) -> None:
  failed = [r for r in grid.results if r['status'] == 'failed']
  if failed:
    raise RunFailed(f'{len(failed)} member(s) failed (see their '
                    'status.json); relaunch with --rerun_failed to retry '
                    'them')


def plot_curves(session: Session, grid: Grid, metrics: Sequence[str],
                plotters: Sequence[Plotter] = (), subdir: str = ''
                ) -> List[str]:
  """Learning curves for the findings (all three with session.plot), then
  the script's own figures; `subdir` tells apart the parts of a run_parts
  script."""
  runs, directories = grid.runs, grid.directories
  if session.plot:
    metrics = list(dict.fromkeys([*metrics, 'val_accuracy', 'val_loss',
                                  'train_loss']))
  elif session.size == 'smoke' or not runs or not (metrics or plotters):
    return []
  outdir = os.path.join(session.workdir, findings.FINDINGS_DIR, 'plots',
                        findings.invocation_id(directories, session.workdir),
                        re.sub(r'[^\w.-]+', '_', subdir))
  os.makedirs(outdir, exist_ok=True)
  paths = report.plot(runs, metrics, outdir, grid.groups,
                      source=session.script)
  paths += [p for p in (fn(runs, outdir) for fn in plotters) if p]
  for path in paths:
    print(f'wrote {path}')
  return paths


def publish(session: Session, title: str, table: str,
            claims: Sequence[claims_lib.Claim], evidence: Any,
            directories: Sequence[str], preamble: str = '',
            plots: Sequence[str] = (), alpha: float = 0.05
            ) -> Tuple[List[Dict[str, Any]], str]:
  """Prints each claim's verdict and writes the findings record of this
  invocation (dlexp.findings builds FINDINGS.md from it), with the
  per-seed evidence that decided them; returns (verdicts, the record's
  path). Scripts that make their own table (no grid of runs) call it
  directly. A rule that crashed is recorded, then raises RunFailed."""
  verdicts = claims_lib.evaluate(claims, evidence, alpha)
  print_verdicts(verdicts, session.size, preamble)
  path = findings.write_record(
      session.workdir, session.script, title=title or session.script,
      question=session.question, command=session.command,
      size=session.size, table=table, preamble=preamble, claims=verdicts,
      plots=list(plots), directories=list(directories),
      evidence=evidence.record() if evidence is not None else None,
      alpha=alpha, **_wall_time(session, directories))
  print(f'findings: {path}')
  errors = [v for v in verdicts if v['verdict'] == claims_lib.ERROR]
  if errors:
    raise RunFailed(f'{len(errors)} claim rule(s) failed (a bug in the '
                    'script: see the ERROR lines above); the table and '
                    'record are written')
  return verdicts, path


def print_verdicts(verdicts: Sequence[Dict[str, Any]], size: str,
                   setting: str = '') -> None:
  """The verdicts under a header naming the size and what was trained: the
  notes' claims, then any from outside the notes under a header of their
  own; at smoke size each is labelled a plumbing check, not evidence."""
  groups = [('The notes\' claims',
             [v for v in verdicts if not v.get('outside')]),
            ('Claims from outside the notes',
             [v for v in verdicts if v.get('outside')])]
  where = f' ({size} size: {setting})' if setting else f' ({size} size)'
  for header, group in [(h, g) for h, g in groups if g]:
    print(f'\n{header}, decided by the numbers above{where}:')
    if size == 'smoke':
      print('(smoke size is a plumbing check: no verdict below is evidence)')
    for v in group:
      origin = f'{v["outside"]}; ' if v.get('outside') else ''
      print(f'- [{origin}{v["source"]}] "{v["quote"]}": '
            f'{claims_lib.label(v["verdict"], size)} - {v["evidence"]}')


def _wall_time(session: Session, directories: Sequence[str]
               ) -> Dict[str, Any]:
  """The record's wall time: this invocation's, and how many of its runs
  it reused (finished before it started: a rerun that only re-renders a
  table is not a measurement of the runs). Where every run was reused, the
  time of the invocation that trained them is kept."""
  start = time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(session.start))
  updated = [(records.read_json(os.path.join(d, 'status.json')) or {}).get(
      'updated', '') for d in directories]
  reused = sum(1 for u in updated if u and u < start)
  if directories and reused == len(directories):
    old = records.read_json(findings.record_path(
        session.workdir, session.script, directories)) or {}
    if old.get('wall_seconds') and not old.get('reused_runs'):
      return dict(wall_seconds=old['wall_seconds'], reused_runs=0)
  return dict(wall_seconds=time.time() - session.start, reused_runs=reused)
