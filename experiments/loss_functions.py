r"""Which loss for which task: cross-entropy or MSE/MAE for classes, weighted
or focal losses for imbalanced classes, MSE, MAE or Huber for regression
with outliers?

The notes (seed 001, question 9) say to use cross-entropy for
classification, MSE for regression "especially when the goal is to minimize
large errors", that "MAE is less sensitive to outliers than MSE", and that
"for imbalanced datasets, using focal loss or weighted cross-entropy can be
effective". This runs four parts, several seeds each:

1. balanced classes: an MLP (one hidden layer of 256 ReLU units, Adam) on
   Fashion-MNIST with cross-entropy, and with MSE and MAE of the raw outputs
   against one-hot targets. Columns: test acc; ECE, the expected
   calibration error of the test predictions (15 equal-width confidence
   bins; the probabilities are the softmax for cross-entropy, the outputs
   clipped to [0, 1] and renormalized for MSE/MAE, whose minimizer is the
   class probability itself); confidence, the mean top probability.
2. imbalanced classes: the same with --minority_classes kept at 1 in
   --ratio of their training examples (validation and test stay balanced),
   trained with cross-entropy, class-weighted cross-entropy (weights
   N / (K n_c) from the nominal class sizes, scikit-learn's 'balanced') and
   focal loss (gamma 2). Columns: test acc, balanced acc (mean recall over
   the classes), minority / majority recall (mean recall over the
   subsampled classes / the others).
3. regression, clean: the diabetes data (442 patients, 10 variables,
   disease progression a year later; scikit-learn's copy, target in units
   of its standard deviation, 77.0) with an MLP (64-64, ReLU, Adam) trained
   with MSE, MAE and Huber (delta 1). Columns: test MAE and test MSE (std
   units; x77.0 and x77.0^2 for the original units).
4. regression, outliers: the same with --outliers of the TRAINING targets
   shifted up by --outlier_scale standard deviations; validation (the best
   epoch) and test are clean.

  python experiments/loss_functions.py                    # defaults below
  python experiments/loss_functions.py --minority_classes=0,1 --ratio=20
  python experiments/loss_functions.py --outliers=0.2 --outlier_scale=5 \
      --regression_epochs=300

From Python: `run(size='smoke')`, or `run(config, workdir, ratio=20)`.

The claims (seeds as n, 5 by default; Welch tests with the margins stated
in the script, each checked in its regime first). Every claim is judged
only where the arms it compares converged: each arm's best validation
epoch at least 2 epochs before its last (mean over seeds; columns best
epoch and epochs run). A best epoch at the last epoch means the arm was
still improving, and a comparison there is one at a fixed budget, not of
the losses (at 8 epochs, the earlier default, the MSE and MAE arms of the
balanced part ended at their best: 'regime not reached'; the default is
now 40 epochs, --full's 60):

- "Classification: Use cross-entropy loss": cross-entropy's test accuracy
  above MSE's and MAE's (both must hold), where cross-entropy learns and
  all three converged;
- "For imbalanced datasets, using focal loss or weighted cross-entropy can
  be effective": balanced accuracy (mean recall over the classes) above
  plain cross-entropy's for either loss (an existence claim), where the
  imbalance does hurt the minority classes (their recall 0.1 below the
  others'); minority recall beside it;
- "Mean Squared Error (MSE): ... Used For: Regression problems, especially
  when the goal is to minimize large errors": trained with MSE, the test MSE
  (which large errors dominate) is below MAE-trained's;
- "MAE is less sensitive to outliers than MSE": per seed, the rise of the
  test MAE from clean to outlier training targets is smaller for MAE.

--epochs and --seeds apply to the classification parts;
--regression_epochs to the regression parts (a few hundred patients take
many cheap epochs). Settings a part fixes (the loss, the imbalance, the
outliers, and for regression the dataset, model and batch size) are
errors when given as flags (--dataset, --model) or --config values: use
the flags above. The Fashion-MNIST test set is balanced, so
there balanced accuracy equals accuracy; the recalls tell the classes
apart.
"""
import math
from typing import Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report

