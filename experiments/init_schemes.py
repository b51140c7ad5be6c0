r"""Which weight initialization trains a deep network, and does the bias start
matter?

The notes (seed 003) ask (Q1) whether all weights may share one value if that
value is drawn with He initialization (no: "symmetric gradients ... stuck"),
and (Q2) whether biases may start at 0 ("generally okay ... as long as the
weights are initialized with some degree of randomness"), claiming that with
ReLU a start of 0.1 "can help to prevent the neurons from getting stuck in
the zero region". This trains the same deep MLP (20 hidden ReLU layers of 100
units, the model default) on 10,000 Fashion-MNIST training images for 15
epochs, or the small CNN, with each kernel initializer x bias start, 5 seeds
each, and prints:

- val acc, test acc, best epoch: the usual final metrics (restored best epoch);
- act std first/mid/last @init: standard deviation of the first, middle and
  last hidden layer's activations on a fixed probe batch of 512 validation
  images before any training (epoch-0 diagnostics): whether the signal keeps
  its scale through the depth;
- dead @ep1, dead @end: fraction of hidden units that output exactly 0 with
  a zero derivative for every probe example after the first and the last
  epoch (mean over layers): no gradient reaches them;
- never-positive @ep1: fraction that output <= 0 for every probe example
  (for ReLU nearly the same units; for other activations not death);
- distinct units L1: how many of the first hidden layer's units have distinct
  incoming weights after training. 'constant' draws ONE He-normal value for
  every weight: all units of a layer compute the same thing, get the same
  gradient and stay copies of one unit (1 distinct unit), so the network is
  as narrow as one unit per layer;
- spread L1: std across those units' weights relative to their RMS (0 =
  copies, about 1 = random);
- val gain last 3: validation accuracy still gained at the end: the mean of
  the last 3 epochs minus the mean of the 3 before (near 0, or below, once
  training has converged).

The verdicts:
- Q1, per bias start: 'constant' leaves the first layer's units copies of
  one unit (below 1.5 distinct units) and more of its seeds end at chance
  than He normal's (Fisher's exact test): both must hold;
- Q2 "bias 0.1 can help": dead @end with bias 0.1 below bias 0's by more than
  0.02 for some random initializer (He, Glorot, LeCun, orthogonal; Holm);
  needs dead units at bias 0; convergence is judged per initializer (both
  bias starts), one not converged is left out of the comparison and named;
- Q2 "okay to initialize the bias terms to 0": test accuracy with bias 0 not
  worse than with 0.1 by more than 1 point (non-inferiority) for every
  random initializer (Holm), after the same 15 epochs (a fixed budget, as a
  practitioner would compare them).

  python experiments/init_schemes.py                      # defaults above
  python experiments/init_schemes.py --model=cnn --epochs=2 --seeds=1 \
      --config.data.train_limit=10000 \
      --config.model.conv_impl=im2col   # the native conv is slow on XLA-CPU
  python experiments/init_schemes.py --inits=he_normal,constant \
      --bias_inits=0,0.1,1 --config.model.activation=tanh

Each (init, bias) pair is its own compiled program (the initializer and the
bias value are static), so compile time dominates at small epoch counts. On
the CPU, 'orthogonal' trains in a grid of its own that loops over seeds
instead of vmapping them (jaxlib's batched QR deadlocks there; see
_looped_inits); the other initializers vmap their seeds.
Per-layer statistics for every epoch are in each run's metrics.jsonl
(diag/<layer>/act_std, dead_fraction, never_positive_fraction, grad_norm).
"""
import copy
from typing import List, Tuple

import jax
import numpy as np
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_INITS = flags.DEFINE_list(
    'inits', ['he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal',
              'constant'],
    'Kernel initializers to compare (config.model.kernel_init).')
_BIAS_INITS = flags.DEFINE_list(
    'bias_inits', ['0', '0.1'],
    'Bias starts to compare (config.model.bias_init).')

