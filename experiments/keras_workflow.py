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
   restore_best_weights=True); kernel_regularizer=l2(x) at each Keras
   strength of --l2_sweep (1e-5 to 1e-2; the notes' own example l2(0.01)
   among them; dlexp's reg.l2 = 2x: dlexp adds l2/2 * sum w^2, Keras
   l2 * sum w^2); Dropout(0.3).
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
4. Group 9's untuned baseline: one random point of the search space per
   seed (drawn as the random search draws), each refit once.

Columns: train acc (inference mode, dropout off, 10,000 training images),
val acc (for the searches: mean over folds), test acc, test loss, gap = train
acc - val acc (overfitting), epochs run (early stopping), best epoch (lowest
validation loss), wall s. The searches' top points are listed below the
table, then the API table: per seed of the grid's refit, the largest
difference between the loaded and the trained model's probabilities, and
the test accuracies from evaluate, from predict on raw images and after two
more epochs.

The claims (004's Keras groups, labelled K5-K9; 5 seeds, the seeds as n;
each checked in its regime first): K5, L2 at some strength of the sweep
and Dropout(0.3) each shrink the gap without costing test accuracy (a gap
closed by underfitting is not overfitting prevented; the reading of 004 G3
and G10), where the plain model overfits (gap >= 0.02) and each
regularized model still learns (the notes name the method, not a
strength: one untuned strength can neither prove nor refute it, and a
strength chosen on validation can land on the weakest, no L2 at all); K6,
early stopping trains fewer epochs and ends with a lower test loss,
where the plain run's validation loss rises for at least the patience;
K9, the grid's refit beats on test both the default point's and random
points' refits (one point per seed). Not
claims: K8's save/load (dlexp's, not Keras'; the API table shows it,
tests/test_api.py checks it) and K9's naming of GridSearchCV and
RandomizedSearchCV (tools, not an outcome; the random search is run and
shown, not judged).

  python experiments/keras_workflow.py
  python experiments/keras_workflow.py --classes=5,7 --samples=24 --folds=5

