r"""How many layers and units? Depth x width chosen by k-fold cross-validation.

Seed 001, question 7 ("How do you determine the number of layers and neurons
for a neural network?") answers: task complexity ("For simple tasks, a
shallow network might suffice, but more complex tasks require deeper
networks"), trial and error, and "Cross-validation: Use cross-validation to
tune hyperparameters and select an optimal network size". This does exactly
that on Fashion-MNIST: every depth x width cell of an MLP (SGD with momentum,
batch 64, 10 epochs, the best held-out epoch restored) is trained on k folds
of a 10,000-example training subset (k = 3, 5 seeds: 15 runs per cell,
members of one compiled program per cell), scored by its mean held-out-fold
accuracy, and the chosen cell is retrained on the whole training split and
evaluated once on the test set. Columns of the cross-validation table:

- cv acc: accuracy on the held-out fold (mean ± std over seeds x folds);
- fold-model test acc: the same fold models on the test set (what a cell
  really achieves);
- params: trainable parameters;
- best epoch: epoch of the lowest held-out loss (restored); epochs: trained.

The claims are decided with the seeds as n (a seed's value is the mean over
its folds: the folds share the seed's data, so they are not independent
runs). Cross-validation is judged by running the whole procedure once per
seed: the cell that seed's folds pick, scored by its fold models' test
accuracy, must beat a size picked at random (the seed's mean over the cells)
and be no worse than the size that the other seeds find best on test; only
where the sizes differ at all (best minus worst cell >= 0.01). "More complex
tasks require deeper networks" compares tasks: it needs a grid of tasks of
two complexities (a data.name axis, ranked MNIST < Fashion-MNIST < CIFAR-10 <
CIFAR-100), where depth must help on the more complex one (deepest against
shallowest net at the widest width) and help more there than on the simpler
one, only where training converged (the best held-out epoch before the
last). This script trains one task (--dataset), so that claim is
inconclusive here: one task's grid cannot say whether it is "complex".

  python experiments/width_depth.py                       # defaults below
  python experiments/width_depth.py --depths=1,2,4,8 --widths=32,128,512 \
      --config.data.cv_folds=10

From Python: `run(size='smoke')` (keywords as the flags above).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'width_depth', model='mlp', epochs=10, seeds=5,
    config={'data.train_limit': 10000, 'data.cv_folds': 3, 'batch_size': 64},
    smoke={'epochs': 1, 'depths': ['1', '2'], 'widths': ['16'],
           'seeds': 2, 'config.data.train_limit': 1500,
           'config.data.test_limit': 1000, 'config.data.cv_folds': 3},
    full={'epochs': 30, 'seeds': 5, 'depths': ['1', '2', '3', '4', '6', '8'],
          'widths': ['32', '64', '128', '256', '512', '1024'],
          'config.data.train_limit': 0, 'config.data.cv_folds': 5})
_DEPTHS = SCRIPT.list_flag('depths', ['1', '2', '4'],
                           'Hidden layers (config.model.depth).')
_WIDTHS = SCRIPT.list_flag('widths', ['32', '128', '512'],
                           'Units per hidden layer (config.model.width).')

CV = report.final('val_accuracy', 'cv acc')
FOLD_TEST = report.final('test_accuracy', 'fold-model test acc')
BEST = report.default_column('best epoch')
EPOCHS = report.Column('epochs', lambda r: r.final('epochs_run'), '.0f',
                       spread=False)
CV_COLUMNS = (
    CV, FOLD_TEST,
    report.Column('params', lambda r: r.final('params'), ',.0f', spread=False),
    BEST, EPOCHS, report.default_column('wall s'),
)
REFIT_COLUMNS = (report.final('test_accuracy', 'test acc'),
                 report.default_column('best epoch'),
                 report.default_column('wall s'))

CHANCE = 0.1  # Fashion-MNIST's 10 classes
MARGIN = 0.005  # test accuracy: half a point, the smallest difference
# between network sizes that would change the choice of one
SPREAD = 0.01  # the grid's cells must differ by this much in test accuracy
# for choosing among them to matter
# Task complexity, fixed before any run rather than measured: the same image
# size and 10 (100) classes, harder in this order (MLP test accuracies of
# about 98%, 89%, 55% and 25% in the literature; Fashion-MNIST was made as
# a harder drop-in for MNIST, Xiao et al. 2017). "More complex tasks"
# compares tasks of two ranks here.
COMPLEXITY = ('mnist', 'fashion_mnist', 'cifar10', 'cifar100')
TASK = 'data.name'  # the axis that would make a grid of tasks


def _cells(ev: claims.Evidence) -> List[str]:
  if not ev.trials:
    raise claims.MissingTrial('no cross-validation cells in this grid')
  return ev.trials


def _per_seed(ev: claims.Evidence, column) -> Dict[str, List[Optional[float]]]:
  """{cell: each seed's value} (a seed's value: its folds' mean)."""
  return {t: ev.column(t, column) for t in _cells(ev)}


def _ok(v) -> bool:
  return v is not None and math.isfinite(v)


def _cv_choice(ev: claims.Evidence
               ) -> Tuple[claims.Sample, claims.Sample, claims.Sample]:
  """Per seed, the whole procedure once: the cell with the best mean
  held-out-fold accuracy over that seed's folds, scored by that cell's fold
  models' test accuracy. Against it, for the same seed: a size picked at
  random (the expected test accuracy: the mean over the cells), and the
  size that is best on the test set by the OTHER seeds' mean (so that the
  seed's own test noise does not pick it)."""
  cv, test = _per_seed(ev, CV), _per_seed(ev, FOLD_TEST)
  seeds = len(next(iter(cv.values())))
  chosen, random_pick, best, picks = [], [], [], []
  for s in range(seeds):
    scored = [t for t in cv if _ok(cv[t][s]) and _ok(test[t][s])]
    if not scored:
      continue
    pick = max(scored, key=lambda t: cv[t][s])
    others = lambda t, s=s: np.mean([v for i, v in enumerate(test[t])
                                     if i != s and _ok(v)] or [-math.inf])
    picks.append(pick)
    chosen.append(test[pick][s])
    random_pick.append(float(np.mean([test[t][s] for t in scored])))
    best.append(test[max(scored, key=others)][s])
  count = {p: picks.count(p) for p in dict.fromkeys(picks)}
  name = 'CV\'s pick (' + ', '.join(f'{p} x{k}' for p, k in count.items()) + ')'
  missing = seeds - len(chosen)
  return (claims.Sample(np.array(chosen), name, seeds, missing),
          claims.Sample(np.array(random_pick), 'a size picked at random',
                        seeds, missing),
          claims.Sample(np.array(best), 'the size best on test (other '
                        'seeds)', seeds, missing))


def _cv_selects(pev: claims.PartEvidence) -> claims.Verdict:
  chosen, random_pick, best = _cv_choice(pev.part('cv'))
  return claims.across([
      ('better than a random size', claims.greater(
          chosen, random_pick, MARGIN, 'fold-model test accuracy')),
      ('as good as the best size', claims.not_worse(
          chosen, best, MARGIN, 'fold-model test accuracy'))], 'all')


def _choose(ev: claims.Evidence) -> str:
  """The cell to refit: the best mean held-out-fold accuracy over every
  seed and fold."""
  return max(_cells(ev), key=lambda t: np.mean(ev.sample(t, CV).values)
             if ev.sample(t, CV).values.size else -math.inf)


def _spread(pev: claims.PartEvidence) -> float:
  """Best minus worst cell, mean fold-model test accuracy over seeds."""
  ev = pev.part('cv')
  means = [ev.sample(t, FOLD_TEST).values.mean() for t in _cells(ev)
           if ev.sample(t, FOLD_TEST).values.size]
  return max(means) - min(means) if means else math.nan


def _task(ev: claims.Evidence, trial: str) -> Optional[str]:
  """The trial's task where the grid has a task axis (data.name), else
  None: the one task the script was run on."""
  return ev.table[trial].get('overrides', {}).get(TASK)


def _ranked_tasks(ev: claims.Evidence) -> List[str]:
  """The grid's tasks that have a complexity rank, least complex first."""
  tasks = {_task(ev, t) for t in _cells(ev)}
  return [name for name in COMPLEXITY if name in tasks]


def _two_tasks(pev: claims.PartEvidence) -> float:
  """How many task complexities the grid has: its ranked tasks, or 1
  without a task axis (the one task it was run on)."""
  ev = pev.part('cv')
  if {_task(ev, t) for t in _cells(ev)} == {None}:
    return 1.0
  return float(len(_ranked_tasks(ev)))


def _corner(ev: claims.Evidence, deep: bool, task: Optional[str] = None
            ) -> str:
  """The deepest (or shallowest) cell at the widest width (of `task`)."""
  cells = [t for t in _cells(ev) if task is None or _task(ev, t) == task]
  axes = {t: {k.split('.')[-1]: v for k, v in
              ev.table[t].get('overrides', {}).items()} for t in cells}
  width = max(a['width'] for a in axes.values())
  depths = sorted({a['depth'] for a in axes.values()})
  depth = depths[-1] if deep else depths[0]
  for t, a in axes.items():
    if a['depth'] == depth and a['width'] == width:
      return t
  raise claims.MissingTrial(f'no cell depth={depth}, width={width}')


def _corners(ev: claims.Evidence) -> List[str]:
  """The deepest and the shallowest widest cell of each ranked task (of
  the one task without a task axis)."""
  return [_corner(ev, deep, task) for task in (_ranked_tasks(ev) or [None])
          for deep in (True, False)]


def _depth_gain(ev: claims.Evidence, task: str, name: str) -> claims.Sample:
  """Per seed, at the widest width: the deepest cell's fold-model test
  accuracy minus the shallowest's (the same seed's folds: the same data)."""
  deep, shallow = _corner(ev, True, task), _corner(ev, False, task)
  if deep == shallow:
    raise claims.MissingTrial('needs two depths')
  pairs = [(d, s) for d, s in zip(ev.column(deep, FOLD_TEST),
                                  ev.column(shallow, FOLD_TEST))]
  gains = [d - s for d, s in pairs if _ok(d) and _ok(s)]
  return claims.Sample(np.array(gains, np.float64), name, len(pairs),
                       len(pairs) - len(gains))


def _deeper_needed(pev: claims.PartEvidence) -> claims.Verdict:
  """On the more complex task the deepest net beats the shallowest, and
  depth gains more there than on the simpler task: both must hold."""
  ev = pev.part('cv')
  tasks = _ranked_tasks(ev)
  if len(tasks) < 2:
    raise claims.MissingTrial('needs tasks of two complexities')
  simple, hard = tasks[0], tasks[-1]
  deep, shallow = _corner(ev, True, hard), _corner(ev, False, hard)
  if deep == shallow:
    raise claims.MissingTrial('needs two depths')
  return claims.across([
      (f'depth helps on {hard}', claims.greater(
          ev.sample(deep, FOLD_TEST), ev.sample(shallow, FOLD_TEST),
          MARGIN, f'fold-model test accuracy on {hard}')),
      (f'more than on {simple}', claims.greater(
          _depth_gain(ev, hard, hard), _depth_gain(ev, simple, simple),
          MARGIN, 'deepest minus shallowest fold-model test accuracy '
          'per seed, widest width'))], 'and')


def _converged(pev: claims.PartEvidence) -> np.ndarray:
  """Per seed of the deepest and the shallowest widest cell (of each task):
  epochs trained minus the best (restored) epoch; >= 1 where the held-out
  loss had stopped falling before the end."""
  ev = pev.part('cv')
  out = []
  for trial in _corners(ev):
    for best, ran in zip(ev.column(trial, BEST), ev.column(trial, EPOCHS)):
      if _ok(best) and _ok(ran):
        out.append(ran - best)
  return np.array(out)


def _trains(pev: claims.PartEvidence) -> np.ndarray:
  ev = pev.part('cv')
  return np.concatenate([ev.sample(t, FOLD_TEST).values
                         for t in _corners(ev)[::2]])


def _grid_line(config, depths: List[int], widths: List[int]) -> str:
  """ablation.run_line names the config's one MLP shape (the model
  default, 20x100), which no cell trains: name the grid's depths x
  widths."""
  shape = f'model mlp {config.model.depth}x{config.model.width}'
  return ablation.run_line(config).replace(
      shape, f'model mlp, depths {",".join(map(str, depths))} x widths '
      f'{",".join(map(str, widths))}', 1)


CLAIMS = (
    claims.Claim(
        '001 Q7', 'Use cross-validation to tune hyperparameters and select '
        'an optimal network size',
        tested_as='per seed (n = seeds; a seed\'s value is its folds\' '
        'mean), the depth x width cell with the best k-fold accuracy, '
        'scored by its fold models\' test accuracy: higher than a size '
        'picked at random (that seed\'s mean over the cells) and not worse '
        'than the size best on test by the other seeds, both with margin '
        f'{MARGIN}; MLPs on a 10,000-example Fashion-MNIST subset',
        rule=_cv_selects,
        regime=(claims.requires(
            'the sizes differ: best minus worst cell, mean fold-model test '
            'acc', _spread, '>=', SPREAD),)),
    claims.Claim(
        '001 Q7', 'more complex tasks require deeper networks',
        tested_as='a claim across tasks: on the more complex of two tasks '
        'in the grid (a data.name axis; complexity a fixed ranking, MNIST < '
        'Fashion-MNIST < CIFAR-10 < CIFAR-100, not measured), the deepest MLP '
        'against the shallowest at the widest width, AND depth\'s gain '
        '(deepest minus shallowest, per seed) there against its gain on the '
        f'simpler task, fold-model test accuracy, margin {MARGIN} each; this '
        'script trains one task (--dataset), and one task\'s grid cannot '
        'say whether that task is "complex" or how depth\'s benefit changes '
        'with complexity, so its regime is not reached (inconclusive)',
        rule=_deeper_needed,
        regime=(claims.requires(
            'the grid has tasks of two complexities (a data.name axis, e.g. '
            'MNIST and Fashion-MNIST): how many', _two_tasks, '>=', 2),
                claims.requires(
            'the deepest net learns (fold-model test acc)', _trains, '>=',
            CHANCE + 0.3),
                claims.requires(
            'training converged: the best held-out epoch is before the last '
            '(epochs minus best epoch, deepest and shallowest widest cells)',
            _converged, '>=', 1.0))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, depths: Optional[Sequence[int]] = None,
        widths: Optional[Sequence[int]] = None,
        session=None) -> ablation.Result:
  """Cross-validates every depth x width, refits the chosen size and
  decides the claims. From Python: `run(size='smoke')`, or `run(config,
  'runs/mine', depths=[1, 2], widths=[64])`; the keywords are the flags of
  those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if not config.data.cv_folds:
    raise ConfigError('width_depth selects by cross-validation: '
                      '--config.data.cv_folds must be >= 2')
  depths = SCRIPT.axis('depths', session.size) if depths is None else depths
  widths = SCRIPT.axis('widths', session.size) if widths is None else widths
  axes = {'model.depth': cli.list_flag(depths, int, 'depths'),
          'model.width': cli.list_flag(widths, int, 'widths')}
  cv = ablation.run_grid(session, axes, config,
                         final_hooks=[analysis.param_count_hook],
                         axis_flags={'model.depth': 'depths',
                                     'model.width': 'widths'})
  cv_table = cv.table(CV_COLUMNS)
  title = 'Depth and width by cross-validation'
  line = _grid_line(cv.config, axes['model.depth'], axes['model.width'])
  if session.shard[1] > 1:
    # The choice needs every cell: a shard prints its part and refits none.
    return ablation.conclude(session, cv, title, line, cv_table, CLAIMS)
  chosen = _choose(cv.evidence(CV_COLUMNS))
  cell = cv.groups[chosen][0].config['config']
  refit_config = config.copy_and_resolve_references()
  refit_config.data.cv_folds = 0
  refit_config.model.depth = cell['model.depth']
  refit_config.model.width = cell['model.width']
  refit = ablation.run_grid(session, {}, refit_config)
  refit_table = refit.table(REFIT_COLUMNS).replace('| run |',
                                                   f'| {chosen} (refit) |')
  evidence = claims.PartEvidence({'cv': cv.evidence(CV_COLUMNS),
                                  'refit': refit.evidence(REFIT_COLUMNS)})
  return ablation.conclude(
      session, ablation.combine([('cv', cv), ('refit', refit)]), title, line,
      f'{cv_table}\n\nChosen by cv acc: {chosen}; retrained on the whole '
      f'training split:\n\n{refit_table}', CLAIMS, evidence=evidence)


def main(_):
  run(cli.resolved_config(), depths=_DEPTHS.value, widths=_WIDTHS.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
