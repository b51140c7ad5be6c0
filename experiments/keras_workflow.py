r"""Does seed 004's Keras workflow (fit, evaluate, predict, save, load, early
stopping, L2, dropout, grid and random search with k-fold CV) do what the
answers say, run through dlexp?

Seed 004, Keras groups 1-10, on a real binary task: Fashion-MNIST's T-shirt
(class 0) against shirt (class 6), images scaled to [0, 1]. The model is
group 1's: Dense(32, relu) -> Dense(1, sigmoid) with binary cross-entropy
(model.hidden=(32,), loss.name='bce'), Adam, batch 32 (Keras' default).

1. Group 5-6 (regularization, early stopping), several seeds each: the
   plain model trained --epochs epochs and kept as it ended (no
   callback); EarlyStopping(monitor='val_loss', patience=3,
   restore_best_weights=True); kernel_regularizer=l2(0.01) (dlexp's
   reg.l2=0.02: dlexp adds l2/2 * sum w^2, Keras l2 * sum w^2); Dropout(0.3).
2. Group 9 (hyperparameter tuning): GridSearchCV's grid over width,
   learning rate, L2 and dropout, and RandomizedSearchCV's --samples random
   points (log-uniform learning rate and L2, uniform dropout, a width from
   the grid's), each scored by --folds-fold cross-validation
   (data.cv_folds: the folds are members of one program) on the training
   split, each model kept as it ended (no early stopping, as in
   sklearn). Learning rate, L2 and dropout are traced: every width is ONE
   compiled program whose members are all of its grid points x folds
   (vmapped). The best point of each search (mean validation accuracy over
   the folds) is refit on the whole training split with several seeds
   (refit=True) and tested.
3. Groups 1-3, 7-8: the refits are trained through the Python API
   (dlexp.fit), and the grid's is then evaluated (Trained.evaluate('test')),
   asked to predict raw uint8 test images (Trained.predict), saved, loaded
   (dlexp.load), asked again (identical?) and trained two more epochs
   (Trained.fit).

Columns: train acc (inference mode, dropout off, 10,000 training images),
val acc (for the searches: mean over folds), test acc, test loss, gap = train
acc - val acc (overfitting), epochs run (early stopping), wall s. The
searches' top points are listed below the table.

  python experiments/keras_workflow.py
  python experiments/keras_workflow.py --classes=5,7 --samples=24 --folds=5
"""
import copy
import math
import os

import numpy as np
from absl import flags

import dlexp
from dlexp import analysis, claims, cli, report
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp.errors import ConfigError

_CLASSES = flags.DEFINE_list('classes', ['0', '6'], 'The binary task: two '
                             'class ids (config.data.classes).')
_WIDTHS = flags.DEFINE_list('widths', ['16', '32', '64'], 'Grid: widths.')
_LRS = flags.DEFINE_list('lrs', ['0.001', '0.01'], 'Grid: learning rates.')
_L2S = flags.DEFINE_list('l2s', ['0', '0.001'], 'Grid: L2 (dlexp reg.l2).')
_DROPOUTS = flags.DEFINE_list('dropouts', ['0', '0.3'], 'Grid: dropout.')
_SAMPLES = flags.DEFINE_integer('samples', 12, 'Random search: points.')
_FOLDS = flags.DEFINE_integer('folds', 3, 'k of the k-fold cross-validation.')
_SEARCH_EPOCHS = flags.DEFINE_integer('search_epochs', 10, 'Epochs of each '
                                      'search point and of the refits.')

cli.define_flags(
    'keras_workflow', model='mlp', epochs=20, seeds=3,
    config={'data.classes': (0, 6), 'model.hidden': (32,),
            'loss.name': 'bce', 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'batch_size': 32,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'search_epochs': 1, 'samples': 2,
           'folds': 2, 'widths': ['8'], 'lrs': ['0.001'], 'l2s': ['0'],
           'dropouts': ['0', '0.3'], 'config.data.train_limit': 1024,
           'config.data.test_limit': 500, 'config.batch_size': 128},
    full={'seeds': 5, 'folds': 5, 'samples': 24, 'search_epochs': 20})

KERAS_L2 = 0.01  # kernel_regularizer=l2(0.01)
REGULARIZATION = [('no callback', 0.0, 0.0), ('l2(0.01)', 2 * KERAS_L2, 0.0),
                  ('Dropout(0.3)', 0.0, 0.3)]
SEARCH = ('model.hidden', 'optimizer.learning_rate', 'reg.l2',
          'model.dropout_rate')


# -- columns -------------------------------------------------------------------
def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