From Python: `run(size='smoke')`, or `run(config, workdir, classes=[5, 7])`.
"""
import copy
import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

import dlexp
from dlexp import ablation, analysis, claims, cli, report, tables
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'keras_workflow', model='mlp', epochs=20, seeds=5,
    config={'data.classes': (0, 6), 'model.hidden': (32,),
            'loss.name': 'bce', 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'batch_size': 32,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'search_epochs': 1, 'samples': 2,
           'folds': 2, 'widths': ['8'], 'lrs': ['0.001'], 'l2s': ['0'],
           'dropouts': ['0', '0.3'], 'l2_sweep': ['0.001', '0.01'],
           'config.data.train_limit': 1024,
           'config.data.test_limit': 500, 'config.batch_size': 128},
    full={'seeds': 5, 'folds': 5, 'samples': 24, 'search_epochs': 20})
_CLASSES = SCRIPT.list_flag('classes', ['0', '6'], 'The binary task: two '
                            'class ids (config.data.classes).')
_WIDTHS = SCRIPT.list_flag('widths', ['16', '32', '64'], 'Grid: widths.')
_LRS = SCRIPT.list_flag('lrs', ['0.001', '0.01'], 'Grid: learning rates.')
_L2S = SCRIPT.list_flag('l2s', ['0', '0.001'], 'Grid: L2 (dlexp reg.l2).')
_DROPOUTS = SCRIPT.list_flag('dropouts', ['0', '0.3'], 'Grid: dropout.')
_SAMPLES = SCRIPT.flag('integer', 'samples', 12, 'Random search: points.')
_FOLDS = SCRIPT.flag('integer', 'folds', 3,
                     'k of the k-fold cross-validation.')
_SEARCH_EPOCHS = SCRIPT.flag('integer', 'search_epochs', 10, 'Epochs of each '
                             'search point and of the refits.')
_L2_SWEEP = SCRIPT.list_flag('l2_sweep', ['1e-05', '0.0001', '0.001', '0.01'],
                             'Keras l2 strengths (kernel_regularizer=l2(x); '
                             'dlexp reg.l2 = 2x) of 004 K5\'s L2 arms, the '
                             'notes\' l2(0.01) among them.')

SEARCH = ('model.hidden', 'optimizer.learning_rate', 'reg.l2',
          'model.dropout_rate')
RANDOM = 'random point refit'
DROPOUT = 'Dropout(0.3)'


def regularization(keras_l2s) -> List[Tuple[str, float, float]]:
  """(trial, dlexp reg.l2, dropout rate) of group 5's arms: none, L2 at
  each Keras strength ('l2(0.01)': dlexp reg.l2 = 0.02), Dropout(0.3)."""
  strengths = cli.list_flag(keras_l2s, float, 'l2_sweep')
  return ([('no callback', 0.0, 0.0)]
          + [(f'l2({k:g})', 2 * k, 0.0) for k in strengths]
          + [(DROPOUT, 0.0, 0.3)])


# -- columns -------------------------------------------------------------------
def _gap(run):
  train, val = run.final('clean_train_accuracy'), run.final('val_accuracy')
  return None if train is None or val is None else train - val


VAL = report.final('val_accuracy', 'val acc')
TEST = report.final('test_accuracy', 'test acc')
GAP = report.Column('gap', _gap, '.4f')
TEST_LOSS = report.final('test_loss', 'test loss')
EPOCHS = report.Column('epochs run', lambda r: r.final('epochs_run'), '.1f')
BEST = report.Column('best epoch', lambda r: r.final('best_epoch'), '.1f')
COLUMNS = (report.final('clean_train_accuracy', 'train acc'), VAL, TEST,
           TEST_LOSS, GAP, EPOCHS, BEST, report.default_column('wall s'))

# The API table (groups 1-3, 7-8 on the grid's refit), one value per seed.
API = 'API on the grid best refit'
DP = 'max |p_loaded - p_trained|'
API_EVALUATE = 'test acc (evaluate)'
API_RAW = 'test acc (predict, raw uint8)'
API_MORE = 'test acc (2 more epochs)'
API_COLUMNS = ((DP, '.2e'), (API_EVALUATE, '.4f'), (API_RAW, '.4f'),
               (API_MORE, '.4f'))


# -- claims --------------------------------------------------------------------
CHANCE = 0.5  # two classes
GAP_MARGIN = 0.005  # train - val accuracy: half a point of overfitting
ACC_MARGIN = 0.005  # test accuracy: half a point, the smallest gain that
# would justify a search
KEEP_MARGIN = 0.005  # test accuracy a regularizer may cost: the half
# point at which the note's non-inferiority test calls the cost real
LOSS_MARGIN = 0.01  # test binary cross-entropy (nats)
EPOCH_MARGIN = 1.0  # epochs: stopping at least one epoch early
PLAIN, STOP = 'no callback', 'EarlyStopping(patience=3)'
PATIENCE = 3


def _runs(pev: claims.PartEvidence) -> claims.Evidence:
  return pev.part('runs')


def _arm(pev, trial: str, column, label: str = '',
         keep_collapsed: bool = False) -> claims.Sample:
  ev = _runs(pev)
  return ev.sample(ev.need(trial), column, label or trial, keep_collapsed)


def _l2_trials(ev: claims.Evidence) -> List[str]:
  """The L2 arms ('l2(<Keras strength>)'), weakest first."""
  found = [t for t in ev.trials if re.fullmatch(r'l2\([\d.e+-]+\)', t)]
  if not found:
    raise claims.MissingTrial('no L2 arm (l2(...)) in this grid')
  return sorted(found, key=lambda t: float(t[3:-1]))


def _regularizers_help(pev: claims.PartEvidence) -> claims.Verdict:
  """Each method prevents overfitting: a smaller train - val accuracy gap
  AND test accuracy not worse than without it ('and'; a gap closed by
  underfitting is not overfitting prevented; the reading of 004 G3 and
  G10). L2 at SOME strength of the sweep ('some': the notes name the
  method, not a strength; contradicted only if every strength fails), and
  Dropout(0.3); both methods ('all', Holm)."""
  name0 = 'no regularization'
  gap0, acc0 = _arm(pev, PLAIN, GAP, name0), _arm(pev, PLAIN, TEST, name0)
  remedy = lambda name: claims.less_overfitting(
      _arm(pev, name, GAP), gap0, _arm(pev, name, TEST), acc0, GAP_MARGIN,
      KEEP_MARGIN)
  l2 = claims.across([(t, remedy(t)) for t in _l2_trials(_runs(pev))],
                     'some')
  return claims.across([('L2 at some strength', l2),
                        (DROPOUT, remedy(DROPOUT))], 'all')


def _l2_learns(pev: claims.PartEvidence) -> float:
  """The lowest mean test accuracy over the L2 arms."""
  ev = _runs(pev)
  return min(float(ev.sample(t, TEST).values.mean()) for t in _l2_trials(ev))


def _early_stopping(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.across([
      ('stops early', claims.less(
          _arm(pev, STOP, EPOCHS, 'early stopping'),
          _arm(pev, PLAIN, EPOCHS, 'no callback'), EPOCH_MARGIN,
          'epochs trained', fmt='.1f')),
      ('prevents overfitting', claims.less(
          _arm(pev, STOP, TEST_LOSS, 'early stopping (best epoch restored)'),
          _arm(pev, PLAIN, TEST_LOSS, 'kept to the last epoch'), LOSS_MARGIN,
          'test loss'))], 'all')


def _rising(pev: claims.PartEvidence) -> np.ndarray:
  """Per seed of the plain run: epochs trained after its lowest validation
  loss (>= 3: the loss rose long enough for patience 3 to stop it)."""
  ev = _runs(pev)
  t = ev.need(PLAIN)
  return np.array([ran - best for ran, best in zip(ev.column(t, EPOCHS),
                                                   ev.column(t, BEST))
                   if ran is not None and best is not None], np.float64)


def _tuning_helps(pev: claims.PartEvidence) -> claims.Verdict:
  """The tuned point beats an untuned one: the default point (what a user
  gets without tuning) and a random point of the space (one per seed:
  what an arbitrary choice gets), both ('all', Holm)."""
  tuned = _arm(pev, 'grid best refit', TEST, 'the grid\'s best point, refit')
  return claims.across([
      ('against the default point', claims.greater(
          tuned, _arm(pev, 'default refit', TEST, 'the default point, refit'),
          ACC_MARGIN, 'test accuracy')),
      ('against a random point', claims.greater(
          # a random point that fails to learn is what the arm measures
          tuned, _arm(pev, RANDOM, TEST, 'a random point per seed, refit',
                      keep_collapsed=True),
          ACC_MARGIN, 'test accuracy'))], 'all')


def _learns(trial: str) -> claims.Requirement:
  return claims.requires(f'{trial} learns the task above chance (test acc)',
                         lambda pev: _arm(pev, trial, TEST), '>=',
                         CHANCE + 0.2)


_OVERFITS = claims.requires(
    'the plain model overfits (its train - val accuracy gap)',
    lambda pev: _arm(pev, PLAIN, GAP), '>=', 0.02)

CLAIMS = (
    claims.Claim(
        '004 K5', 'Regularization prevents overfitting ... Dropout and L2 '
        'regularization are two common methods',
        tested_as='dlexp\'s equivalents of the Keras layers, after 20 '
        'epochs (the default) of Dense(32, relu) -> Dense(1, sigmoid) on '
        'Fashion-MNIST T-shirt vs shirt: L2 at some strength of a sweep '
        '(Keras l2 1e-5, 1e-4, 1e-3 and the notes\' own example 1e-2; '
        '"some": the notes name the method, not a strength, and L2 is '
        'contradicted only if every strength fails; Holm) and Dropout(0.3), '
        'each against no regularization, a smaller train (inference mode) '
        f'- validation accuracy gap (margin {GAP_MARGIN}) AND test accuracy '
        f'not worse by more than {KEEP_MARGIN} (non-inferiority): '
        '"prevents overfitting" needs both, since a gap closed by '
        'underfitting is not overfitting prevented (as 004 G3 and G10); '
        'both methods required, where every regularized net still learns; '
        'the '
        'elided mechanism, "by adding penalty terms to the loss function", '
        'is L2\'s (dlexp adds l2/2 * sum w^2 to the loss) and not '
        'dropout\'s, which adds none: not tested',
        rule=_regularizers_help,
        regime=(_OVERFITS, _learns(DROPOUT), claims.requires(
            'every L2 strength learns the task above chance (lowest mean '
            'test acc over the strengths)', _l2_learns, '>=',
            CHANCE + 0.2))),
    claims.Claim(
        '004 K6', 'Early stopping is a technique to prevent overfitting by '
        'monitoring the validation loss during training and stopping '
        'training when the validation loss starts increasing',
        tested_as='EarlyStopping(monitor=val_loss, patience=3, '
        'restore_best_weights=True) against the same model kept to the last '
        f'epoch: it trains fewer epochs (margin {EPOCH_MARGIN:g}) and ends '
        f'with a lower test loss (margin {LOSS_MARGIN}); both must hold',
        rule=_early_stopping,
        regime=(claims.requires(
            'the plain run\'s validation loss starts increasing: epochs '
            'trained after its lowest one', _rising, '>=', PATIENCE),)),
    claims.Claim(
        '004 K9', 'Tuning hyperparameters is crucial for achieving the best '
        'model performance',
        tested_as='test accuracy of the grid search\'s best point (width, '
        'learning rate, L2, dropout by k-fold CV), refit on the whole '
        'training split, against untuned points refit the same way: the '
        'default point (Dense(32), Adam 1e-3, no L2, no dropout) and a '
        'random point of the search space per seed; both must hold (Holm; '
        f'margin {ACC_MARGIN})',
        rule=_tuning_helps, regime=(_learns('default refit'),)),
)


# -- the searches ----------------------------------------------------------------
def _grid_axes(opts: Dict[str, Any]):
  """The grid search's axes from the run's options (widths, lrs, ...)."""
  return {'model.hidden': [(w,) for w in cli.list_flag(opts['widths'], int,
                                                       'widths')],
          'optimizer.learning_rate': cli.list_flag(opts['lrs'], float, 'lrs'),
          'reg.l2': cli.list_flag(opts['l2s'], float, 'l2s'),
          'model.dropout_rate': cli.list_flag(opts['dropouts'], float,
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


def _best(grid: ablation.Grid) -> str:
  """The trial with the highest mean validation accuracy over its folds."""
  ev = grid.evidence((VAL,))
  scores = {t: ev.values(t, VAL).mean() for t in grid.trials
            if ev.values(t, VAL).size}
  return max(scores, key=scores.get)


def _top(grid: ablation.Grid, k: int = 5) -> str:
  ev = grid.evidence((VAL,))
  ranked = sorted(grid.trials, key=lambda t: -ev.values(
      t, VAL).mean() if ev.values(t, VAL).size else 0)
  return report.table({t: grid.groups[t] for t in ranked[:k]},
                      (report.final('val_accuracy', 'CV val acc'),
                       report.final('test_accuracy', 'test acc')),
                      order=ranked[:k])


def _search(session, base, axes, folds: int, epochs: int):
  config = copy.deepcopy(base)
  config.data.cv_folds, config.data.val_size = folds, 0
  config.num_seeds, config.epochs = 1, epochs
  config.early_stopping.restore_best = False
  return ablation.run_grid(session, axes, config)


def _refit(session, base, overrides, epochs: int):
  """The search's best point trained on the whole training split, all
  seeds, through the API (dlexp.fit: the runs land in the workdir like the
  grids', so a relaunch reuses them); returns (Trained, its grid)."""
  config = copy.deepcopy(base)
  for path, value in overrides.items():
    config_lib.set_value(config, path, value)
  config.epochs = epochs
  config.early_stopping.restore_best = False
  trained = dlexp.fit(config, workdir=session.workdir, out=False)
  dirs = {os.path.realpath(d) for d in trained.directories}
  runs = [r for r in report.load_runs(session.workdir)
          if os.path.realpath(r.directory) in dirs]
  results = [dict(r, trial='run') for r in trained.results]
  return trained, ablation.Grid(config, results, runs, {'run': runs},
                                ['run'])


def _workflow(trained, workdir: str) -> Dict[str, List[float]]:
  """Groups 1-3, 7-8 on a refit model, per seed: evaluate, predict raw
  images, save, load, predict again, fit two more epochs."""
  raw, labels = _raw_test_images(trained.config)
  path = trained.save(os.path.join(workdir, 'saved_model'))
  again = dlexp.load(path)
  more = again.fit(epochs=2, workdir=os.path.join(workdir, 'continued'),
                   out=False)
  out = {h: [] for h, _ in API_COLUMNS}
  for seed in trained.seeds:
    probs = trained.predict(raw, seed=seed)
    out[DP].append(float(np.max(np.abs(again.predict(raw, seed=seed)
                                       - probs))))
    out[API_EVALUATE].append(trained.evaluate('test', seed=seed)['accuracy'])
    out[API_RAW].append(float(np.mean(probs.argmax(-1) == labels)))
    out[API_MORE].append(more.evaluate('test', seed=seed)['accuracy'])
  return out


def _api_evidence(seeds: List[int], values: Dict[str, List[float]]
                  ) -> claims.Evidence:
  """The API table as evidence: one trial, its seeds' values."""
  n = len(seeds)
  return claims.Evidence({API: dict(
      overrides={}, seeds=list(seeds), status=['done'] * n,
      collapsed=[False] * n, restored=[False] * n,
      columns={h: [float(v) for v in values[h]] for h, _ in API_COLUMNS})})


def _api_table(seeds: List[int], values: Dict[str, List[float]]) -> str:
  return tables.markdown(
      ['trial', 'seeds'] + [h for h, _ in API_COLUMNS],
      [[API, len(seeds)] + [report.mean_std(values[h], fmt)
                            for h, fmt in API_COLUMNS]])


def _raw_test_images(config):
  """The task's test images as stored (uint8), as a user would pass them,
  and their labels."""
  raw_cfg = copy.deepcopy(config.data)
  raw_cfg.standardize = False
  ds = data_lib.load(raw_cfg)
  return np.round(ds.test_x * 255).astype(np.uint8), ds.test_y


_OPTIONS = ('classes', 'widths', 'lrs', 'l2s', 'dropouts', 'samples',
            'folds', 'search_epochs', 'l2_sweep')


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, classes: Optional[Sequence] = None,
        widths: Optional[Sequence] = None, lrs: Optional[Sequence] = None,
        l2s: Optional[Sequence] = None, dropouts: Optional[Sequence] = None,
        samples: Optional[int] = None, folds: Optional[int] = None,
        search_epochs: Optional[int] = None,
        l2_sweep: Optional[Sequence] = None,
        session=None) -> ablation.Result:
  """Runs the workflow (regularizers, early stopping, both searches, the
  refits, the API) and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', classes=[5, 7],
  folds=5)`; the command line's flags give the same arguments. `classes`
  and config.data.classes given both is an error."""
  session, base = SCRIPT.start(config, workdir, size, session)
  args = dict(classes=classes, widths=widths, lrs=lrs, l2s=l2s,
              dropouts=dropouts, samples=samples, folds=folds,
              search_epochs=search_epochs, l2_sweep=l2_sweep)
  opts = {k: SCRIPT.axis(k, session.size) if args[k] is None else args[k]
          for k in _OPTIONS}
  classes = tuple(cli.list_flag(opts['classes'], int, 'classes'))
  if 'data.classes' in session.given:
    if args['classes'] is not None:
      raise ConfigError('--classes and --config.data.classes both given; '
                        'give one')
    classes = tuple(base.data.classes)
  if len(classes) != 2:
    raise ConfigError(f'--classes={",".join(map(str, classes))} must name '
                      'two classes')
  base.data.classes = classes
  if opts['folds'] < 2 or opts['samples'] < 1 or opts['search_epochs'] < 1:
    raise ConfigError('--folds must be >= 2, --samples and --search_epochs '
                      '>= 1')
  axes = _grid_axes(opts)  # a bad value is an error before any training
  if min(cli.list_flag(opts['l2_sweep'], float, 'l2_sweep')) <= 0:
    raise ConfigError(f'--l2_sweep={",".join(map(str, opts["l2_sweep"]))}: '
                      'strengths must be > 0 (the arm is L2 at a strength)')
  combined, searches, refits = _train(session, base, axes, opts)
  return _conclude(session, base, opts, combined, searches, refits)


