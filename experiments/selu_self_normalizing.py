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
- std L-last: the last hidden layer's std (vanishing: -> 0, exploding:
  large).

Claims are decided with the tolerance 2/sqrt(width) (0.25 for 64 units):
even at the fixed point a layer of n units has a mean and std off by about
1/sqrt(n), since they average n units whose own means and scales differ.
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
    'selu_self_normalizing', model='mlp', epochs=3, seeds=3,
    smoke={'epochs': 1, 'seeds': 2, 'contrasts': ['batch_norm'],
           'lrs': ['0.01'],
           'config.model.depth': 8, 'config.model.width': 32,
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


MEAN_INIT, STD_INIT, LAST_INIT = _columns('init', lambda r: 0)
MEAN_END, STD_END, LAST_END = _columns('end', _last_epoch)
COLUMNS = (report.DEFAULT_COLUMNS[1], MEAN_INIT, STD_INIT, LAST_INIT,
           MEAN_END, STD_END, LAST_END, report.DEFAULT_COLUMNS[3])


# -- claims --------------------------------------------------------------------
def _trial(ev: claims.Evidence, **overrides) -> str:
  trial = ev.exact_trial(**overrides)
  if trial is None:
    raise KeyError(f'no trial {overrides} in this grid')
  return trial


def tolerance(width: int) -> float:
  return TOLERANCE_UNITS / math.sqrt(width)


def _normalized(ev: claims.Evidence, trial: str, mean_col, std_col, what):
  """Supported when every seed's largest deviation is within the tolerance,
  contradicted when some seed's is beyond it."""
  width = int(ev.groups[trial][0].config['config']['model.width'])
  tol = tolerance(width)
  mean = claims.at_most(ev.values(trial, mean_col), tol,
                        f'{what} (width {width}, tolerance 2/sqrt(width) = '
                        f'{tol:.3f}): largest |mean| over the layers', '.3f')
  std = claims.at_most(ev.values(trial, std_col), tol,
                       'largest |std - 1|', '.3f')
  kinds = {mean.verdict, std.verdict}
  verdict = (claims.SUPPORTED if kinds == {claims.SUPPORTED}
             else claims.CONTRADICTED if claims.CONTRADICTED in kinds
             else claims.INCONCLUSIVE)
  return claims.Verdict(verdict, f'{mean.evidence}; {std.evidence}')


def _lrs(ev: claims.Evidence) -> List[float]:
  """The learning rates of the grid, ascending."""
  lrs = {float((ev.groups[t][0].config.get('overrides') or {}).get(LR, 'nan'))
         for t in ev.trials}
  return sorted(lr for lr in lrs if math.isfinite(lr))


def _selu(ev: claims.Evidence, lr: float) -> str:
  return _trial(ev, activation='selu', learning_rate=lr)


def _others(ev: claims.Evidence, lr: float, mean_col, std_col) -> str:
  parts = []
  for name in ev.trials:
    trial_lr = float((ev.groups[name][0].config.get('overrides') or {}).get(
        LR, 'nan'))
    if name == _selu(ev, lr) or not math.isclose(trial_lr, lr):
      continue
    parts.append(f'{name}: {claims.describe(ev.values(name, mean_col), ".3f")}'
                 f' / {claims.describe(ev.values(name, std_col), ".3f")}')
  return '; '.join(parts)


def _combine(verdicts: List[claims.Verdict]) -> claims.Verdict:
  """One verdict over the learning rates: the same everywhere, that one;
  decided one way at some and otherwise at others, depends."""
  kinds = {v.verdict for v in verdicts}
  if len(kinds) == 1:
    verdict = kinds.pop()
  elif kinds & {claims.SUPPORTED, claims.CONTRADICTED}:
    verdict = claims.DEPENDS
  else:
    verdict = claims.INCONCLUSIVE
  return claims.Verdict(verdict, ' | '.join(v.evidence for v in verdicts))


def _at_init(ev: claims.Evidence) -> claims.Verdict:
  """The untrained networks: the learning rate changes nothing yet."""
  lr = _lrs(ev)[0]
  v = _normalized(ev, _selu(ev, lr), MEAN_INIT, STD_INIT,
                  'SELU + LeCun normal at init')
  return claims.Verdict(v.verdict, f'{v.evidence}; others (max |mean| / max '
                        f'|std-1|): {_others(ev, lr, MEAN_INIT, STD_INIT)}')


def _after_training(ev: claims.Evidence) -> claims.Verdict:
  verdicts = []
  for lr in _lrs(ev):
    v = _normalized(ev, _selu(ev, lr), MEAN_END, STD_END,
                    f'lr {lr:g}: SELU + LeCun normal after training')
    verdicts.append(claims.Verdict(v.verdict, (
        f'{v.evidence}; others (max |mean| / max |std-1|): '
        f'{_others(ev, lr, MEAN_END, STD_END)}')))
  return _combine(verdicts)


def _trains_deep(ev: claims.Evidence) -> claims.Verdict:
  """SELU against ReLU + He at each learning rate (batch norm quoted)."""
  verdicts = []
  for lr in _lrs(ev):
    selu = ev.values(_selu(ev, lr), 'test_accuracy')
    v = claims.compare(selu, ev.values(_trial(
        ev, activation='relu', learning_rate=lr), 'test_accuracy'),
                       f'lr {lr:g}: test accuracy', 'SELU', 'ReLU + He')
    bn = ev.exact_trial(activation='relu', norm='batch', learning_rate=lr)
    if bn is not None:
      v = claims.Verdict(v.verdict, f'{v.evidence}; ReLU + batch norm '
                         f'{claims.describe(ev.values(bn, "test_accuracy"))}')
    verdicts.append(v)
  return _combine(verdicts)


SOURCE = '003 Q3 context (SELU)'
CLAIMS = (
    claims.Claim(SOURCE, 'SELU + LeCun normal + standardized inputs: every '
                 'layer keeps mean 0 and variance 1 (Klambauer et al. 2017), '
                 'at initialization', _at_init),
    claims.Claim(SOURCE, '... and during training: mean 0 and variance 1 is '
                 'an attracting fixed point', _after_training),
    claims.Claim(SOURCE, 'self-normalizing networks train very deep fully '
                 'connected networks (better than ReLU + He)', _trains_deep),
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
