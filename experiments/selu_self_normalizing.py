r"""Does SELU keep every layer's activations at mean 0 and standard deviation
1 through 50 layers, before and after training, as batch norm would?

The notes lean on SELU's self-normalization (seed 003, question 3 on ELU:
"outputs that are closer to zero mean than ReLU, which can help to alleviate
the vanishing/exploding gradients problem ... especially for deep networks
with many layers"). The claim is Klambauer et al. (2017): with SELU, LeCun
normal weights and standardized inputs (and alpha dropout for dropout),
mean 0 and variance 1 are an attracting fixed point of each layer, so deep
fully connected nets keep their activations normalized without batch norm.

An MLP of 50 hidden layers of 64 units (the default size; SGD with momentum
0.9 on the first 10,000 Fashion-MNIST training images, standardized with the
training set's pixel mean and std) is trained in passes: SELU (LeCun normal)
and ReLU (He normal); then --contrasts: batch_norm (ReLU + BatchNorm before
each activation), alpha_dropout (SELU + alpha dropout at --alpha_rate) and
he_init (SELU with He normal weights, twice LeCun's variance); each at every
learning rate of --lrs (training moves the weights away from the variance
the fixed point assumes, faster at a larger rate). Each trial kind is one
compiled program (learning rates and seeds vmapped).
Columns, from each hidden layer's activation output on a fixed probe of 512
validation images (diag/<layer>/act_mean and act_std, over the examples and
the layer's units), before training (@init) and at the last epoch (@end):

- test acc: test accuracy of the restored best epoch;
- max abs mean: the largest |mean activation| over the 50 layers;
- max abs(std-1): the largest |std - 1| over the layers;
- max dev: the larger of the two (the claims' measure: a layer off in mean
  or in std is off the fixed point);
- std L-last: the last hidden layer's std (vanishing: -> 0, exploding:
  large).

- layers, width: the net's hidden layers and units per layer (the claims
  need at least 20 layers; the tolerance below is read from the width).

The claims are Klambauer et al.'s (their abstract), not the notes' (the notes
never name SELU), and are reported apart from the notes' claims, 5 seeds:
at initialization the SELU net's max dev (the largest of |mean| and
|std - 1| over the layers) is below the tolerance 2/sqrt(width) (0.25 for 64 units:
even at the fixed point a layer of n units has a mean and std off by about
1/sqrt(n), since they average n units whose own means and scales differ);
the same after training at the smallest learning rate of the grid, where
SELU must train above chance (the larger rates are stated beside it); and,
an existence claim, SELU beats ReLU + He at some learning rate, in test
accuracy by a point or in fewer seeds collapsed to chance (Fisher; Holm
over the cases; ReLU + batch norm stated beside).
Values at initialization keep seeds that later collapsed or diverged.
The inputs are standardized with one mean and std for all pixels (the
library's standardization), not per pixel as the SELU paper assumes: the
mean image then shifts each first-layer unit's mean.

The probe runs as a training step does (config diagnostics.train_mode, set
unless given): BatchNorm normalizes with the probe's own statistics (in
inference mode at initialization its running averages are the identity);
dropout is off, so alpha-dropout rows show the trained network without it.
The findings include act_mean and act_std against depth at init and after
training (report.plot_layers).

  python experiments/selu_self_normalizing.py              # defaults below
  python experiments/selu_self_normalizing.py --config.model.width=256 \
      --contrasts=batch_norm --lrs=0.003 --epochs=10
"""
import math
import os
from typing import Dict, List, Optional

import numpy as np
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

# Each contrast: the config fields of its one trial.
CONTRASTS = {'batch_norm': {'model.activation': ['relu'],
                            'model.norm': ['batch']},
             'alpha_dropout': {'model.activation': ['selu'],
                               'model.dropout': ['alpha']},
             'he_init': {'model.activation': ['selu'],
                         'model.kernel_init': ['he_normal']}}
_CONTRASTS = flags.DEFINE_list(
    'contrasts', list(CONTRASTS),
    f'Trials besides SELU and ReLU: {", ".join(CONTRASTS)}; empty = none.')
_ALPHA_RATE = flags.DEFINE_float('alpha_rate', 0.05,
                                 'Alpha dropout rate of alpha_dropout.')
_LRS = flags.DEFINE_list('lrs', ['0.001', '0.01'],
                         'Learning rates of every trial (traced: one '
                         'program per trial kind).')
LR = 'optimizer.learning_rate'