SCRIPT = cli.define_flags(
    'loss_functions', model='mlp', epochs=40, seeds=5,
    config={'model.hidden': (256,), 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'diagnostics.every_epochs': 0,
            'data.train_limit': 12000},
    smoke={'epochs': 2, 'seeds': 2, 'regression_epochs': 8,
           'class_losses': ['cross_entropy', 'mse'],
           'regression_losses': ['mse', 'mae'],
           'config.model.hidden': (64,), 'config.data.train_limit': 2048,
           'config.data.test_limit': 1000},
    full={'epochs': 60, 'seeds': 5, 'regression_epochs': 500,
          'config.data.train_limit': 0})
_MINORITY = SCRIPT.list_flag('minority_classes', ['2', '4', '6'],
                             'Classes subsampled in the imbalanced part.')
_RATIO = SCRIPT.flag('float', 'ratio', 50.0, 'The minority classes keep 1 in '
                     'this many training examples.')
_OUTLIERS = SCRIPT.flag('float', 'outliers', 0.1, 'Fraction of regression '
                        'training targets made outliers.')
_OUTLIER_SCALE = SCRIPT.flag('float', 'outlier_scale', 10.0, 'Outliers are '
                             'shifted up by this many target stds.')
_REG_EPOCHS = SCRIPT.flag('integer', 'regression_epochs', 150,
                          'Epochs of the regression parts.')
_CLASS_LOSSES = SCRIPT.list_flag(
    'class_losses', ['cross_entropy', 'mse', 'mae'],
    'Losses of the balanced classification part (config.loss.name).')
_REG_LOSSES = SCRIPT.list_flag(
    'regression_losses', ['mse', 'mae', 'huber'],
    'Losses of the regression parts (config.loss.name).')

_CLASSES, _IMBALANCED = 'balanced classes', 'imbalanced classes'
_CLEAN, _NOISY = 'regression, clean targets', 'regression, training outliers'

# Epochs trained, beside the best (validation) epoch: a run whose best
# epoch is its last was still improving (the convergence preconditions).
EPOCHS_RUN = report.final('epochs_run', 'epochs run', '.1f')
BEST, RAN = report.default_column('best epoch').header, EPOCHS_RUN.header

CLASS_COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    report.final('ece', 'ECE'),
    report.final('confidence', 'confidence'),
    report.default_column('best epoch'), EPOCHS_RUN,
    report.default_column('wall s'))
IMBALANCE_COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    report.final('balanced_accuracy', 'balanced acc'),
    report.final('minority_recall', 'minority recall'),
    report.final('majority_recall', 'majority recall'),
    report.final('ece', 'ECE'),
    report.default_column('best epoch'), EPOCHS_RUN,
    report.default_column('wall s'))
REGRESSION_COLUMNS = (
    report.final('test_mae', 'test MAE'),
    report.final('test_mse', 'test MSE'),
    report.final('val_loss', 'val loss'),
    report.default_column('best epoch'), EPOCHS_RUN,
    report.default_column('wall s'))


def balanced_weights(num_classes: int, minority, ratio: float):
  """N / (K n_c) for nominal class sizes n (majority) and n / ratio."""
  sizes = [1.0 / ratio if c in minority else 1.0 for c in range(num_classes)]
  total = sum(sizes)
  return tuple(round(total / (num_classes * n), 4) for n in sizes)


# The script's own settings (its flags): run()'s keywords.
OPTIONS = ('minority_classes', 'ratio', 'outliers', 'outlier_scale',
           'regression_epochs', 'class_losses', 'regression_losses')


