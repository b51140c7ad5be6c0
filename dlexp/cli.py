"""What every experiment script shares: the common flags and sizes, the
config they resolve to, one-line errors for bad input, the final results
table, the verdicts on the notes' claims and the findings record.

An experiment script declares the axes it ablates, its columns, its claims
and its smoke and full sizes, and calls `run_ablation`; see
experiments/elu_vs_relu.py.
"""
import copy
import dataclasses
import os
import re
import shlex
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from absl import app, flags, logging
from ml_collections import config_flags

from dlexp import claims as claims_lib
from dlexp import config as config_lib
from dlexp import findings, records, report
from dlexp.errors import DlexpError

FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A script's own figure: fn(runs, outdir) -> the PNG's path, or None.
Plotter = Callable[[Sequence[report.Run], str], Optional[str]]

# What define_flags was told: the script's name and its size presets.
_SCRIPT: Dict[str, Any] = {'name': '', 'sizes': {}, 'start': time.time()}


def define_flags(name: str, model: str = 'mlp', epochs: int = 10,
                 seeds: int = 3, smoke: Optional[Dict[str, Any]] = None,
                 full: Optional[Dict[str, Any]] = None,
                 config: Optional[Dict[str, Any]] = None,
                 dataset: str = 'fashion_mnist') -> None:
  """Flags common to every ablation; `--config.<field>=value` reaches any
  config field.

  `smoke` and `full` are the script's other sizes, selected with --smoke (a
  few seconds, run in CI) and --full (GPU/TPU): {flag name or
  'config.<path>': value}. A preset fills only what the command line leaves
  unset: an explicit flag or --config value always wins.
  `config` ({path: value}) is the script's own default for config fields
  (e.g. a small model): it replaces the library default, and presets and the
  command line override it as they override any default.
  """
  _SCRIPT.update(name=name, sizes={'smoke': smoke, 'full': full})
  flags.DEFINE_bool('smoke', False, 'The smoke size: seconds, for CI.')
  flags.DEFINE_bool('full', False, 'The full size, meant for a GPU/TPU.')
  flags.DEFINE_string('model', model, 'Model family (config.model.name).')
  flags.DEFINE_string('dataset', dataset, 'Dataset (config.data.name).')
  flags.DEFINE_string('data_dir', None, 'Where the dataset files are '
                      '(config.data.data_dir; also $DLEXP_DATA_DIR).')
  flags.DEFINE_integer('epochs', epochs, 'Epochs per trial (config.epochs).')
  flags.DEFINE_integer('seeds', seeds, 'Seeds per trial, trained as one '
                       'vmapped program (config.num_seeds).')
  flags.DEFINE_string('workdir', os.path.join('runs', name),
                      'Directory for one subdirectory per trial and seed.')
  flags.DEFINE_bool('plot', False, 'Also write PNG learning curves.')
  flags.DEFINE_bool('rerun_failed', False, 'Rerun members whose status is '
                    'failed (done ones are always skipped on relaunch).')
  flags.DEFINE_string('trial_shard', '', 'i/n: run the i-th of n contiguous '
                      'blocks of the grid\'s members (default: a SLURM array '
                      "task's, else all); see dlexp.distributed.shard.")
  try:  # config_flags parses overrides right here, with a traceback on typos
    _check_config_overrides(sys.argv)
  except DlexpError as e:
    _die(str(e))
  defaults = config_lib.default_config()
  try:
    for path, value in (config or {}).items():
      config_lib.set_value(defaults, path, value)
  except DlexpError as e:
    _die(str(e))
  config_flags.DEFINE_config_dict('config', defaults,
                                  'Any config field: --config.<field>=value.',
                                  lock_config=True)


# Shortcut flag -> the config field it sets.
SHORTCUTS = (('model', 'model.name'), ('dataset', 'data.name'),
             ('data_dir', 'data.data_dir'), ('epochs', 'epochs'),
             ('seeds', 'num_seeds'))


def config_overrides():
  """{path: value} of the --config.<path> flags given on the command line."""
  return dict(config_flags.get_override_values(FLAGS['config']))


def apply_shortcut(config, flag: str, path: str) -> None:
  """Sets config[path] from the shortcut flag --`flag`.

  Given explicitly, the flag wins; given only as --config.<path>, that value
  stays; given neither way, the flag's default (the script's) applies. Both
  given with different values is an error: neither may silently lose.
  """
  flag_given = FLAGS[flag].present
  overrides = config_overrides()
  value = FLAGS[flag].value
  if path in overrides and flag_given:
    if config_lib.get(config, path) != value:
      raise DlexpError(f'--{flag}={value} and --config.{path}='
                       f'{config_lib.get(config, path)} disagree; give one')
  elif path in overrides or value is None:
    return
  config_lib.set_value(config, path, value)