def _train(session, base, axes, opts):
  """Group 5-6's runs, the two searches and the refits: (their grids as
  one, (grid search, random search), {label: Trained})."""
  hooks = [analysis.clean_train_accuracy_hook()]
  plain = copy.deepcopy(base)
  plain.early_stopping.restore_best = False
  arms = regularization(opts['l2_sweep'])
  parts = [('', ablation.run_grid(
      session, {'regularizer': [{'reg.l2': l2, 'model.dropout_rate': rate}
                                for _, l2, rate in arms]},
      plain, final_hooks=hooks))]
  names = {f'l2={l2:g},dropout_rate={d:g}': n for n, l2, d in arms}
  stop = copy.deepcopy(base)
  stop.early_stopping.patience = 3
  parts.append(('EarlyStopping(patience=3)',
                ablation.run_grid(session, {}, stop, final_hooks=hooks)))
  folds, epochs = opts['folds'], opts['search_epochs']
  grid = _search(session, base, axes, folds, epochs)
  points = _random_points(axes, opts['samples'], base.seed)
  rand = _search(session, base, {'point': [dict(zip(SEARCH, p))
                                           for p in points]}, folds, epochs)
  grid_best, rand_best = _best(grid), _best(rand)
  parts += [(f'grid best (CV): {grid_best}', _subset(grid, grid_best)),
            (f'random best (CV): {rand_best}', _subset(rand, rand_best))]
  refits = {}
  for label, overrides in (
      ('grid best', grid.groups[grid_best][0].config['overrides']),
      ('random best', rand.groups[rand_best][0].config['overrides']),
      ('default', {})):
    refits[label], refit_grid = _refit(session, base, overrides, epochs)
    parts.append((f'{label} refit', refit_grid))
  parts.append((RANDOM, _random_refits(session, base, axes, epochs)))
  return _rename(ablation.combine(parts), names), (grid, rand), refits