def parts(minority_classes: Sequence, ratio: float, outliers: float,
          outlier_scale: float, regression_epochs: int,
          class_losses: Sequence[str], regression_losses: Sequence[str]):
  """The four sweeps, from the script's settings (OPTIONS)."""
  minority = tuple(cli.list_flag(minority_classes, int, 'minority_classes'))
  weights = balanced_weights(10, minority, ratio)
  imbalance = {'data.imbalance_classes': minority,
               'data.imbalance_ratio': ratio}
  regression = {'data.name': 'diabetes', 'model.name': 'mlp',
                'model.hidden': (64, 64), 'batch_size': 32,
                'checkpoint.every_epochs': 50}
  epochs = {'epochs': regression_epochs}  # --epochs: classification only
  losses = {'loss.name': regression_losses}
  return [
      ablation.Part(_CLASSES, {'loss.name': class_losses},
               CLASS_COLUMNS, final_hooks=[analysis.calibration_hook()]),
      ablation.Part(_IMBALANCED, [{'loss.name': ['cross_entropy', 'focal']},
                             {'loss.class_weights': [weights]}],
               IMBALANCE_COLUMNS, settings=imbalance,
               final_hooks=[analysis.class_recall_hook(minority),
                            analysis.calibration_hook()]),
      ablation.Part(_CLEAN, losses, REGRESSION_COLUMNS, settings=regression,
               flag_settings=epochs),
      ablation.Part(_NOISY, losses, REGRESSION_COLUMNS, settings=dict(
          regression, **{'data.target_outliers': outliers,
                         'data.target_outlier_scale': outlier_scale}),
               flag_settings=epochs),
  ]


# -- claims --------------------------------------------------------------------
CHANCE = 0.1  # Fashion-MNIST's 10 classes
ACC_MARGIN = 0.005  # accuracy: half a point, the smallest difference that
# would change the choice of a loss
MSE_MARGIN = 0.01  # test MSE in target-variance units: 1% of the variance
# of the targets, the smallest difference worth a choice of loss
MAE_MARGIN = 0.01  # test MAE in target-std units: 1% of a standard
# deviation (0.8 of the original units)
LEARNED_MSE = 0.9  # test MSE below this (1 = predicting the mean): the
# regression learned something
SETTLED_EPOCHS = 2  # converged: the best validation epoch at least this many
# epochs before the last (mean over seeds), so that a longer run would not
# move the arm's best epoch; a best epoch at the last means still improving


def _arm(ev: claims.Evidence, loss: str, column, label: str = ''
         ) -> claims.Sample:
  return ev.sample(ev.trial(name=loss), column, label or loss)


def _cross_entropy(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_CLASSES)
  others = [n for n in ('mse', 'mae', 'huber') if ev.find(name=n)]
  if not others:
    raise claims.MissingTrial('no regression loss in --class_losses')
  ce = _arm(ev, 'cross_entropy', 'test acc', 'cross-entropy')
  verdict = claims.across([(f'against {other}', claims.greater(
      ce, _arm(ev, other, 'test acc'), ACC_MARGIN, 'test accuracy'))
                           for other in others], 'all')
  ece = ', '.join(_arm(ev, n, 'ECE').describe()
                  for n in ['cross_entropy'] + others)
  return verdict.with_note(f'ECE {ece}')


def _imbalance(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_IMBALANCED)
  plain = ev.sample(ev.trial(name='cross_entropy'), 'balanced acc',
                    'cross-entropy')
  weighted = next((t for t in ev.trials if t.startswith('class_weights=')),
                  None)
  if weighted is None:
    raise claims.MissingTrial('no class-weighted trial in this grid')
  verdict = claims.across([
      ('weighted cross-entropy', claims.greater(
          ev.sample(weighted, 'balanced acc', 'weighted cross-entropy'),
          plain, ACC_MARGIN, 'balanced accuracy')),
      ('focal loss', claims.greater(
          ev.sample(ev.trial(name='focal'), 'balanced acc', 'focal loss'),
          plain, ACC_MARGIN, 'balanced accuracy'))], 'any')
  recall = lambda t, name: ev.sample(t, 'minority recall', name).describe()
  return verdict.with_note(
      'minority recall ' + ', '.join(
          recall(t, n) for t, n in ((ev.trial(name='cross_entropy'),
                                     'cross-entropy'),
                                    (weighted, 'weighted'),
                                    (ev.trial(name='focal'), 'focal'))))