def resolved_config():
  """FLAGS.config with the shortcut flags applied (see apply_shortcut)."""
  config = FLAGS.config
  for flag, path in SHORTCUTS:
    apply_shortcut(config, flag, path)
  config_lib.validate(config)
  return config


def check_axes(axes, axis_flags: Optional[Dict[str, str]] = None) -> None:
  """The grid sets each axis path per trial: a --config.<path> for an axis
  would be overwritten without a word, so it is an error naming both.
  `axis_flags` maps a config path (also one inside a joint axis) to the flag
  that sets it."""
  from dlexp.train import runner  # pylint: disable=g-import-not-at-top
  overrides = config_overrides()
  for path, axis in runner.axis_paths(axes).items():
    if path in overrides:
      flag = (axis_flags or {}).get(path) or (axis_flags or {}).get(axis)
      how = f'--{flag}' if flag else 'this script\'s axis flag'
      grids = [axes] if isinstance(axes, dict) else axes
      values = [v.get(path) if isinstance(v, dict) else v
                for grid in grids for v in grid.get(axis, ())]
      shown = ', '.join(str(v) for v in dict.fromkeys(values)
                        if v is not None)
      raise DlexpError(
          f'--config.{path}={overrides[path]} is overridden by the ablated '
          f'axis {axis} ({shown}); set it with {how}')


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


