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
  large);
- max dev first 1/5, max dev last 1/5: max dev over the first and over the
  last fifth of the hidden layers (10 of 50): where propagation starts and
  where it has led (the claims' measure: "converge towards").

- layers, width: the net's hidden layers and units per layer (the claims
  need at least 20 layers; the tolerance below is read from the width);
- inputs per feature: 1 where the run's inputs were standardized per input
  feature (each pixel with its own training mean and std:
  data.per_feature, this script's default), 0 otherwise (one mean and std
  per channel, dlexp's default); read from the run's config;
- max abs omega, max abs(tau-1) @init, @end: per hidden layer, omega = n
  mean(w) and tau = n mean(w^2) (n its fan-in;
  analysis.weight_moments_hook), the largest |omega| and |tau - 1| over the
  layers, at initialization and after training: the paper's Theorem 1
  proves the fixed point for |omega| <= 0.1 and 0.95 <= tau <= 1.1 (at 64
  units a layer's omega is a sample mean, ~0.125 at initialization).

The claims are Klambauer et al.'s (their abstract), not the notes' (the notes
never name SELU), and are reported apart from the notes' claims, 5 seeds.
"Converge towards" mean 0 and std 1 is read as where propagation through
the layers leads, both parts required: the last fifth of the layers is at
the fixed point (max dev below the tolerance 2/sqrt(width), 0.25 for 64
units: even at the fixed point a layer of n units has a mean and std off by
about 1/sqrt(n), since they average n units whose own means and scales
differ), and it is not farther from it than the first fifth (by more than
1/sqrt(width), half the tolerance): at initialization, and after training
at the smallest learning rate of the grid, where SELU must train above
chance and training must not have moved its weights farther from Theorem
1's domain (|omega| <= 0.1, 0.95 <= tau <= 1.1) than initialization put
them; at 64 units a layer's omega is a sample mean of spread 0.125, so the
LeCun-initialized net is outside the omega bound from the start, and the
verdict tests the abstract's claim for such a standard SNN, not the theorem
inside its domain (which is per unit: LeCun weights meet it only in
expectation) (the larger rates are stated beside it). Both assume the paper's
premise, inputs standardized per feature, as a precondition: this script
sets data.per_feature (each pixel its own training mean and std; a pixel
that is constant in training keeps its scale); with one mean and std for
all pixels (--config.data.per_feature=False) the mean image shifts each
first-layer unit's mean, and these two claims are not decided on such runs
("regime not reached"). An existence claim: SELU beats ReLU +
He at some learning rate, in test accuracy by a point or in fewer seeds
collapsed to chance (Fisher; Holm over the cases; ReLU + batch norm stated
beside), where the SELU net is at the fixed point at initialization (the
convergence property the claim credits, measured, whatever the inputs).
Values at initialization keep seeds that later collapsed or diverged.

The probe runs as a training step does (config diagnostics.train_mode, set
unless given): BatchNorm normalizes with the probe's own statistics (in
inference mode at initialization its running averages are the identity);
dropout is off, so alpha-dropout rows show the trained network without it.
The findings include act_mean and act_std against depth at init and after
training (report.plot_layers).

  python experiments/selu_self_normalizing.py              # defaults below
  python experiments/selu_self_normalizing.py --config.model.width=256 \
      --contrasts=batch_norm --lrs=0.003 --epochs=10

From Python: `run(size='smoke')` (keywords as the flags above).
"""
import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

# Each contrast: the config fields of its one trial.
CONTRASTS = {'batch_norm': {'model.activation': ['relu'],
                            'model.norm': ['batch']},
             'alpha_dropout': {'model.activation': ['selu'],
                               'model.dropout': ['alpha']},
             'he_init': {'model.activation': ['selu'],
                         'model.kernel_init': ['he_normal']}}
LR = 'optimizer.learning_rate'

SCRIPT = cli.define_flags(
    'selu_self_normalizing', model='mlp', epochs=3, seeds=5,
    smoke={'epochs': 1, 'seeds': 2, 'contrasts': ['batch_norm'],
           'lrs': ['0.01'],
           'config.model.depth': 10, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.model.depth': 50,
          'config.model.width': 256, 'config.data.train_limit': 0},
    config={'model.depth': 50, 'model.width': 64,
            'data.train_limit': 10000, 'data.per_feature': True})
_CONTRASTS = SCRIPT.list_flag(
    'contrasts', list(CONTRASTS),
    f'Trials besides SELU and ReLU: {", ".join(CONTRASTS)}; empty = none.')
_ALPHA_RATE = SCRIPT.flag('float', 'alpha_rate', 0.05,
                          'Alpha dropout rate of alpha_dropout.')
_LRS = SCRIPT.list_flag('lrs', ['0.001', '0.01'],
                        'Learning rates of every trial (traced: one '
                        'program per trial kind).')

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


FIFTH = 5  # the first and last 1/FIFTH of the layers


def _fifth_deviation(epoch_of, last: bool):
  """max dev over the first (last=False) or the last fifth of the hidden
  layers (at least one layer)."""
  def value(run) -> Optional[float]:
    means = analysis.layer_values(run, 'act_mean', epoch_of(run), ACTS)
    stds = analysis.layer_values(run, 'act_std', epoch_of(run), ACTS)
    if not means or not stds or len(means) != len(stds):
      return None
    k = max(1, math.ceil(len(means) / FIFTH))
    part = slice(len(means) - k, None) if last else slice(0, k)
    dev = np.maximum(np.abs(np.asarray(means[part])),
                     np.abs(np.asarray(stds[part]) - 1))
    return float(dev.max()) if np.all(np.isfinite(dev)) else None
  return value


def _per_feature(run) -> Optional[float]:
  """1 where the run's inputs were standardized per input feature (each
  feature its own training mean and std, as Klambauer et al. assume:
  data.standardize and data.per_feature in the run's config), else 0."""
  flat = run.config.get('config', {})
  if 'data.standardize' not in flat:
    return None
  return float(bool(flat['data.standardize'])
               and bool(flat.get('data.per_feature', False)))


MEAN_INIT, STD_INIT, LAST_INIT = _columns('init', lambda r: 0)
MEAN_END, STD_END, LAST_END = _columns('end', _last_epoch)
DEV_INIT = report.Column('max dev @init', _deviation(lambda r: 0), '.3f')
DEV_END = report.Column('max dev @end', _deviation(_last_epoch), '.3f')
TEST = report.default_column('test acc')
LAYERS = report.Column('layers', _config_number('model.depth'), '.0f',
                       spread=False)
WIDTH = report.Column('width', _config_number('model.width'), '.0f',
                      spread=False)
FIRST_INIT, DEEP_INIT, FIRST_END, DEEP_END = (
    report.Column(f'max dev {part} 1/{FIFTH} @{label}',
                  _fifth_deviation(epoch_of, part == 'last'), '.3f')
    for label, epoch_of in (('init', lambda r: 0), ('end', _last_epoch))
    for part in ('first', 'last'))
PER_FEATURE = report.Column('inputs per feature', _per_feature, '.0f',
                            spread=False, exact=True)
# The trained weights against Klambauer et al.'s Theorem 1 domain (|omega|
# <= 0.1, 0.95 <= tau <= 1.1 per hidden layer; analysis.weight_moments_hook).
OMEGA0 = report.final('omega_abs_max_init', 'max abs omega @init', '.3f')
OMEGA = report.final('omega_abs_max', 'max abs omega @end', '.3f')
TAU0 = report.final('tau_dev_max_init', 'max abs(tau-1) @init', '.3f')
TAU = report.final('tau_dev_max', 'max abs(tau-1) @end', '.3f')
COLUMNS = (TEST, MEAN_INIT, STD_INIT, DEV_INIT, LAST_INIT, FIRST_INIT,
           DEEP_INIT, MEAN_END, STD_END, DEV_END, LAST_END, FIRST_END,
           DEEP_END, OMEGA0, OMEGA, TAU0, TAU, LAYERS, WIDTH, PER_FEATURE,
           report.default_column('wall s'))


# -- claims --------------------------------------------------------------------
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TRAINS = CHANCE + 0.1  # "trains above chance": mean test accuracy at least
MANY = 20  # "many network layers": at least this many hidden layers
ACC_MARGIN = 0.01  # test accuracy: one point, a difference worth a choice
# Measured on the untrained network: a seed that later collapsed to chance
# or diverged is as good a measurement there as any other, so it is kept.
AT_INIT = tuple(c.header for c in (MEAN_INIT, STD_INIT, DEV_INIT, LAST_INIT,
                                   FIRST_INIT, DEEP_INIT))


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


def _converges(ev, trial: str, first_col, deep_col, all_col, name: str
               ) -> claims.Verdict:
  """Propagation leads to mean 0 and std 1, both parts required: the last
  fifth of the layers within the tolerance (the largest of |mean| and
  |std - 1| over them below it: a layer off in either is off the fixed
  point), and not farther from it than the first fifth by more than half
  the tolerance (1/sqrt(width), a layer's finite-width spread: less is no
  trend). The whole net's largest deviation is stated beside."""
  tol = _tol(ev, trial)
  deep = _arm(ev, trial, deep_col, f'{name}, last 1/{FIFTH} of the layers')
  return claims.across([
      ('at the fixed point', claims.below(
          deep, tol, 'largest of |mean| and |std - 1| over the last '
          f'1/{FIFTH} of the layers (tolerance {tol:.3f})', fmt='.3f')),
      ('towards it, not away', claims.not_worse(
          deep, _arm(ev, trial, first_col, f'first 1/{FIFTH}'), tol / 2,
          'largest of |mean| and |std - 1|, last against first '
          f'1/{FIFTH} of the layers', higher_is_better=False, fmt='.3f')),
  ], 'and').with_note(_arm(ev, trial, all_col, 'all layers').describe('.3f'))


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
  return _converges(ev, _selu(ev, lr), FIRST_INIT, DEEP_INIT, DEV_INIT,
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
  v = _converges(ev, _selu(ev, lrs[0]), FIRST_END, DEEP_END, DEV_END,
                 f'SELU + LeCun normal, lr {lrs[0]:g}').with_note(
                     _domain_note(ev)).with_note(
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
# The paper's premise (its "standardized inputs"): each input feature with
# mean 0 and variance 1, so that each first-layer unit's input is centred;
# one mean and std for all pixels leaves the mean image in every unit.
_PER_FEATURE = claims.requires(
    'inputs standardized per feature, as Klambauer et al. assume (column '
    'inputs per feature, 1 = yes)', lambda ev: ev.sample(
        _selu(ev, _lrs(ev)[0]), PER_FEATURE, keep_collapsed=True), '>=', 1)


def _fixed_point_at_init(ev) -> np.ndarray:
  """Per seed: the SELU net's max dev over its last fifth of layers at
  initialization, over the tolerance (<= 1: at the fixed point)."""
  trial = _selu(ev, _lrs(ev)[0])
  return _arm(ev, trial, DEEP_INIT, 'SELU').values / _tol(ev, trial)


# Theorem 1 proves the fixed point for each unit's incoming weights in its
# domain (omega = sum w in [-0.1, 0.1], tau = sum w^2 in [0.95, 1.1]). LeCun
# normal weights meet it only in expectation: per unit omega ~ N(0, 1), so
# few units are inside it at any width. The layer averages measured here
# (n mean(w), n mean(w^2)) are what LeCun init sets to 0 and 1; the
# precondition is that training did not move them (no drift), and the
# verdict tests the abstract's "automatically" for a standard SNN, not the
# theorem inside its domain.
OMEGA_DRIFT, TAU_DRIFT = 0.1, 0.05  # the domain's half-width in omega;
# tau's tighter side


def _drift(end, start):
  def value(ev) -> np.ndarray:
    trial = _selu(ev, _lrs(ev)[0])
    return ev.sample(trial, end).values - ev.sample(trial, start).values
  return value


_TRAINED_IN_DOMAIN = (
    claims.requires(
        'training moved the SELU weights no farther from Klambauer et al.\'s '
        'Theorem 1 domain than initialization: the largest |tau - 1| over '
        'the hidden layers (tau = n mean(w^2)), after training minus at '
        'initialization (per seed; smallest learning rate)',
        _drift(TAU, TAU0), '<=', TAU_DRIFT),
    claims.requires(
        '... and the largest |omega| (omega = n mean(w)), after training '
        'minus at initialization', _drift(OMEGA, OMEGA0), '<=', OMEGA_DRIFT))


def _domain_note(ev) -> str:
  trial = _selu(ev, _lrs(ev)[0])
  return ('layer-averaged weights (omega = n mean(w), tau = n mean(w^2)): '
          'largest |omega| ' + ev.sample(trial, OMEGA0).describe('.3f')
          + ' at initialization, ' + ev.sample(trial, OMEGA).describe('.3f')
          + ' after training; largest |tau - 1| '
          + ev.sample(trial, TAU).describe('.3f') + ' after training: a '
          'standard LeCun-initialized SNN, whose units meet Theorem 1\'s '
          'per-unit domain only in expectation, so this contradicts the '
          'abstract\'s "automatically", not the theorem')


_SELF_NORMALIZING = claims.requires(
    'the convergence property the claim credits is there: the SELU net\'s '
    f'last 1/{FIFTH} of the layers at the fixed point at initialization '
    '(max dev over the tolerance)', _fixed_point_at_init, '<=', 1.0)
_SETTING = ('MLP of 64-unit hidden layers, 50 by default, on 10,000 '
            'Fashion-MNIST training images standardized as the run says '
            '(this script: each pixel its own training mean and std, '
            'data.per_feature), SGD with '
            'momentum 0.9; activations on 512 validation probe images')
SOURCE = 'abstract'
PAPER = 'Klambauer et al. 2017'
CLAIMS = (
    claims.Claim(
        SOURCE, 'activations close to zero mean and unit variance that are '
        'propagated through many network layers will converge towards zero '
        'mean and unit variance',
        tested_as='SELU with LeCun normal weights at initialization: the '
        'largest of |mean| and |std - 1| over the last fifth of the hidden '
        'layers\' activations below the tolerance 2/sqrt(width) (one-sample '
        't, one-sided), and not above the first fifth\'s by more than '
        f'1/sqrt(width) (non-inferiority), both required ({_SETTING}); '
        'bears on the notes\' 003 Q3 (zero-mean outputs against '
        'vanishing/exploding gradients)',
        rule=_at_init, regime=(_MANY, _PER_FEATURE), outside=PAPER),
    claims.Claim(
        SOURCE, 'neuron activations of SNNs automatically converge towards '
        'zero mean and unit variance',
        tested_as='the same after training at the smallest learning rate '
        f'of the grid (3 epochs) ({_SETTING}), where training moved the '
        'weights no farther from the paper\'s Theorem 1 domain (|omega| <= '
        '0.1, 0.95 <= tau <= 1.1) than initialization put them (largest '
        f'|tau - 1| up by at most {TAU_DRIFT:g}, largest |omega| by at most '
        f'{OMEGA_DRIFT:g}; layer averages, omega = n mean(w) and tau = n '
        'mean(w^2), which LeCun init sets to 0 and 1); the theorem\'s domain '
        'is per unit, which LeCun weights meet only in expectation, so this '
        'tests the abstract\'s "automatically" for a standard SNN, not the '
        'theorem inside its domain; the larger rates are stated beside it',
        rule=_after_training, outside=PAPER,
        regime=(_MANY, _PER_FEATURE, claims.requires(
            'SELU trains above chance at the smallest learning rate (mean '
            'test accuracy)', _selu_trains, '>=', TRAINS))
        + _TRAINED_IN_DOMAIN),
    claims.Claim(
        SOURCE, 'This convergence property of SNNs allows to ... train deep '
        'networks with many layers',
        tested_as='the deep SELU net (LeCun normal) against ReLU with He '
        'normal weights at each learning rate: test accuracy of the seeds '
        f'that learned (Welch, margin {ACC_MARGIN}) and the seeds that '
        f'collapsed to chance (Fisher) ({_SETTING}); an existence claim '
        '("allows"): supported if some case shows it (Holm)',
        rule=_trains_deep, existence=True,
        regime=(_MANY, _SELF_NORMALIZING), outside=PAPER),
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


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, contrasts: Optional[Sequence[str]] = None,
        alpha_rate: Optional[float] = None,
        lrs: Optional[Sequence[float]] = None,
        session=None) -> ablation.Result:
  """Trains SELU, ReLU and the contrasts at every rate and decides the
  claims. From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  contrasts=[], lrs=[0.01])`; the keywords are the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  contrasts = (SCRIPT.axis('contrasts', session.size) if contrasts is None
               else contrasts)
  alpha_rate = (SCRIPT.axis('alpha_rate', session.size) if alpha_rate is None
                else alpha_rate)
  lrs = SCRIPT.axis('lrs', session.size) if lrs is None else lrs
  if 'diagnostics.train_mode' not in session.given:
    config.diagnostics.train_mode = True  # BatchNorm with batch statistics
  grids = passes([c for c in contrasts if c], alpha_rate,
                 cli.list_flag(lrs, float, 'lrs'))
  return ablation.run_ablation(
      session, grids, config, COLUMNS,
      title='SELU self-normalization through depth',
      final_hooks=[analysis.weight_moments_hook()],
      axis_flags={'model.norm': 'contrasts', 'model.dropout': 'contrasts',
                  'model.dropout_rate': 'alpha_rate', LR: 'lrs',
                  'model.kernel_init': 'contrasts'},
      claims=CLAIMS, plotters=_layer_plots(config.epochs))


def main(_):
  run(cli.resolved_config(), contrasts=_CONTRASTS.value,
      alpha_rate=_ALPHA_RATE.value, lrs=_LRS.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