def _imbalance_hurts(pev: claims.PartEvidence) -> np.ndarray:
  """Per seed of plain cross-entropy: majority minus minority recall."""
  ev = pev.part(_IMBALANCED)
  t = ev.trial(name='cross_entropy')
  return np.array([a - b for a, b in zip(ev.column(t, 'majority recall'),
                                         ev.column(t, 'minority recall'))
                   if a is not None and b is not None], np.float64)


def _mse_for_large_errors(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_CLEAN)
  return claims.less(_arm(ev, 'mse', 'test MSE', 'trained with MSE'),
                     _arm(ev, 'mae', 'test MSE', 'trained with MAE'),
                     MSE_MARGIN, 'test MSE (clean targets)')


def _degradation(pev: claims.PartEvidence, loss: str) -> claims.Sample:
  """Per seed: test MAE with outliers in the training targets minus
  without (the same seed: initialization and data order)."""
  noisy, clean = pev.part(_NOISY), pev.part(_CLEAN)
  a = noisy.column(noisy.trial(name=loss), 'test MAE')
  b = clean.column(clean.trial(name=loss), 'test MAE')
  kept = [x - y for x, y in zip(a, b) if x is not None and y is not None
          and math.isfinite(x) and math.isfinite(y)]
  return claims.Sample(np.array(kept, np.float64),
                       f'{loss.upper()} (outliers minus clean)', len(a),
                       len(a) - len(kept))