GAP = report.Column('gap', _gap, '.4f')
TEST_LOSS = report.final('test_loss', 'test loss')
EPOCHS = report.Column('epochs run', lambda r: r.final('epochs_run'), '.1f')
COLUMNS = (report.final('clean_train_accuracy', 'train acc'),
           report.final('val_accuracy', 'val acc'),
           report.final('test_accuracy', 'test acc'), TEST_LOSS, GAP, EPOCHS,
           report.DEFAULT_COLUMNS[3])


# -- claims --------------------------------------------------------------------
def _trial(ev, name):
  if name not in ev.groups:
    raise KeyError(f'{name} is not in the grid')
  return name


def _regularizers_help(ev: claims.Evidence) -> claims.Verdict:
  base = ev.values(_trial(ev, 'no callback'), GAP)
  parts, signs = [], []
  for name in ('l2(0.01)', 'Dropout(0.3)'):
    c = claims.compare(base, ev.values(_trial(ev, name), GAP),
                       'train - val accuracy gap', 'no regularization', name)
    parts.append(c.evidence)
    signs.append(c.verdict)
  text = '; '.join(parts)
  if all(s == claims.SUPPORTED for s in signs):
    return claims.Verdict(claims.SUPPORTED, text)
  if claims.SUPPORTED in signs:
    return claims.Verdict(claims.DEPENDS, text)
  if claims.CONTRADICTED in signs:
    return claims.Verdict(claims.CONTRADICTED, text)
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _early_stopping(ev: claims.Evidence) -> claims.Verdict:
  """Supported when it stopped early in every seed and its test loss is not
  significantly worse than the run kept to the end."""
  es = _trial(ev, 'EarlyStopping(patience=3)')
  stopped = [r.final('stopped_epoch') is not None for r in ev.groups[es]]
  c = claims.compare(ev.values('no callback', TEST_LOSS),
                     ev.values(es, TEST_LOSS), 'test loss', 'last epoch',
                     'early stopping (best epoch restored)')
  text = (f'stopped early in {sum(stopped)} of {len(stopped)} seeds, after '
          f'{claims.describe(ev.values(es, EPOCHS), ".1f")} epochs; '
          f'{c.evidence}')
  if not any(stopped):
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if c.verdict == claims.CONTRADICTED:
    return claims.Verdict(claims.CONTRADICTED, text)
  return claims.Verdict(claims.SUPPORTED if all(stopped) else claims.DEPENDS,
                        text)


def _save_load(ev: claims.Evidence) -> claims.Verdict:
  diff = np.array([ev.workflow['max_abs_prob_diff']])
  verdict = claims.at_most(diff, 0.0, 'largest |p_loaded - p_trained| over '
                           f'{ev.workflow["predicted"]} test images', '.2e')
  again = ev.workflow['continued']
  return claims.Verdict(verdict.verdict, f'{verdict.evidence}; the loaded '
                        f'model trained 2 more epochs to test accuracy '
                        f'{again:.4f}')


def _tuning_helps(ev: claims.Evidence) -> claims.Verdict:
  """The grid's best point against the default point (width 32, Adam 1e-3,
  no L2, no dropout), both refit the same way."""
  return claims.compare(ev.values(_trial(ev, 'grid best refit'),
                                  'test_accuracy'),
                        ev.values(_trial(ev, 'default refit'),
                                  'test_accuracy'),
                        'test accuracy', 'the grid\'s best point, refit',
                        'the default hyperparameters, refit')


def _random_search(ev: claims.Evidence) -> claims.Verdict:
  """RandomizedSearchCV as an alternative to GridSearchCV: its best CV score
  within the spread of the grid's best, from fewer or as many points."""
  grid, rand = ev.workflow['grid_best'], ev.workflow['random_best']
  c = claims.compare(ev.values(rand, 'val_accuracy'),
                     ev.values(grid, 'val_accuracy'),
                     'cross-validated accuracy (folds)',
                     f'random search best of {ev.workflow["random_points"]} '
                     f'({rand})', f'grid best of {ev.workflow["grid_points"]} '
                     f'({grid})')
  verdict = (claims.CONTRADICTED if c.verdict == claims.CONTRADICTED
             else claims.SUPPORTED)
  return claims.Verdict(verdict, c.evidence)


CLAIMS = (
    claims.Claim('004 K5', 'Dropout and L2 regularization ... [prevent '
                 'overfitting]', _regularizers_help),
    claims.Claim('004 K6', 'Early stopping is a technique to prevent '
                 'overfitting by monitoring the validation loss during '
                 'training and stopping training when the validation loss '
                 'starts increasing', _early_stopping),
    claims.Claim('004 K8', 'To load a saved model, use ... load_model '
                 '[and use it for future use]', _save_load),
    claims.Claim('004 K9', 'Tuning hyperparameters is crucial for achieving '
                 'the best model performance', _tuning_helps),
    claims.Claim('004 K9', 'Hyperparameter tuning ... using libraries like '
                 'GridSearchCV or RandomizedSearchCV [either one]',
                 _random_search),
)


