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

--epochs and --seeds apply to the classification parts;
--regression_epochs to the regression parts (a few hundred patients take
many cheap epochs). Settings a part fixes (the loss, the imbalance, the
outliers, and for regression the dataset, model and batch size) are
errors when given as flags (--dataset, --model) or --config values: use
the flags above. The Fashion-MNIST test set is balanced, so
there balanced accuracy equals accuracy; the recalls tell the classes
apart.
"""
from absl import flags

from dlexp import analysis, claims, cli, report

_MINORITY = flags.DEFINE_list('minority_classes', ['2', '4', '6'],
                              'Classes subsampled in the imbalanced part.')
_RATIO = flags.DEFINE_float('ratio', 50.0, 'The minority classes keep 1 in '
                            'this many training examples.')
_OUTLIERS = flags.DEFINE_float('outliers', 0.1, 'Fraction of regression '
                               'training targets made outliers.')
_OUTLIER_SCALE = flags.DEFINE_float('outlier_scale', 10.0, 'Outliers are '
                                    'shifted up by this many target stds.')
_REG_EPOCHS = flags.DEFINE_integer('regression_epochs', 150,
                                   'Epochs of the regression parts.')
_CLASS_LOSSES = flags.DEFINE_list(
    'class_losses', ['cross_entropy', 'mse', 'mae'],
    'Losses of the balanced classification part (config.loss.name).')
_REG_LOSSES = flags.DEFINE_list(
    'regression_losses', ['mse', 'mae', 'huber'],
    'Losses of the regression parts (config.loss.name).')

cli.define_flags(
    'loss_functions', model='mlp', epochs=8, seeds=3,
    config={'model.hidden': (256,), 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'diagnostics.every_epochs': 0,
            'data.train_limit': 12000},
    smoke={'epochs': 2, 'seeds': 2, 'regression_epochs': 8,
           'class_losses': ['cross_entropy', 'mse'],
           'regression_losses': ['mse', 'mae'],
           'config.model.hidden': (64,), 'config.data.train_limit': 2048,
           'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'regression_epochs': 500,
          'config.data.train_limit': 0})

_CLASSES, _IMBALANCED = 'balanced classes', 'imbalanced classes'
_CLEAN, _NOISY = 'regression, clean targets', 'regression, training outliers'

CLASS_COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    report.final('ece', 'ECE'),
    report.final('confidence', 'confidence'),
    report.DEFAULT_COLUMNS[2], report.DEFAULT_COLUMNS[3])
IMBALANCE_COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    report.final('balanced_accuracy', 'balanced acc'),
    report.final('minority_recall', 'minority recall'),
    report.final('majority_recall', 'majority recall'),
    report.final('ece', 'ECE'),
    report.DEFAULT_COLUMNS[2], report.DEFAULT_COLUMNS[3])
REGRESSION_COLUMNS = (
    report.final('test_mae', 'test MAE'),
    report.final('test_mse', 'test MSE'),
    report.final('val_loss', 'val loss'),
    report.DEFAULT_COLUMNS[2], report.DEFAULT_COLUMNS[3])


def balanced_weights(num_classes: int, minority, ratio: float):
  """N / (K n_c) for nominal class sizes n (majority) and n / ratio."""
  sizes = [1.0 / ratio if c in minority else 1.0 for c in range(num_classes)]
  total = sum(sizes)
  return tuple(round(total / (num_classes * n), 4) for n in sizes)


def parts():
  minority = tuple(cli.list_flag(_MINORITY.value, int, 'minority_classes'))
  weights = balanced_weights(10, minority, _RATIO.value)
  imbalance = {'data.imbalance_classes': minority,
               'data.imbalance_ratio': _RATIO.value}
  regression = {'data.name': 'diabetes', 'model.name': 'mlp',
                'model.hidden': (64, 64), 'batch_size': 32,
                'checkpoint.every_epochs': 50}
  epochs = {'epochs': _REG_EPOCHS.value}  # --epochs: classification only
  losses = {'loss.name': _REG_LOSSES.value}
  return [
      cli.Part(_CLASSES, {'loss.name': _CLASS_LOSSES.value},
               CLASS_COLUMNS, final_hooks=[analysis.calibration_hook()]),
      cli.Part(_IMBALANCED, [{'loss.name': ['cross_entropy', 'focal']},
                             {'loss.class_weights': [weights]}],
               IMBALANCE_COLUMNS, settings=imbalance,
               final_hooks=[analysis.class_recall_hook(minority),
                            analysis.calibration_hook()]),
      cli.Part(_CLEAN, losses, REGRESSION_COLUMNS, settings=regression,
               flag_settings=epochs),
      cli.Part(_NOISY, losses, REGRESSION_COLUMNS, settings=dict(
          regression, **{'data.target_outliers': _OUTLIERS.value,
                         'data.target_outlier_scale': _OUTLIER_SCALE.value}),
               flag_settings=epochs),
  ]


def _trial(ev: claims.Evidence, **overrides) -> str:
  trial = ev.trial(**overrides)
  if trial is None:
    raise KeyError(f'no trial with {overrides}')
  return trial


def _cross_entropy(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_CLASSES)
  acc = lambda name: ev.values(_trial(ev, name=name), 'test_accuracy')
  others = [n for n in ('mse', 'mae', 'huber') if ev.trial(name=n)]
  if not others:
    raise KeyError('no regression loss in --class_losses')
  vs = [claims.compare(acc('cross_entropy'), acc(other), 'test accuracy',
                       'cross-entropy', other) for other in others]
  ece = ', '.join(
      f'{claims.describe(ev.values(_trial(ev, name=n), "ece"))} ({n})'
      for n in ['cross_entropy'] + others)
  text = '; '.join(v.evidence for v in vs) + f'; ECE {ece}'

  verdicts = {v.verdict for v in vs}
  if verdicts == {claims.SUPPORTED}:
    return claims.Verdict(claims.SUPPORTED, text)
  if claims.CONTRADICTED in verdicts:
    return claims.Verdict(claims.CONTRADICTED, text)
  if claims.SUPPORTED in verdicts:
    return claims.Verdict(claims.DEPENDS, text + ' (better than one '
                          'regression loss only)')
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _imbalance(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_IMBALANCED)
  plain = _trial(ev, name='cross_entropy')
  weighted = next(t for t in ev.trials if t.startswith('class_weights='))
  focal = _trial(ev, name='focal')
  vs = [claims.compare(ev.values(t, 'minority_recall'),
                       ev.values(plain, 'minority_recall'),
                       'minority-class recall', name, 'cross-entropy')
        for name, t in (('weighted cross-entropy', weighted),
                        ('focal loss', focal))]
  bal = lambda t: claims.describe(ev.values(t, 'balanced_accuracy'))
  text = '; '.join(v.evidence for v in vs) + (
      f'; balanced accuracy {bal(plain)} (cross-entropy), {bal(weighted)} '
      f'(weighted), {bal(focal)} (focal)')
  verdicts = [v.verdict for v in vs]
  if all(v == claims.SUPPORTED for v in verdicts):
    return claims.Verdict(claims.SUPPORTED, text)
  if claims.SUPPORTED in verdicts:
    which = 'weighted cross-entropy' if verdicts[0] == claims.SUPPORTED else (
        'focal loss')
    return claims.Verdict(claims.DEPENDS, f'{text} (only {which} helps)')
  if all(v == claims.CONTRADICTED for v in verdicts):
    return claims.Verdict(claims.CONTRADICTED, text)
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _mse_for_large_errors(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_CLEAN)
  mse = lambda name: ev.values(_trial(ev, name=name), 'test_mse')
  return claims.compare(mse('mae'), mse('mse'), 'test MSE (clean targets)',
                        'training with MAE', 'training with MSE')


def _mae_robust(pev: claims.PartEvidence) -> claims.Verdict:
  ev, clean = pev.part(_NOISY), pev.part(_CLEAN)
  mae = lambda e, name: e.values(_trial(e, name=name), 'test_mae')
  verdict = claims.compare(mae(ev, 'mse'), mae(ev, 'mae'),
                           'test MAE with outliers in the training targets',
                           'MSE', 'MAE')
  text = (f'{verdict.evidence}; without outliers '
          f'{claims.describe(mae(clean, "mse"))} (MSE) vs '
          f'{claims.describe(mae(clean, "mae"))} (MAE)')
  if ev.trial(name='huber'):
    text += f'; Huber with outliers {claims.describe(mae(ev, "huber"))}'

  return claims.Verdict(verdict.verdict, text)


CLAIMS = (
    claims.Claim('001 Q9', 'Classification: Use cross-entropy loss',
                 _cross_entropy),
    claims.Claim('001 Q9', 'For imbalanced datasets, using focal loss or '
                 'weighted cross-entropy can be effective', _imbalance),
    claims.Claim('001 Q9', 'MSE: Used For: Regression problems, especially '
                 'when the goal is to minimize large errors',
                 _mse_for_large_errors),
    claims.Claim('001 Q9', 'MAE is less sensitive to outliers than MSE',
                 _mae_robust),
)


def main(_):
  cli.run_parts(parts(), title='Loss functions', claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