def run_grid(axes, config=None, final_hooks=(),
             options: Optional[Dict[str, Any]] = None,
             axis_flags: Optional[Dict[str, str]] = None,
             dataset=None) -> Grid:
  """Trains the grid (see run_ablation) without printing its table.
  `dataset`: config.data's dataset when the script has loaded it already
  (it must be what config.data describes)."""
  from dlexp.train import runner  # pylint: disable=g-import-not-at-top
  config = config or resolved_config()
  check_axes(axes, axis_flags)
  results = runner.run(config, axes, FLAGS.workdir, final_hooks=final_hooks,
                       rerun_failed=FLAGS.rerun_failed,
                       script_options=options, shard=trial_shard(),
                       dataset=dataset)
  # A grid with no axes has one trial, '' (reports call it 'run').
  trials = list(dict.fromkeys(r['trial'] or 'run' for r in results))
  dirs = {os.path.realpath(r['directory']) for r in results}
  runs = [r for r in report.load_runs(FLAGS.workdir)
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


def trial_shard():
  """(i, n) from --trial_shard or a SLURM array job; (0, 1) = everything."""
  from dlexp import distributed  # pylint: disable=g-import-not-at-top
  return distributed.trial_shard(FLAGS.trial_shard)


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
  limit = config.data.train_limit
  data = config.data.name + (f' (at most {limit} training examples)'
                              if limit else '')
  return (f'{data}, model {model}, {config.epochs} '
          f'epochs, seeds {config.seed}..{config.seed + config.num_seeds - 1}'
          f'{folds} (mean ± std over {"runs" if folds else "seeds"})')


def run_ablation(axes,
                 columns: Sequence[report.Column] = report.DEFAULT_COLUMNS,
                 config=None, title: str = '', final_hooks=(),
                 options: Optional[Dict[str, Any]] = None,
                 axis_flags: Optional[Dict[str, str]] = None,
                 claims: Sequence[claims_lib.Claim] = (),
                 plots: Sequence[str] = ('val_accuracy', 'train_loss'),
                 plotters: Sequence[Plotter] = ()):
  """Runs the grid, prints its table and the verdicts on `claims`, and
  writes the findings record; returns (results, table).

  `axes`: {config path: values}, every combination of the values (an axis
  may be joint: values that are {path: value} dicts); or a sequence of such
  dicts, the union of their products in order (passes, e.g. a learning-rate
  grid for ReLU plus a few contrasting trials rather than the full product;
  see runner.make_trials).

  `options`: the script's own settings that change what its hooks measure
  (e.g. MC-dropout samples); like config fields, they are part of each run's
  identity, so a rerun with other options never reuses these runs.
  `axis_flags` names the flag that sets each axis path, for error messages.
  `plots`: metrics drawn as learning curves for the findings (not at the
  smoke size; all with --plot). `plotters`: the script's other figures,
  each `fn(runs, outdir) -> path or None` (e.g. report.plot_sweep), drawn
  when the learning curves are and added to the findings record.
  """
  grid = run_grid(axes, config, final_hooks, options, axis_flags)
  text = grid.table(columns)
  conclude(grid, title, run_line(grid.config), text, claims, plots, plotters,
           columns=columns)
  return grid.results, text


def conclude(grid: Grid, title: str, line: str, text: str,
             claims: Sequence[claims_lib.Claim],
             plots: Sequence[str] = ('val_accuracy', 'train_loss'),
             plotters: Sequence[Plotter] = (), evidence: Any = None,
             drawn: Optional[List[str]] = None,
             columns: Sequence[report.Column] = report.DEFAULT_COLUMNS
             ) -> None:
  """After a grid (several grids: combine): prints its table `text` under
  `title` and `line`; with the whole grid (not a trial shard) on the
  primary process, draws `plots` and `plotters` and publishes the verdicts
  on `claims` (checked on `evidence`, default the grid's) and the findings
  record; exits non-zero if a member failed. `drawn`: the figures run_parts
  drew as it printed each part's table, so only the title is printed here.
  `columns`: the table's, whose per-seed values are the default evidence."""
  if drawn is None:
    show(title, line, text)
  elif title:
    print(f'\n## {title}; workdir {os.path.abspath(FLAGS.workdir)}')
  index, count = trial_shard()
  if count > 1:
    # The claims need the whole grid; a shard's table is a part of it.
    print(f'\ntrial shard {index}/{count}: this table has this shard\'s '
          'runs only. With every shard done in one workdir (or copied into '
          'one), rerun the same command without --trial_shard: it trains '
          'nothing and prints the whole table, the verdicts and the findings.')
  elif _primary():
    written = plot_curves(grid, plots, plotters) if drawn is None else drawn
    publish(title, text, claims,
            grid.evidence(columns) if evidence is None else evidence,
            grid.directories, preamble=line, plots=written,
            alpha=grid.config.claims.alpha)
  check_failed(grid)


@dataclasses.dataclass
class Part:
  """One sweep of a script that runs several, each with its own settings
  (another dataset, model or loss), its own table and its own evidence.

  `settings` (config path -> value) apply on top of the resolved config;
  like an axis, a path a part sets cannot also come from --config (or a
  shortcut flag). `flag_settings` come from the script's own flags (e.g.
  --regression_epochs for this part's epochs): they apply without that
  check, and the script documents which shared flag they stand in for.
  """
  name: str
  axes: Any  # as run_ablation's
  columns: Sequence[report.Column] = report.DEFAULT_COLUMNS
  settings: Dict[str, Any] = dataclasses.field(default_factory=dict)
  final_hooks: Sequence[Any] = ()
  flag_settings: Dict[str, Any] = dataclasses.field(default_factory=dict)


def part_config(config, part: Part):
  """A copy of `config` with the part's settings; a --config value or a
  shortcut flag for one of them is an error (the part would replace it
  without a word)."""
  given = {path: f'--{flag}={FLAGS[flag].value}' for flag, path in SHORTCUTS
           if FLAGS[flag].present}
  given.update({path: f'--config.{path}={v}'
                for path, v in config_overrides().items()})
  cfg = copy.deepcopy(config)
  for path, value in part.settings.items():
    if path in given:
      raise DlexpError(f'{given[path]} is set by part {part.name!r} of this '
                       f'script (to {value!r}); use the script\'s own flags')
    config_lib.set_value(cfg, path, value)
  for path, value in part.flag_settings.items():
    config_lib.set_value(cfg, path, value)
  config_lib.validate(cfg)
  return cfg


def run_parts(parts: Sequence[Part], config=None, title: str = '',
              options: Optional[Dict[str, Any]] = None,
              axis_flags: Optional[Dict[str, str]] = None,
              claims: Sequence[claims_lib.Claim] = (),
              plots: Sequence[str] = ()) -> Dict[str, Grid]:
  """run_ablation for a script of several sweeps (`parts`, each its own
  grid): one table per part under its name, printed as the part finishes,
  then (conclude) one set of verdicts and one findings record for all.
  Claim checks get a claims.PartEvidence (`ev.part(name)` is that part's
  Evidence). Every setting is validated before the first part trains.
  Returns {part name: its Grid}."""
  config = config or resolved_config()
  configs = [part_config(config, p) for p in parts]  # all errors up front
  for p in parts:
    check_axes(p.axes, axis_flags)
  grids, texts, written = [], [], []
  for p, cfg in zip(parts, configs):
    grid = run_grid(p.axes, cfg, p.final_hooks, options, axis_flags)
    grids.append((p.name, grid))
    texts.append(f'### {p.name}\n\n{run_line(cfg)}\n\n{grid.table(p.columns)}')
    print(f'\n{texts[-1]}')
    if _primary():
      written += plot_curves(grid, plots, subdir=p.name)
  evidence = claims_lib.PartEvidence(
      {n: g.evidence(p.columns) for (n, g), p in zip(grids, parts)})
  conclude(combine(grids), title, '', '\n\n'.join(texts), claims,
           evidence=evidence, drawn=written)
  return dict(grids)


def _primary() -> bool:
  from dlexp import distributed  # pylint: disable=g-import-not-at-top
  return distributed.is_primary()


def show(title: str, line: str, table: str) -> None:
  print()
  if title:
    print(f'## {title}')
  print(f'{line}; workdir {os.path.abspath(FLAGS.workdir)}')
  print(table)


def check_failed(grid: Grid) -> None:
  failed = [r for r in grid.results if r['status'] == 'failed']
  if failed:
    _die(f'{len(failed)} member(s) failed (see their status.json); relaunch '
         'with --rerun_failed to retry them', code=1)


def plot_curves(grid: Grid, metrics: Sequence[str],
                plotters: Sequence[Plotter] = (), subdir: str = ''
                ) -> List[str]:
  """Learning curves for the findings (all three with --plot), then the
  script's own figures; `subdir` tells apart the parts of a run_parts
  script."""
  runs, directories = grid.runs, grid.directories
  if FLAGS.plot:
    metrics = list(dict.fromkeys([*metrics, 'val_accuracy', 'val_loss',
                                  'train_loss']))
  elif size() == 'smoke' or not runs or not (metrics or plotters):
    return []
  outdir = os.path.join(FLAGS.workdir, findings.FINDINGS_DIR, 'plots',
                        findings.invocation_id(directories, FLAGS.workdir),
                        re.sub(r'[^\w.-]+', '_', subdir))
  os.makedirs(outdir, exist_ok=True)
  paths = report.plot(runs, metrics, outdir, grid.groups)
  paths += [p for p in (fn(runs, outdir) for fn in plotters) if p]
  for path in paths:
    print(f'wrote {path}')
  return paths


def publish(title: str, table: str, claims: Sequence[claims_lib.Claim],
            evidence: Any, directories: Sequence[str], preamble: str = '',
            plots: Sequence[str] = (), alpha: float = 0.05) -> str:
  """Prints each claim's verdict and writes the findings record of this
  invocation (dlexp.findings builds FINDINGS.md from it), with the
  per-seed evidence that decided them; returns its path. Scripts that make
  their own table (no grid of runs) call it directly. A rule that crashed
  is recorded and ends the script with exit status 1."""
  verdicts = claims_lib.evaluate(claims, evidence, alpha)
  print_verdicts(verdicts, size(), preamble)
  main = sys.modules.get('__main__')
  question = ((getattr(main, '__doc__', '') or '').strip().splitlines()
              or [''])[0]
  path = findings.write_record(
      FLAGS.workdir, _SCRIPT['name'] or 'script', title=title or
      _SCRIPT['name'], question=question, command=command_line(),
      size=size(), table=table, preamble=preamble, claims=verdicts,
      plots=list(plots), directories=list(directories),
      evidence=evidence.record() if evidence is not None else None,
      alpha=alpha, **_wall_time(directories))
  print(f'findings: {path}')
  errors = [v for v in verdicts if v['verdict'] == claims_lib.ERROR]
  if errors:
    _die(f'{len(errors)} claim rule(s) failed (a bug in the script: see '
         f'the ERROR lines above); the table and record are written',
         code=1)
  return path


def print_verdicts(verdicts: Sequence[Dict[str, Any]], size_: str,
                   setting: str = '') -> None:
  """The verdicts under a header naming the size and what was trained;
  at smoke size each is labelled a plumbing check, not evidence."""
  if not verdicts:
    return
  mine = [v for v in verdicts if not v.get('outside')]
  header = ('The notes\' claims' if mine else 'Claims from outside the '
            'notes')
  where = f' ({size_} size: {setting})' if setting else f' ({size_} size)'
  print(f'\n{header}, decided by the numbers above{where}:')
  if size_ == 'smoke':
    print('(smoke size is a plumbing check: no verdict below is evidence)')
  for v in verdicts:
    origin = f'{v["outside"]}; ' if v.get('outside') else ''
    print(f'- [{origin}{v["source"]}] "{v["quote"]}": '
          f'{claims_lib.label(v["verdict"], size_)} - {v["evidence"]}')


def _wall_time(directories: Sequence[str]) -> Dict[str, Any]:
  """The record's wall time: this invocation's, and how many of its runs
  it reused (finished before it started: a rerun that only re-renders a
  table is not a measurement of the runs). Where every run was reused, the
  time of the invocation that trained them is kept."""
  start = time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(_SCRIPT['start']))
  updated = [(records.read_json(os.path.join(d, 'status.json')) or {}).get(
      'updated', '') for d in directories]
  reused = sum(1 for u in updated if u and u < start)
  if directories and reused == len(directories):
    old = records.read_json(findings.record_path(
        FLAGS.workdir, _SCRIPT['name'] or 'script', directories)) or {}
    if old.get('wall_seconds') and not old.get('reused_runs'):
      return dict(wall_seconds=old['wall_seconds'], reused_runs=0)
  return dict(wall_seconds=time.time() - _SCRIPT['start'],
              reused_runs=reused)