def _random_refits(session, base, axes, epochs: int) -> ablation.Grid:
  """004 K9's untuned arm: one random point of the search space per seed
  (drawn as the random search draws, from its own stream), each trained on
  the whole training split with its own seed (the judged seeds'), so the
  evidence has one value per seed; one trial whose runs are the points."""
  points = _random_points(axes, base.num_seeds, base.seed + 1)
  results, runs = [], []
  for i, point in enumerate(points):
    config = copy.deepcopy(base)
    config.seed, config.num_seeds, config.epochs = base.seed + i, 1, epochs
    config.early_stopping.restore_best = False
    grid = ablation.run_grid(session, {'point': [dict(zip(SEARCH, point))]},
                             config)
    results += [dict(r, trial='run') for r in grid.results]
    runs += [r for t in grid.trials for r in grid.groups[t]]
  return ablation.Grid(base, results, runs, {'run': runs}, ['run'])


def _conclude(session, base, opts, combined, searches, refits
              ) -> ablation.Result:
  """The API on the grid's refit, the tables and the verdicts."""
  grid, rand = searches
  api = _workflow(refits['grid best'], os.path.join(session.workdir, 'api'))
  text = combined.table(COLUMNS)
  seeds = refits['grid best'].seeds
  folds = opts['folds']
  text += (f'\n\nGrid search ({len(grid.trials)} points x {folds} '
           f'folds), top 5 by CV accuracy:\n\n{_top(grid)}\n\nRandom search '
           f'({len(rand.trials)} points x {folds} folds), top 5:\n\n'
           f'{_top(rand)}\n\nThe API on the grid\'s refit (evaluate; predict '
           'on raw uint8 test images; save, load, predict again; fit 2 more '
           f'epochs):\n\n{_api_table(seeds, api)}')
  title = 'Keras workflow through dlexp (binary task)'
  line = (f'{base.data.name} classes {tuple(base.data.classes)}, '
          f'Dense({base.model.hidden[0]}, relu) -> Dense(1, sigmoid), '
          f'{base.epochs} epochs (searches and refits '
          f'{opts["search_epochs"]}), seeds {base.seed}..'
          f'{base.seed + base.num_seeds - 1} (mean ± std over seeds; CV rows '
          'over folds)')
  evidence = claims.PartEvidence({
      'runs': combined.evidence(COLUMNS),
      'API': _api_evidence(seeds, api)})
  return ablation.conclude(session, combined, title, line, text, CLAIMS,
                           plots=(), evidence=evidence)