# -- the searches ----------------------------------------------------------------
def _grid_axes():
  return {'model.hidden': [(w,) for w in cli.list_flag(_WIDTHS.value, int,
                                                       'widths')],
          'optimizer.learning_rate': cli.list_flag(_LRS.value, float, 'lrs'),
          'reg.l2': cli.list_flag(_L2S.value, float, 'l2s'),
          'model.dropout_rate': cli.list_flag(_DROPOUTS.value, float,
                                              'dropouts')}


def _random_points(axes, n: int, seed: int):
  """n points: a width of the grid's, learning rate log-uniform over the
  grid's range widened 3x each way, L2 log-uniform in [1e-5, 1e-2] (or 0),
  dropout uniform in [0, 0.5]; 3 significant digits."""
  rng = np.random.default_rng(seed)
  lrs = axes['optimizer.learning_rate']
  lo, hi = math.log10(min(lrs) / 3), math.log10(max(lrs) * 3)
  sig = lambda x: float(f'{x:.3g}')
  points = []
  for _ in range(n):
    l2 = 0.0 if rng.random() < 0.25 else sig(10 ** rng.uniform(-5, -2))
    points.append((axes['model.hidden'][rng.integers(len(axes['model.hidden']))],
                   sig(10 ** rng.uniform(lo, hi)), l2,
                   sig(rng.uniform(0.0, 0.5))))
  return points


def _best(grid: cli.Grid) -> str:
  """The trial with the highest mean validation accuracy over its folds."""
  ev = grid.evidence()
  scores = {t: ev.values(t, 'val_accuracy').mean() for t in grid.trials
            if ev.values(t, 'val_accuracy').size}
  return max(scores, key=scores.get)


def _top(grid: cli.Grid, k: int = 5) -> str:
  ev = grid.evidence()
  ranked = sorted(grid.trials, key=lambda t: -ev.values(
      t, 'val_accuracy').mean() if ev.values(t, 'val_accuracy').size else 0)
  return report.table({t: grid.groups[t] for t in ranked[:k]},
                      (report.final('val_accuracy', 'CV val acc'),
                       report.final('test_accuracy', 'test acc')),
                      order=ranked[:k])


def _search(base, axes, folds: int, epochs: int):
  config = copy.deepcopy(base)
  config.data.cv_folds, config.data.val_size = folds, 0
  config.num_seeds, config.epochs = 1, epochs
  config.early_stopping.restore_best = False
  return cli.run_grid(axes, config)


def _refit(base, overrides, epochs: int):
  """The search's best point trained on the whole training split, all
  seeds, through the API (dlexp.fit: the runs land in the workdir like the
  grids', so a relaunch reuses them); returns (Trained, its grid)."""
  config = copy.deepcopy(base)
  for path, value in overrides.items():
    config_lib.set_value(config, path, value)
  config.epochs = epochs
  config.early_stopping.restore_best = False
  trained = dlexp.fit(config, workdir=cli.FLAGS.workdir, out=False)
  dirs = {os.path.realpath(d) for d in trained.directories}
  runs = [r for r in report.load_runs(cli.FLAGS.workdir)
          if os.path.realpath(r.directory) in dirs]
  results = [dict(r, trial='run') for r in trained.results]
  return trained, cli.Grid(config, results, runs, {'run': runs}, ['run'])


def _workflow(trained, workdir: str):
  """Groups 1-3, 7-8 on a refit model: evaluate, predict raw images, save,
  load, predict again, fit two more epochs."""
  raw, labels = _raw_test_images(trained.config)
  probs = trained.predict(raw)
  path = trained.save(os.path.join(workdir, 'saved_model'))
  again = dlexp.load(path)
  more = again.fit(epochs=2, workdir=os.path.join(workdir, 'continued'),
                   out=False)
  return dict(
      max_abs_prob_diff=float(np.max(np.abs(again.predict(raw) - probs))),
      predicted=len(raw),
      test_accuracy=trained.evaluate('test')['accuracy'],
      raw_accuracy=float(np.mean(probs.argmax(-1) == labels)),
      continued=more.evaluate('test')['accuracy'])


def _raw_test_images(config):
  """The task's test images as stored (uint8), as a user would pass them,
  and their labels."""
  raw_cfg = copy.deepcopy(config.data)
  raw_cfg.standardize = False
  ds = data_lib.load(raw_cfg)
  return np.round(ds.test_x * 255).astype(np.uint8), ds.test_y