def command_line() -> str:
  """This invocation as a command to paste (script path relative to the
  repository when it is inside it)."""
  script = os.path.abspath(sys.argv[0])
  if script.startswith(ROOT + os.sep):
    script = os.path.relpath(script, ROOT)
  return ' '.join(['python', shlex.quote(script)]
                  + [shlex.quote(a) for a in sys.argv[1:]])


def _die(message: str, code: int = 2) -> None:
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def _check_config_overrides(argv: Sequence[str]) -> None:
  """Unknown --config.<key>: name it and suggest the closest key, before absl
  turns it into a traceback."""
  defaults = config_lib.default_config()
  for arg in argv[1:]:
    m = re.match(r'^--?(?:no)?config\.([^=]+)', arg)
    if m:
      config_lib.check_key(defaults, m.group(1))


def size() -> str:
  """'smoke', 'full' or 'default': the size this invocation runs at."""
  return 'smoke' if FLAGS.smoke else 'full' if FLAGS.full else 'default'


def _apply_size() -> None:
  """Fills the flags and config fields the command line left unset from the
  chosen size's preset."""
  if FLAGS.smoke and FLAGS.full:
    raise DlexpError('--smoke and --full exclude each other; give one')
  if size() == 'default':
    return
  preset = _SCRIPT['sizes'].get(size())
  if preset is None:
    raise DlexpError(f'--{size()}: {_SCRIPT["name"]} has no {size()} size')
  overrides = config_overrides()
  for key, value in preset.items():
    if key.startswith('config.'):
      if key[len('config.'):] not in overrides:
        config_lib.set_value(FLAGS.config, key[len('config.'):], value)
    elif not FLAGS[key].present:
      setattr(FLAGS, key, value)