def _mae_robust(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.less(_degradation(pev, 'mae'), _degradation(pev, 'mse'),
                     MAE_MARGIN, 'rise of the test MAE with outliers in '
                     'the training targets')


def _settled(ev: claims.Evidence, trial: str) -> np.ndarray:
  """Per seed: epochs run minus the best epoch."""
  return np.array([r - b for r, b in zip(ev.column(trial, RAN),
                                         ev.column(trial, BEST))
                   if r is not None and b is not None], np.float64)


def _converged(part: str, arms, what: str) -> claims.Requirement:
  """Every arm compared converged: the least settled arm's mean (over
  seeds) of epochs run minus best epoch is at least SETTLED_EPOCHS.
  `arms(ev)` gives the arms' trial names in the part's evidence."""
  def least(pev):
    ev = pev.part(part)
    gaps = [_settled(ev, t) for t in arms(ev)]
    means = [g.mean() if g.size else -math.inf for g in gaps]
    return gaps[int(np.argmin(means))]
  return claims.requires(
      f'{what} converged in the {part} part (the least settled arm: epochs '
      'run minus best epoch, a best epoch at the last is still improving)',
      least, '>=', SETTLED_EPOCHS)


def _losses(*names):
  """The trials of these losses (MissingTrial if one is not in the grid)."""
  return lambda ev: [ev.trial(name=n) for n in names]


def _class_arms(ev: claims.Evidence):
  """Cross-entropy and the regression losses it is compared with (as
  _cross_entropy compares them)."""
  others = [t for t in (ev.find(name=n) for n in ('mse', 'mae', 'huber'))
            if t]
  if not others:
    raise claims.MissingTrial('no regression loss in --class_losses')
  return [ev.trial(name='cross_entropy')] + others


def _imbalance_arms(ev: claims.Evidence):
  weighted = [t for t in ev.trials if t.startswith('class_weights=')]
  if not weighted:
    raise claims.MissingTrial('no class-weighted trial in this grid')
  return _losses('cross_entropy', 'focal')(ev) + weighted[:1]


def _learned(part: str, loss: str) -> claims.Requirement:
  return claims.requires(
      f'{loss.upper()} learns the {part} task (test MSE; 1 = predicting the '
      'mean)', lambda pev: _arm(pev.part(part), loss, 'test MSE'), '<=',
      LEARNED_MSE)


CLAIMS = (
    claims.Claim(
        '001 Q9', 'Classification: Use cross-entropy loss',
        tested_as='test accuracy of an MLP (256 ReLU units, Adam) on '
        'Fashion-MNIST trained with cross-entropy, against the same trained '
        'with MSE and with MAE on one-hot targets (margin '
        f'{ACC_MARGIN}; both must hold), where every arm converged (best '
        f'epoch at least {SETTLED_EPOCHS} before the last); ECE beside it',
        rule=_cross_entropy,
        regime=(claims.requires(
            'cross-entropy trains above chance (test acc)',
            lambda pev: _arm(pev.part(_CLASSES), 'cross_entropy',
                             'test acc'), '>=', CHANCE + 0.3),
                _converged(_CLASSES, _class_arms, 'every loss compared'))),
    claims.Claim(
        '001 Q9', 'For imbalanced datasets, using focal loss or weighted '
        'cross-entropy can be effective',
        tested_as='balanced accuracy on balanced test data after training '
        'on Fashion-MNIST with some classes subsampled (by default 3 '
        'classes kept at 1 in 50): weighted '
        'cross-entropy or focal loss (gamma 2) above plain cross-entropy '
        f'(margin {ACC_MARGIN}, Holm over the two); an existence claim '
        '("can be effective"); minority recall beside it',
        rule=_imbalance, existence=True,
        regime=(claims.requires(
            'the imbalance hurts the minority classes under plain '
            'cross-entropy (majority minus minority recall)',
            _imbalance_hurts, '>=', 0.1),
                _converged(_IMBALANCED, _imbalance_arms,
                           'plain, weighted cross-entropy and focal loss'))),
    claims.Claim(
        '001 Q9', 'Mean Squared Error (MSE): ... Used For: Regression '
        'problems, especially when the goal is to minimize large errors',
        tested_as='test MSE (the mean of squared errors, which large errors '
        'dominate) of an MLP (64-64) on the diabetes data, clean targets, '
        'trained with MSE against trained with MAE (margin '
        f'{MSE_MARGIN} target variances)',
        rule=_mse_for_large_errors,
        regime=(_learned(_CLEAN, 'mse'), _learned(_CLEAN, 'mae'),
                _converged(_CLEAN, _losses('mse', 'mae'), 'MSE and MAE'))),
    claims.Claim(
        '001 Q9', 'MAE is less sensitive to outliers than MSE',
        tested_as='per seed, how much the test MAE rises when some of the '
        'diabetes training targets are made outliers (by default 10%, '
        'shifted up by 10 standard deviations; validation and test clean), '
        'training with MAE against training '
        f'with MSE (margin {MAE_MARGIN} target stds)',
        rule=_mae_robust,
        regime=(_learned(_CLEAN, 'mse'), _learned(_CLEAN, 'mae'),
                _converged(_CLEAN, _losses('mse', 'mae'), 'MSE and MAE'),
                _converged(_NOISY, _losses('mse', 'mae'), 'MSE and MAE'))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, minority_classes: Optional[Sequence] = None,
        ratio: Optional[float] = None, outliers: Optional[float] = None,
        outlier_scale: Optional[float] = None,
        regression_epochs: Optional[int] = None,
        class_losses: Optional[Sequence[str]] = None,
        regression_losses: Optional[Sequence[str]] = None,
        session=None) -> ablation.Result:
  """Trains the four sweeps and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', ratio=20,
  regression_epochs=300)`; the command line's flags give the same
  arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  args = dict(minority_classes=minority_classes, ratio=ratio,
              outliers=outliers, outlier_scale=outlier_scale,
              regression_epochs=regression_epochs, class_losses=class_losses,
              regression_losses=regression_losses)
  settings = {k: SCRIPT.axis(k, session.size) if args[k] is None else args[k]
              for k in OPTIONS}
  return ablation.run_parts(session, parts(**settings), config,
                            title='Loss functions', claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), minority_classes=_MINORITY.value,
      ratio=_RATIO.value, outliers=_OUTLIERS.value,
      outlier_scale=_OUTLIER_SCALE.value,
      regression_epochs=_REG_EPOCHS.value, class_losses=_CLASS_LOSSES.value,
      regression_losses=_REG_LOSSES.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