cli.define_flags(
    'selu_self_normalizing', model='mlp', epochs=3, seeds=5,
    smoke={'epochs': 1, 'seeds': 2, 'contrasts': ['batch_norm'],
           'lrs': ['0.01'],
           'config.model.depth': 20, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.model.depth': 50,
          'config.model.width': 256, 'config.data.train_limit': 0},
    config={'model.depth': 50, 'model.width': 64,
            'data.train_limit': 10000})

ACTS = r'act\d+'  # the hidden layers' activation outputs
# "About 0" and "about 1": a layer of n units sits at the fixed point only up
# to its finite width (its mean and std are averages over n units whose own
# means and scales differ), off by about 1/sqrt(n); allowed: 2/sqrt(n).
TOLERANCE_UNITS = 2.0


def _last_epoch(run) -> int:
  return int(run.final('epochs_run') or 0)


def _stat(stat: str, epoch_of, reduce):
  def value(run) -> Optional[float]:
    values = analysis.layer_values(run, stat, epoch_of(run), ACTS)
    if not values or not np.all(np.isfinite(values)):
      return None
    return float(reduce(np.asarray(values)))
  return value


def _columns(label: str, epoch_of):
  return (report.Column(f'max abs mean @{label}', _stat(
              'act_mean', epoch_of, lambda v: np.abs(v).max()), '.3f'),
          report.Column(f'max abs(std-1) @{label}', _stat(
              'act_std', epoch_of, lambda v: np.abs(v - 1).max()), '.3f'),
          report.Column(f'std L-last @{label}', _stat(
              'act_std', epoch_of, lambda v: v[-1]), '.3f'))


def _deviation(epoch_of):
  """The largest distance from the fixed point over the layers: max over
  the layers of max(|mean|, |std - 1|)."""
  mean = _stat('act_mean', epoch_of, lambda v: np.abs(v).max())
  std = _stat('act_std', epoch_of, lambda v: np.abs(v - 1).max())

  def value(run) -> Optional[float]:
    m, d = mean(run), std(run)
    return None if m is None or d is None else max(m, d)
  return value


def _config_number(key: str):
  def value(run) -> Optional[float]:
    try:
      return float(run.config.get('config', {}).get(key))
    except (TypeError, ValueError):
      return None
  return value


MEAN_INIT, STD_INIT, LAST_INIT = _columns('init', lambda r: 0)
MEAN_END, STD_END, LAST_END = _columns('end', _last_epoch)
DEV_INIT = report.Column('max dev @init', _deviation(lambda r: 0), '.3f')
DEV_END = report.Column('max dev @end', _deviation(_last_epoch), '.3f')
TEST = report.DEFAULT_COLUMNS[1]
LAYERS = report.Column('layers', _config_number('model.depth'), '.0f',
                       spread=False)
WIDTH = report.Column('width', _config_number('model.width'), '.0f',
                      spread=False)
COLUMNS = (TEST, MEAN_INIT, STD_INIT, DEV_INIT, LAST_INIT, MEAN_END, STD_END,
           DEV_END, LAST_END, LAYERS, WIDTH, report.DEFAULT_COLUMNS[3])


# -- claims --------------------------------------------------------------------
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TRAINS = CHANCE + 0.1  # "trains above chance": mean test accuracy at least
MANY = 20  # "many network layers": at least this many hidden layers
ACC_MARGIN = 0.01  # test accuracy: one point, a difference worth a choice
# Measured on the untrained network: a seed that later collapsed to chance
# or diverged is as good a measurement there as any other, so it is kept.
AT_INIT = tuple(c.header for c in (MEAN_INIT, STD_INIT, DEV_INIT, LAST_INIT))


def tolerance(width: float) -> float:
  return TOLERANCE_UNITS / math.sqrt(width)


def _axis(ev: claims.Evidence, trial: str, name: str):
  for path, value in ev.table[trial].get('overrides', {}).items():
    if path.split('.')[-1] == name:
      return value
  return None


def _lrs(ev: claims.Evidence) -> List[float]:
  """The learning rates of the grid, ascending."""
  return sorted({float(_axis(ev, t, 'learning_rate')) for t in ev.trials
                 if _axis(ev, t, 'learning_rate') is not None})


def _selu(ev: claims.Evidence, lr: float) -> str:
  return ev.exact_trial(activation='selu', learning_rate=lr)


def _relu(ev: claims.Evidence, lr: float) -> str:
  return ev.exact_trial(activation='relu', learning_rate=lr)


def _arm(ev, trial: str, column, name: str) -> claims.Sample:
  return ev.sample(trial, column, name,
                   keep_collapsed=column.header in AT_INIT)