def main(_):
  # --classes given or not decides whether --config.data.classes may stand
  run(cli.resolved_config(),
      classes=_CLASSES.value if _CLASSES.present else None,
      widths=_WIDTHS.value, lrs=_LRS.value, l2s=_L2S.value,
      dropouts=_DROPOUTS.value, samples=_SAMPLES.value, folds=_FOLDS.value,
      search_epochs=_SEARCH_EPOCHS.value, l2_sweep=_L2_SWEEP.value,
      session=cli.session())


def _subset(grid: ablation.Grid, trial: str) -> ablation.Grid:
  """The grid reduced to one trial (its runs: the folds), named 'run'."""
  runs = grid.groups[trial]
  dirs = {r.directory for r in runs}
  return ablation.Grid(grid.config, [dict(r, trial='run')
                                     for r in grid.results
                                     if r['directory'] in dirs], runs,
                       {'run': runs}, ['run'])


def _rename(grid: ablation.Grid, names) -> ablation.Grid:
  rename = lambda t: names.get(t, t)
  return ablation.Grid(grid.config, [dict(r, trial=rename(r['trial']))
                                     for r in grid.results], grid.runs,
                       {rename(t): g for t, g in grid.groups.items()},
                       [rename(t) for t in grid.trials])


if __name__ == '__main__':
  cli.run_main(main)