def main(_):
  base = cli.resolved_config()
  classes = tuple(cli.list_flag(_CLASSES.value, int, 'classes'))
  if 'data.classes' in cli.config_overrides():
    if flags.FLAGS['classes'].present:
      raise ConfigError('--classes and --config.data.classes both given; '
                        'give one')
    classes = tuple(base.data.classes)
  if len(classes) != 2:
    raise ConfigError(f'--classes={",".join(map(str, classes))} must name '
                      'two classes')
  base.data.classes = classes
  if _FOLDS.value < 2 or _SAMPLES.value < 1 or _SEARCH_EPOCHS.value < 1:
    raise ConfigError('--folds must be >= 2, --samples and --search_epochs '
                      '>= 1')
  hooks = [analysis.clean_train_accuracy_hook()]
  plain = copy.deepcopy(base)
  plain.early_stopping.restore_best = False
  parts = [('', cli.run_grid(
      {'regularizer': [{'reg.l2': l2, 'model.dropout_rate': rate}
                       for _, l2, rate in REGULARIZATION]},
      plain, final_hooks=hooks))]
  names = {f'l2={l2:g},dropout_rate={d:g}': n for n, l2, d in REGULARIZATION}
  stop = copy.deepcopy(base)
  stop.early_stopping.patience = 3
  parts.append(('EarlyStopping(patience=3)',
                cli.run_grid({}, stop, final_hooks=hooks)))
  axes = _grid_axes()
  grid = _search(base, axes, _FOLDS.value, _SEARCH_EPOCHS.value)
  points = _random_points(axes, _SAMPLES.value, base.seed)
  rand = _search(base, {'point': [dict(zip(SEARCH, p)) for p in points]},
                 _FOLDS.value, _SEARCH_EPOCHS.value)
  grid_best, rand_best = _best(grid), _best(rand)
  best_names = {'grid': f'grid best (CV): {grid_best}',
                'random': f'random best (CV): {rand_best}'}
  parts += [(best_names['grid'], _subset(grid, grid_best)),
            (best_names['random'], _subset(rand, rand_best))]
  refits = {}
  for label, overrides in (
      ('grid best', grid.groups[grid_best][0].config['overrides']),
      ('random best', rand.groups[rand_best][0].config['overrides']),
      ('default', {})):
    refits[label], refit_grid = _refit(base, overrides, _SEARCH_EPOCHS.value)
    parts.append((f'{label} refit', refit_grid))
  workflow = _workflow(refits['grid best'],
                       os.path.join(cli.FLAGS.workdir, 'api'))
  combined = cli.combine(parts)
  combined = _rename(combined, names)
  text = combined.table(COLUMNS)
  text += (f'\n\nGrid search ({len(grid.trials)} points x {_FOLDS.value} '
           f'folds), top 5 by CV accuracy:\n\n{_top(grid)}\n\nRandom search '
           f'({len(rand.trials)} points x {_FOLDS.value} folds), top 5:\n\n'
           f'{_top(rand)}\n\nAPI on the grid\'s refit: test accuracy '
           f'{workflow["test_accuracy"]:.4f} (evaluate) and '
           f'{workflow["raw_accuracy"]:.4f} (predict on raw uint8 images); '
           f'saved, loaded: max |dp| = {workflow["max_abs_prob_diff"]:.2e}; '
           f'2 more epochs: {workflow["continued"]:.4f}')
  title = 'Keras workflow through dlexp (binary task)'
  line = (f'{base.data.name} classes {classes}, Dense({base.model.hidden[0]}'
          f', relu) -> Dense(1, sigmoid), {base.epochs} epochs (searches '
          f'and refits {_SEARCH_EPOCHS.value}), seeds {base.seed}..'
          f'{base.seed + base.num_seeds - 1} (mean ± std over seeds; CV rows '
          'over folds)')
  ev = combined.evidence()
  ev.workflow = dict(workflow, grid_best=best_names['grid'],
                     random_best=best_names['random'],
                     grid_points=len(grid.trials),
                     random_points=len(rand.trials))
  cli.conclude(combined, title, line, text, CLAIMS, plots=(), evidence=ev)


def _subset(grid: cli.Grid, trial: str) -> cli.Grid:
  """The grid reduced to one trial (its runs: the folds), named 'run'."""
  runs = grid.groups[trial]
  dirs = {r.directory for r in runs}
  return cli.Grid(grid.config, [dict(r, trial='run') for r in grid.results
                                if r['directory'] in dirs], runs,
                  {'run': runs}, ['run'])


def _rename(grid: cli.Grid, names) -> cli.Grid:
  rename = lambda t: names.get(t, t)
  return cli.Grid(grid.config, [dict(r, trial=rename(r['trial']))
                                for r in grid.results], grid.runs,
                  {rename(t): g for t, g in grid.groups.items()},
                  [rename(t) for t in grid.trials])


if __name__ == '__main__':
  cli.run_main(main)