def _tol(ev: claims.Evidence, trial: str) -> float:
  widths = ev.sample(trial, WIDTH, keep_collapsed=True).values
  if not widths.size:
    raise claims.RuleError(f'{trial}: no width in the table')
  return tolerance(float(widths[0]))


def _normalized(ev, trial: str, dev_col, name: str) -> claims.Verdict:
  """Every layer within the tolerance of mean 0 and std 1: the largest of
  |mean| and |std - 1| over the layers below it (one test: both must hold,
  so a layer off in either is a contradiction, not a 'depends')."""
  tol = _tol(ev, trial)
  return claims.below(_arm(ev, trial, dev_col, name), tol,
                      'largest of |mean| and |std - 1| over the layers '
                      f'(tolerance {tol:.3f})', fmt='.3f')


def _others(ev, lr: float, mean_col, std_col) -> str:
  """The other trials at `lr`: largest |mean| / largest |std - 1|."""
  parts = []
  for name in ev.trials:
    lr_t = _axis(ev, name, 'learning_rate')
    if name == _selu(ev, lr) or lr_t is None or not math.isclose(
        float(lr_t), lr):
      continue
    parts.append(f'{name}: {_arm(ev, name, mean_col, "|mean|").describe(".3f")}'
                 f' / {_arm(ev, name, std_col, "|std-1|").describe(".3f")}')
  return 'others (largest over the layers): ' + '; '.join(parts)


def _at_init(ev: claims.Evidence) -> claims.Verdict:
  """The untrained SELU net (the learning rate changes nothing yet)."""
  lr = _lrs(ev)[0]
  return _normalized(ev, _selu(ev, lr), DEV_INIT,
                     'SELU + LeCun normal').with_note(
                         _others(ev, lr, MEAN_INIT, STD_INIT) + '; SELU '
                         + _arm(ev, _selu(ev, lr), MEAN_INIT,
                                'largest |mean|').describe('.3f') + ', '
                         + _arm(ev, _selu(ev, lr), STD_INIT,
                                'largest |std-1|').describe('.3f'))


def _after_training(ev: claims.Evidence) -> claims.Verdict:
  """After training at the smallest learning rate of the grid (the others
  are stated beside it)."""
  lrs = _lrs(ev)
  v = _normalized(ev, _selu(ev, lrs[0]), DEV_END,
                  f'SELU + LeCun normal, lr {lrs[0]:g}').with_note(
                      _others(ev, lrs[0], MEAN_END, STD_END) + '; SELU '
                      + _arm(ev, _selu(ev, lrs[0]), MEAN_END,
                             'largest |mean|').describe('.3f') + ', '
                      + _arm(ev, _selu(ev, lrs[0]), STD_END,
                             'largest |std-1|').describe('.3f'))
  for lr in lrs[1:]:
    selu = _selu(ev, lr)
    v = v.with_note(
        f'SELU at lr {lr:g}: '
        + _arm(ev, selu, MEAN_END, 'largest |mean|').describe('.3f') + ', '
        + _arm(ev, selu, STD_END, 'largest |std-1|').describe('.3f'))
  return v


def _trains_deep(ev: claims.Evidence) -> claims.Verdict:
  """An existence claim: at some learning rate of the grid, SELU beats
  ReLU + He in test accuracy (seeds that learned), or ReLU + He's seeds
  collapse to chance more often than SELU's (Fisher: a deep net that does
  not train at all is counted, not averaged in); Holm over the cases."""
  cases, notes = [], []
  for lr in _lrs(ev):
    selu, relu = _selu(ev, lr), _relu(ev, lr)
    cases.append((f'lr {lr:g}, accuracy', claims.greater(
        _arm(ev, selu, TEST, 'SELU'), _arm(ev, relu, TEST, 'ReLU + He'),
        ACC_MARGIN, 'test accuracy of the seeds that learned')))
    cases.append((f'lr {lr:g}, collapse', claims.rate_greater(
        ev.count(relu, claims.COLLAPSED, name='ReLU + He'),
        ev.count(selu, claims.COLLAPSED, name='SELU'),
        'seeds collapsed to chance')))
    bn = ev.find(activation='relu', norm='batch', learning_rate=lr)
    if bn is not None:
      notes.append(f'lr {lr:g}: '
                   + _arm(ev, bn, TEST, 'ReLU + batch norm').describe())
  verdict = claims.across(cases, 'any')
  return verdict.with_note('; '.join(notes)) if notes else verdict