def _parse_flags(argv):
  try:
    _check_config_overrides(argv)
    rest = FLAGS(argv)
    if _SCRIPT['name']:
      _apply_size()
    return rest
  except flags.Error as e:
    _die(str(e).splitlines()[0])
  except DlexpError as e:
    _die(str(e))


def run_main(main) -> None:
  """app.run with user errors as one line on stderr and exit status 2."""

  def guarded(argv):
    # Orbax and TFDS log through absl (every checkpoint step at INFO, TFDS
    # folder probes at WARNING); dlexp reports what matters in its own lines.
    logging.set_verbosity(logging.ERROR)
    if len(argv) > 1:
      _die(f'unexpected arguments {argv[1:]}; flags look like --name=value')
    from dlexp import distributed  # pylint: disable=g-import-not-at-top
    try:  # first: JAX's multi-process runtime starts before any device use
      distributed.initialize(FLAGS.config)
      if not distributed.is_primary():
        sys.stdout = open(os.devnull, 'w')  # process 0 prints the results
    except DlexpError as e:
      _die(str(e))
    from dlexp.train.runner import Interrupted  # pylint: disable=g-import-not-at-top
    try:
      main(argv)
    except DlexpError as e:
      _die(str(e))
    except Interrupted as e:
      print(str(e), file=sys.stderr)
      sys.exit(128 + e.signum)

  app.run(guarded, flags_parser=_parse_flags)


def list_flag(values: Optional[Sequence[str]], kind: type, name: str):
  """Parses a list flag's items, naming the bad one."""
  out = []
  for v in values or []:
    try:
      out.append(kind(v))
    except ValueError:
      raise DlexpError(f'--{name}: {v!r} is not a {kind.__name__}') from None
  if not out:
    raise DlexpError(f'--{name} needs at least one value')
  return out