# 5 seeds: Fisher's test needs 5 a side to find 5/5 collapsed against 0/5
# (p = 0.008; 3/3 against 0/3 is p = 0.1). 10,000 training images for 15
# epochs (the steps of about 3 epochs of the whole training set): the
# "stuck" claim needs converged runs (validation accuracy no longer rising,
# PLATEAU below). In a pilot of 5 seeds He normal was there (+0.002 and
# +0.006 between epochs 10-12 and 13-15), orthogonal not quite (+0.029 with
# bias 0, +0.012 with 0.1): the precondition says which.
cli.define_flags(
    'init_schemes', model='mlp', epochs=15, seeds=5,
    config={'data.train_limit': 10000},
    smoke={'epochs': 6, 'seeds': 2, 'inits': ['he_normal', 'constant'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0})


def _act_std(position: str, label: str) -> report.Column:
  return report.Column(f'act std {label} @init',
                       lambda r: analysis.layer_stat(r, 'act_std', position),
                       '.3f')


def _at_end(key: str, header: str) -> report.Column:
  return report.Column(
      header, lambda r: r.at_epoch(key, r.final('epochs_run') or 0), '.3f')


# Converged: validation accuracy still rising by less than 1 point (the mean
# of the last 3 epochs against the 3 before; a 5,000-example validation
# split's standard error is ~0.5 point an epoch).
PLATEAU_EPOCHS, PLATEAU = 3, 0.01
_VAL_GAIN = report.still_gaining('val_accuracy', PLATEAU_EPOCHS)
_DEAD_EP1 = report.at_epoch('diag/dead_fraction', 1, 'dead @ep1')
_DEAD_END = _at_end('diag/dead_fraction', 'dead @end')
_DISTINCT = report.final('distinct_units', 'distinct units L1', '.0f',
                         exact=True)  # by construction: 1 for a constant init
COLUMNS = report.DEFAULT_COLUMNS[:3] + (
    _act_std('first', 'first'), _act_std('middle', 'mid'),
    _act_std('last', 'last'), _DEAD_EP1, _DEAD_END,
    report.at_epoch('diag/never_positive_fraction', 1, 'never-positive @ep1'),
    _DISTINCT, report.final('unit_spread', 'spread L1', '.3f'), _VAL_GAIN,
    report.DEFAULT_COLUMNS[3],
)


VAL, TEST = report.DEFAULT_COLUMNS[0], report.DEFAULT_COLUMNS[1]
CHANCE = 0.1  # Fashion-MNIST's 10 classes
# The initializers that draw every weight independently ('constant' draws one
# value for all): the notes' "weights initialized with some degree of
# randomness", the setting of both bias claims.
RANDOM_INITS = ('he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal')
NAMES = {'he_normal': 'He normal', 'glorot_uniform': 'Glorot uniform',
         'lecun_normal': 'LeCun normal', 'orthogonal': 'orthogonal',
         'constant': 'constant'}
# The smallest effects that matter, fixed before any number was seen:
DEAD_MARGIN = 0.02  # 2% of the hidden units (40 of 2,000) fewer dead
OK_MARGIN = 0.01  # 1 point of test accuracy: less is "okay" to a practitioner
COPIES_BOUND = 1.5  # distinct first-layer units: 1 (all copies) is below it


def _trial(ev: claims.Evidence, init: str, bias: float) -> str:
  return ev.trial(kernel_init=init, bias_init=bias)


def _random_inits(ev: claims.Evidence) -> List[str]:
  """The random initializers of the grid that have both bias starts."""
  out = [i for i in RANDOM_INITS
         if ev.find(kernel_init=i, bias_init=0.0) is not None
         and ev.find(kernel_init=i, bias_init=0.1) is not None]
  if not out:
    raise claims.MissingTrial('no random initializer with both bias 0 and '
                              '0.1 in this grid')
  return out


def _pooled(ev: claims.Evidence, column, bias: float) -> np.ndarray:
  """A column's per-seed values over the random initializers at `bias` (for
  a precondition)."""
  return np.concatenate([
      ev.sample(_trial(ev, i, bias), column).values
      for i in _random_inits(ev)])


def _same_value(ev: claims.Evidence) -> claims.Verdict:
  """Per bias start: the constant init's first-layer units stay copies of
  one unit (symmetric gradients), AND more of its seeds end at chance than
  of He normal's (stuck): both must hold in a case."""
  cases = []
  for bias in (0.0, 0.1):
    if ev.find(kernel_init='constant', bias_init=bias) is None:
      continue
    const, he = _trial(ev, 'constant', bias), _trial(ev, 'he_normal', bias)
    copies = claims.below(
        ev.sample(const, _DISTINCT, 'constant', keep_collapsed=True),
        COPIES_BOUND, 'distinct first-layer units after training', fmt='.1f')
    stuck = claims.rate_greater(
        ev.count(const, claims.COLLAPSED, name='constant'),
        ev.count(he, claims.COLLAPSED, name='He normal'),
        'seeds that ended at chance (collapsed)')
    cases.append((f'bias {bias:g}', claims.across(
        [('symmetric: units stay copies', copies),
         ('stuck: ends at chance', stuck)], 'all')))
  if not cases:
    raise claims.MissingTrial("no 'constant' init in this grid")
  return claims.across(cases, 'any')


def _converged_inits(ev: claims.Evidence) -> Tuple[List[str], List[str]]:
  """The random initializers whose runs converged with both bias starts
  (val gain, each bias start's seed mean, at most PLATEAU: "stuck" is
  judged at the end of training, so the end must be reached), and, for each
  other one, why it is left out."""
  kept, left = [], []
  for i in _random_inits(ev):
    gains = {b: ev.sample(_trial(ev, i, b), _VAL_GAIN).values
             for b in (0.0, 0.1)}
    if all(g.size and g.mean() <= PLATEAU for g in gains.values()):
      kept.append(i)
    else:
      left.append(f'{NAMES[i]} (not converged: val acc still gained ' +
                  ', '.join(f'bias {b:g} ' + (f'{g.mean():+.3f}' if g.size
                                              else 'n/a')
                            for b, g in gains.items()) + f'; at most '
                  f'{PLATEAU:g} needed)')
  return kept, left


def _positive_bias(ev: claims.Evidence) -> claims.Verdict:
  """Per random initializer whose runs converged: bias 0.1 leaves fewer
  dead units at the end of training than bias 0 (the claim is "can help":
  any one suffices); the others are left out and named."""
  inits, left = _converged_inits(ev)
  verdict = claims.across([(NAMES[i], claims.less(
      ev.sample(_trial(ev, i, 0.1), _DEAD_END, 'bias 0.1'),
      ev.sample(_trial(ev, i, 0.0), _DEAD_END, 'bias 0'),
      margin=DEAD_MARGIN, what=f'dead fraction at the end ({NAMES[i]})',
      fmt='.3f')) for i in inits], 'any')
  return verdict.with_note('left out: ' + '; '.join(left)) if left else (
      verdict)


def _zero_bias_fine(ev: claims.Evidence) -> claims.Verdict:
  """"Generally okay": bias 0 is not worse than bias 0.1 by more than the
  margin, for every random initializer."""
  return claims.across([(NAMES[i], claims.not_worse(
      ev.sample(_trial(ev, i, 0.0), TEST, 'bias 0'),
      ev.sample(_trial(ev, i, 0.1), TEST, 'bias 0.1'),
      margin=OK_MARGIN, what=f'test accuracy ({NAMES[i]})'))
                        for i in _random_inits(ev)], 'all')


def _he_trains(bias: float) -> claims.Requirement:
  return claims.requires(
      f'He normal with bias {bias:g} trains above chance (val acc)',
      lambda ev: ev.sample(_trial(ev, 'he_normal', bias), VAL), '>=',
      CHANCE + 0.1)


_RANDOM_TRAIN = claims.requires(
    'the random initializers train above chance with bias 0 (val acc, '
    'their seeds pooled)', lambda ev: _pooled(ev, VAL, 0.0), '>=',
    CHANCE + 0.1)
_DEAD_AT_ZERO = claims.requires(
    'ReLU units die with bias 0: dead fraction at the end (the random '
    'initializers\' seeds pooled)', lambda ev: _pooled(ev, _DEAD_END, 0.0),
    '>=', 0.01)

_CONVERGED = claims.requires(
    'a random initializer whose runs converged with both bias starts (val '
    f'acc still gained, mean of the last {PLATEAU_EPOCHS} epochs minus the '
    f'{PLATEAU_EPOCHS} before, <= {PLATEAU:g} for each): how many',
    lambda ev: float(len(_converged_inits(ev)[0])), '>=', 1)

CLAIMS = (
    claims.Claim(
        '003 Q1', 'initialize all the weights ... to the same value, even if '
        'that value is selected randomly using He initialization ... can lead '
        'to symmetric gradients during backpropagation, which can cause the '
        'network to get stuck',
        tested_as='one He-normal draw shared by every weight (kernel_init='
        "'constant') in the 20x100 ReLU MLP on Fashion-MNIST, per bias start: "
        'distinct first-layer units after training below 1.5 (all copies of '
        'one unit: symmetric gradients) and more seeds ending at chance than '
        "with He normal (Fisher); the notes' 'in a local minimum' is not "
        'tested (the symmetric network is stuck in a subspace, whatever kind '
        'of point it reaches)',
        rule=_same_value, existence=True,
        regime=(_he_trains(0.0),)),
    claims.Claim(
        '003 Q2', 'if the activation function used in a layer is a rectified '
        'linear unit (ReLU), then initializing the bias terms to a small '
        'positive value (e.g. 0.1) can help to prevent the neurons from '
        'getting stuck in the zero region of the ReLU',
        tested_as='dead fraction of the hidden ReLU units (zero output and '
        'zero derivative on every probe example) after the last epoch, bias '
        '0.1 against bias 0, per random initializer (He, Glorot, LeCun, '
        'orthogonal; Holm) whose runs converged with both bias starts (an '
        'initializer not converged is left out and named in the note), '
        '20x100 MLP on 10,000 Fashion-MNIST images, 15 epochs, margin 0.02; '
        'an existence claim ("can help")',
        rule=_positive_bias, existence=True,
        regime=(_RANDOM_TRAIN, _DEAD_AT_ZERO, _CONVERGED)),
    claims.Claim(
        '003 Q2', 'It is generally okay to initialize the bias terms to 0 in '
        'a neural network, as long as the weights are initialized with some '
        'degree of randomness',
        tested_as='test accuracy with bias 0 not worse than with bias 0.1 by '
        'more than 1 point (non-inferiority), for every random initializer '
        '(He, Glorot, LeCun, orthogonal; Holm), 20x100 ReLU MLP after 15 '
        'epochs on 10,000 Fashion-MNIST images (a fixed budget)',
        rule=_zero_bias_fine, regime=(_RANDOM_TRAIN,)),
)


def _looped_inits(config, inits) -> List[str]:
  """The initializers whose members must loop rather than vmap. Orthogonal
  init runs a QR per layer. jaxlib 0.10's CPU QR kernel, batched over
  vmapped members, waits on the thread pool it runs in and deadlocks once
  more QRs run at once than the pool has threads (21 layers, 2 cores);
  looped members (a batch of 1 each) run it inline. The other initializers
  keep vmapping (a grid of its own), which saves minutes at 5 seeds."""
  if 'orthogonal' not in inits or jax.default_backend() != 'cpu':
    return []
  if config.members == 'vmap':
    raise ConfigError('--config.members=vmap with orthogonal init deadlocks '
                      "jaxlib's batched CPU QR; use 'auto' or 'loop'")
  return ['orthogonal']


def main(_):
  config = cli.resolved_config()
  inits = list(_INITS.value)
  biases = cli.list_flag(_BIAS_INITS.value, float, 'bias_inits')
  axis_flags = {'model.kernel_init': 'inits', 'model.bias_init': 'bias_inits'}
  looped = _looped_inits(config, inits)
  loop_config = copy.deepcopy(config)
  loop_config.members = 'loop'
  parts = []
  for names, cfg in (([i for i in inits if i not in looped], config),
                     (looped, loop_config)):
    if names:
      parts.append(('', cli.run_grid(
          {'model.kernel_init': names, 'model.bias_init': biases}, cfg,
          final_hooks=[analysis.distinct_units_hook], axis_flags=axis_flags)))
  grid = cli.combine(parts)
  # The table in the order of --inits, whichever grid trained a trial.
  rank = lambda t: inits.index(grid.groups[t][0].config['overrides'][
      'model.kernel_init'])
  grid.trials = sorted(grid.trials, key=rank)  # a stable sort: biases stay
  text = grid.table(COLUMNS)
  cli.conclude(grid, 'Initialization schemes', cli.run_line(config), text,
               CLAIMS, columns=COLUMNS)


if __name__ == '__main__':
  cli.run_main(main)