def _deep(ev) -> claims.Sample:
  """Every trial has the same depth; the first one's."""
  return ev.sample(ev.trials[0], LAYERS, keep_collapsed=True)


def _selu_trains(ev) -> claims.Sample:
  return ev.sample(_selu(ev, _lrs(ev)[0]), TEST)


_MANY = claims.requires(f'many layers: at least {MANY} hidden layers', _deep,
                        '>=', MANY)
_SETTING = ('MLP of 64-unit hidden layers, 50 by default, on 10,000 '
            'Fashion-MNIST training images standardized with one mean and '
            'std for all pixels (not per pixel, as the paper assumes), SGD '
            'with momentum 0.9; activations on 512 validation probe images')
SOURCE = 'abstract'
PAPER = 'Klambauer et al. 2017'
CLAIMS = (
    claims.Claim(
        SOURCE, 'activations close to zero mean and unit variance that are '
        'propagated through many network layers will converge towards zero '
        'mean and unit variance',
        tested_as='SELU with LeCun normal weights at initialization: the '
        'largest of |mean| and |std - 1| over the hidden layers\' '
        'activations below the tolerance 2/sqrt(width) (one-sample t, '
        f'one-sided) ({_SETTING}); bears on the notes\' 003 Q3 (zero-mean '
        'outputs against vanishing/exploding gradients)',
        rule=_at_init, regime=(_MANY,), outside=PAPER),
    claims.Claim(
        SOURCE, 'neuron activations of SNNs automatically converge towards '
        'zero mean and unit variance',
        tested_as='the same after training at the smallest learning rate '
        f'of the grid (3 epochs) ({_SETTING}); the larger rates are stated '
        'beside it',
        rule=_after_training, outside=PAPER,
        regime=(_MANY, claims.requires(
            'SELU trains above chance at the smallest learning rate (mean '
            'test accuracy)', _selu_trains, '>=', TRAINS))),
    claims.Claim(
        SOURCE, 'This convergence property of SNNs allows to ... train deep '
        'networks with many layers',
        tested_as='the deep SELU net (LeCun normal) against ReLU with He '
        'normal weights at each learning rate: test accuracy of the seeds '
        f'that learned (Welch, margin {ACC_MARGIN}) and the seeds that '
        f'collapsed to chance (Fisher) ({_SETTING}); an existence claim '
        '("allows"): supported if some case shows it (Holm)',
        rule=_trains_deep, existence=True, regime=(_MANY,), outside=PAPER),
)


# -- the grid ------------------------------------------------------------------
def passes(contrasts: List[str], alpha_rate: float,
           lrs: List[float]) -> List[Dict]:
  unknown = [c for c in contrasts if c not in CONTRASTS]
  if unknown:
    raise ConfigError(f'--contrasts={",".join(unknown)} not allowed; '
                      f'allowed: {", ".join(CONTRASTS)} (empty = none)')
  if not 0 < alpha_rate < 1:
    raise ConfigError(f'--alpha_rate={alpha_rate} not allowed; need '
                      '0 < rate < 1')
  grids = [{'model.activation': ['selu', 'relu']}]
  for c in contrasts:
    grid = dict(CONTRASTS[c])
    if c == 'alpha_dropout':
      grid['model.dropout_rate'] = [alpha_rate]
    grids.append(grid)
  return [dict(g, **{LR: lrs}) for g in grids]


def _layer_plots(epochs: int):
  def plot(stat: str, epoch: int):
    return lambda runs, folder: report.plot_layers(
        runs, stat, [epoch], os.path.join(folder, f'{stat}_by_layer_'
                                          f'{"init" if not epoch else epoch}'
                                          '.png'), log=False, layers=ACTS)
  return [plot(s, e) for s in ('act_mean', 'act_std') for e in (0, epochs)]


def main(_):
  config = cli.resolved_config()
  if 'diagnostics.train_mode' not in cli.config_overrides():
    config.diagnostics.train_mode = True  # BatchNorm with batch statistics
  grids = passes([c for c in _CONTRASTS.value if c], _ALPHA_RATE.value,
                 cli.list_flag(_LRS.value, float, 'lrs'))
  cli.run_ablation(grids, COLUMNS, config=config,
                   title='SELU self-normalization through depth',
                   axis_flags={'model.norm': 'contrasts',
                               'model.dropout': 'contrasts',
                               'model.dropout_rate': 'alpha_rate',
                               LR: 'lrs',
                               'model.kernel_init': 'contrasts'},
                   claims=CLAIMS, plotters=_layer_plots(config.epochs))


if __name__ == '__main__':
  cli.run_main(main)
