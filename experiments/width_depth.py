r"""How many layers and units? Depth x width chosen by k-fold cross-validation.

Seed 001, question 7 ("How do you determine the number of layers and neurons
for a neural network?") answers: task complexity ("for simple tasks, a
shallow network might suffice, but more complex tasks require deeper
networks"), trial and error, and "Cross-validation: use cross-validation to
tune hyperparameters and select an optimal network size". This does exactly
that on Fashion-MNIST: every depth x width cell of an MLP is trained on k
folds of a 10,000-example training subset (k = 5, 3 seeds: 15 runs per
cell, members of one compiled program per cell), scored by its mean
held-out-fold accuracy,
and the chosen cell is retrained on the whole training split and evaluated
once on the test set. Columns of the cross-validation table:

- cv acc: accuracy on the held-out fold (mean ± std over seeds x folds);
- fold-model test acc: the same fold models on the test set (what a cell
  really achieves; CV is judged by whether it picks the cell that is best
  here);
- params: trainable parameters;
- best epoch: epoch of the lowest held-out loss (restored).

  python experiments/width_depth.py                       # defaults below
  python experiments/width_depth.py --depths=1,2,4,8 --widths=32,128,512 \
      --config.data.cv_folds=10
"""
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_DEPTHS = flags.DEFINE_list('depths', ['1', '2', '4'],
                            'Hidden layers (config.model.depth).')
_WIDTHS = flags.DEFINE_list('widths', ['32', '128', '512'],
                            'Units per hidden layer (config.model.width).')

cli.define_flags(
    'width_depth', model='mlp', epochs=6, seeds=3,
    config={'data.train_limit': 10000, 'data.cv_folds': 5},
    smoke={'epochs': 1, 'depths': ['1', '2'], 'widths': ['16'],
           'seeds': 2, 'config.data.train_limit': 1500,
           'config.data.test_limit': 1000, 'config.data.cv_folds': 3},
    full={'epochs': 30, 'seeds': 3, 'depths': ['1', '2', '3', '4', '6', '8'],
          'widths': ['32', '64', '128', '256', '512', '1024'],
          'config.data.train_limit': 0, 'config.data.cv_folds': 5})

CV_COLUMNS = (
    report.final('val_accuracy', 'cv acc'),
    report.final('test_accuracy', 'fold-model test acc'),
    report.Column('params', lambda r: r.final('params'), ',.0f', spread=False),
    report.DEFAULT_COLUMNS[2],
    report.DEFAULT_COLUMNS[3],
)
REFIT_COLUMNS = (report.final('test_accuracy', 'test acc'),
                 report.DEFAULT_COLUMNS[2], report.DEFAULT_COLUMNS[3])


class Evidence:
  """Both grids, for the claim rules."""

  def __init__(self, cv, refit, chosen):
    self.cv, self.refit, self.chosen = cv, refit, chosen


def _cv_mean(ev: claims.Evidence, trial: str) -> float:
  return float(ev.values(trial, 'val_accuracy').mean())


def _choose(cv: claims.Evidence) -> str:
  return max(cv.trials, key=lambda t: _cv_mean(cv, t))


def _cv_picks_the_best(ev: Evidence) -> claims.Verdict:
  """CV 'selects an optimal size' when its pick is not significantly worse on
  the test set than the cell that is best there."""
  best = max(ev.cv.trials,
             key=lambda t: ev.cv.values(t, 'test_accuracy').mean())
  picked = ev.cv.values(ev.chosen, 'test_accuracy')
  verdict = claims.compare(ev.cv.values(best, 'test_accuracy'), picked,
                           'fold-model test accuracy', best, ev.chosen)
  if best == ev.chosen or verdict.verdict != claims.SUPPORTED:
    return claims.Verdict(claims.SUPPORTED, f'CV picked {ev.chosen}; '
                          f'best on test: {best}. {verdict.evidence}')
  return claims.Verdict(claims.CONTRADICTED, f'CV picked {ev.chosen}, '
                        f'significantly worse on test than {best}. '
                        f'{verdict.evidence}')


def _deeper_needed(ev: Evidence) -> claims.Verdict:
  """Fashion-MNIST as the 'complex task': does the deepest column beat the
  shallowest at the same width (the widest)?"""
  cells = [ev.cv.groups[t][0].config['config'] for t in ev.cv.trials]
  width = max(c['model.width'] for c in cells)
  depths = sorted({c['model.depth'] for c in cells})
  deep = ev.cv.trial(depth=depths[-1], width=width)
  shallow = ev.cv.trial(depth=depths[0], width=width)
  return claims.compare(ev.cv.values(deep, 'val_accuracy'),
                        ev.cv.values(shallow, 'val_accuracy'), 'cv accuracy',
                        deep, shallow)


CLAIMS = (
    claims.Claim('001 Q7', 'Use cross-validation to tune hyperparameters and '
                 'select an optimal network size', _cv_picks_the_best),
    claims.Claim('001 Q7', 'more complex tasks require deeper networks',
                 _deeper_needed),
)


def main(_):
  config = cli.resolved_config()
  if not config.data.cv_folds:
    raise ConfigError('width_depth selects by cross-validation: '
                      '--config.data.cv_folds must be >= 2')
  axes = {'model.depth': cli.list_flag(_DEPTHS.value, int, 'depths'),
          'model.width': cli.list_flag(_WIDTHS.value, int, 'widths')}
  cv = cli.run_grid(axes, config, final_hooks=[analysis.param_count_hook],
                    axis_flags={'model.depth': 'depths',
                                'model.width': 'widths'})
  cv_table = cv.table(CV_COLUMNS)
  title, line = 'Depth and width by cross-validation', cli.run_line(cv.config)
  if cli.trial_shard()[1] > 1:
    # The choice needs every cell: a shard prints its part and refits none.
    cli.conclude(cv, title, line, cv_table, CLAIMS)
    return
  chosen = _choose(cv.evidence())
  cell = cv.groups[chosen][0].config['config']
  refit_config = config.copy_and_resolve_references()
  refit_config.data.cv_folds = 0
  refit_config.model.depth = cell['model.depth']
  refit_config.model.width = cell['model.width']
  refit = cli.run_grid({}, refit_config)
  refit_table = refit.table(REFIT_COLUMNS).replace('| run |',
                                                   f'| {chosen} (refit) |')
  cli.conclude(cli.combine([('cv', cv), ('refit', refit)]), title, line,
               f'{cv_table}\n\nChosen by cv acc: {chosen}; retrained on the '
               f'whole training split:\n\n{refit_table}', CLAIMS,
               evidence=Evidence(cv.evidence(), refit.evidence(), chosen))


if __name__ == '__main__':
  cli.run_main(main)
