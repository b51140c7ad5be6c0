r"""Which weight initialization trains a deep network, and does the bias start
matter?

The notes (seed 003) ask (Q1) whether all weights may share one value if that
value is drawn with He initialization (no: "symmetric gradients ... stuck"),
and answer that the weights need randomness: "One common approach is to
initialize the weights with small random values drawn from a normal
distribution with mean zero and a small standard deviation (e.g. 0.01 or
0.1)", which "can help to introduce enough randomness to the initial weights
to allow the network to explore the space of possible solutions during
training" (right after He initialization for deep networks). They ask (Q2)
whether biases may start at 0 ("generally okay ... as long as the weights
are initialized with some degree of randomness"), claiming that with ReLU a
start of 0.1 "can help to prevent the neurons from getting stuck in the zero
region".

This trains the notes' deep MLP (20 hidden ReLU layers of 100 units, the
model default) on 10,000 Fashion-MNIST training images for 20 epochs, or the
small CNN, 8 seeds each, with each kernel initializer x bias start (0, 0.1):
He normal, Glorot uniform, LeCun normal, orthogonal and 'constant' (one
He-normal draw shared by every weight). At bias 0 only (an init given with a
number runs at the first of --bias_inits) it also trains:

- 'normal:0.01', 'normal:0.1': the notes' small random values, N(0, 0.01^2)
  and N(0, 0.1^2) for every kernel (kernel_init='normal', its std in
  init_gain). A fixed std multiplies a ReLU layer's signal by about
  std * sqrt(fan_in / 2): 0.07 per 100-wide layer at 0.01 (1e-22 after 20),
  0.71 at 0.1 (1e-3 after 20; LeCun normal's std at fan_in 100), 1 at He's
  std 0.141;
- 'constant:0.01': every weight 0.01 = 1/width, a symmetric init whose
  hidden layers keep the signal's scale (100 identical inputs x 0.01): it
  tells the symmetry apart from the scale, which the He-drawn constant
  confounds (its signal explodes or dies, act std @init).

A shallow arm (--shallow_depth=2 hidden layers of the same width, bias 0)
trains He normal and the small normals again, where 0.07 per layer
compounds only twice. Its trials set model.hidden (named 'hidden=100-100,...').

Columns:
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
  incoming weights after training. 'constant' gives every weight one value:
  all units of a layer compute the same thing, get the same gradient and stay
  copies of one unit (1 distinct unit), so the network is as narrow as one
  unit per layer;
- spread L1: std across those units' weights relative to their RMS (0 =
  copies, about 1 = random);
- val gain last 3: validation accuracy still gained at the end: the mean of
  the last 3 epochs minus the mean of the 3 before (near 0, or below, once
  training has converged).

The verdicts:
- Q1 same value: 'constant:0.01' (symmetric, scale kept; proxy for the
  notes' He-drawn value, whose exploding or dying signal confounds the
  symmetry) leaves the first layer's units copies of one unit (below 1.5
  distinct units) and its test accuracy below He normal's by more than 0.1
  (stuck): both must hold; any value (an existence claim); the note gives
  what the He-drawn 'constant' did per bias start;
- Q1 small random values, the whole passage ("This can help to introduce
  enough randomness ... to allow the network to explore ..."): for each
  std and depth the symmetry is broken (above 1.5 distinct first-layer
  units and spread above 0.5 after training) AND more than half of the
  seeds train (val acc >= 0.2; exact binomial test against 0.5), all
  required in a case; any case (an existence claim, Holm); the note gives
  each case's seeds trained, its test accuracy against He normal's at that
  depth, and the activation std at init, the mechanism;
- Q2 "bias 0.1 can help": dead @end with bias 0.1 below bias 0's by more than
  0.02 for some random initializer (He, Glorot, LeCun, orthogonal; Holm);
  needs dead units at bias 0; convergence is judged per initializer (both
  bias starts), one not converged is left out of the comparison and named;
- Q2 "okay to initialize the bias terms to 0": test accuracy with bias 0 not
  worse than with 0.1 by more than 1 point (non-inferiority) for every
  random initializer (Holm), after the same 20 epochs (a fixed budget, as a
  practitioner would compare them).

8 seeds: the small-init claim decides 4 cases (2 stds x 2 depths) by exact
binomial tests, Holm-adjusted: all 8 seeds training (or none) gives p =
0.5^8 = 0.004, 0.016 after Holm (5 seeds: 0.031, 0.125 after Holm: never
decided). 20 epochs (15 before): LeCun normal and orthogonal were still
gaining 2-3 points of validation accuracy per 3 epochs at epoch 15.

  python experiments/init_schemes.py                      # defaults above
  python experiments/init_schemes.py --model=cnn --epochs=2 --seeds=1 \
      --shallow_depth=0 --config.data.train_limit=10000 \
      --config.model.conv_impl=im2col   # the native conv is slow on XLA-CPU
  python experiments/init_schemes.py --inits=he_normal,constant,normal:0.05 \
      --bias_inits=0,0.1,1 --config.model.activation=tanh

From Python: `run(size='smoke')`, or `run(config, workdir, bias_inits=[0])`.

Each (init, bias) pair is its own compiled program (the initializer and the
bias value are static), so compile time dominates at small epoch counts. On
the CPU, 'orthogonal' trains in a grid of its own that loops over seeds
instead of vmapping them (jaxlib's batched QR deadlocks there; see
_looped_inits); the other initializers vmap their seeds.
Per-layer statistics for every epoch are in each run's metrics.jsonl
(diag/<layer>/act_std, dead_fraction, never_positive_fraction, grad_norm).
"""
import copy
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import jax
import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

# 8 seeds: the small-init claim decides 4 cases (2 stds x 2 depths) by exact
# binomial tests, Holm-adjusted over the cases: 8 of 8 seeds (or 0 of 8)
# give p = 0.004, 0.016 after Holm; 5 seeds give 0.031, 0.125: never decided.
# Fisher's test of the constant init needs 5 a side (5/5 against 0/5 collapsed
# is p = 0.008). 10,000 training images for 20 epochs (the steps of about 4
# epochs of the whole training set): the "stuck" claim needs converged runs
# (validation accuracy no longer rising, PLATEAU below). At 15 epochs He
# normal was there (+0.002 and +0.006 between epochs 10-12 and 13-15),
# LeCun normal and orthogonal not (+0.018 and +0.029 with bias 0): the
# precondition says which are.
SCRIPT = cli.define_flags(
    'init_schemes', model='mlp', epochs=20, seeds=8,
    config={'data.train_limit': 10000},
    smoke={'epochs': 6, 'seeds': 2,
           'inits': ['he_normal', 'constant', 'normal:0.01'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 8, 'config.data.train_limit': 0})
_INITS = SCRIPT.list_flag(
    'inits', ['he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal',
              'constant', 'normal:0.01', 'normal:0.1', 'constant:0.01'],
    'Kernel initializers to compare (config.model.kernel_init). '
    "'normal:STD' draws every weight from N(0, STD^2) (init_gain = STD); "
    "'constant:VALUE' sets every weight to VALUE (init_value); an init "
    'given with a number runs at the first of --bias_inits only.')
_BIAS_INITS = SCRIPT.list_flag(
    'bias_inits', ['0', '0.1'],
    'Bias starts to compare (config.model.bias_init).')
_SHALLOW_DEPTH = SCRIPT.flag(
    'integer', 'shallow_depth', 2,
    "Hidden layers of the shallow arm: He normal and the 'normal:STD' inits "
    'of --inits again, at the first of --bias_inits, the MLP\'s width and '
    'fewer layers than config.model.depth; 0 = no shallow arm (it runs only '
    "when --inits has a 'normal:STD').")


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
_SPREAD = report.final('unit_spread', 'spread L1', '.3f')
_ACT = {p: _act_std(p, label) for p, label in (
    ('first', 'first'), ('middle', 'mid'), ('last', 'last'))}
_USUAL = tuple(map(report.default_column,
                   ('val acc', 'test acc', 'best epoch')))
COLUMNS = _USUAL + tuple(_ACT.values()) + (
    _DEAD_EP1, _DEAD_END,
    report.at_epoch('diag/never_positive_fraction', 1, 'never-positive @ep1'),
    _DISTINCT, _SPREAD, _VAL_GAIN,
    report.default_column('wall s'),
)


VAL, TEST = report.default_column('val acc'), report.default_column('test acc')
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TRAINED = CHANCE + 0.1  # val acc of a seed that learned: 2x chance
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
# Spread of the first layer's units (std across units over their RMS): 0 for
# copies, about 1 for independent draws; above half way is "distinct".
SPREAD_BOUND = 0.5
# "Stuck" (a symmetric init whose signal keeps its scale, so it learns
# something): test accuracy below He normal's by more than one chance level
# (0.1, the step TRAINED puts above chance): far from what the same net
# reaches, not a slightly worse solution (OK_MARGIN's 1 point is "okay").
STUCK_MARGIN = CHANCE
# "Trains" = more than half of the seeds learn: 0.5 is the largest share
# that 8 seeds can both support (8/8, p = 0.004) and contradict (0/8).
MAJORITY = 0.5

# The arms: the model as configured, and --shallow_depth hidden layers (its
# trials set model.hidden, so their names and directories are their own).
DEEP, SHALLOW = 'deep', 'shallow'
# 'name:NUMBER' in --inits: the config field NUMBER sets, per initializer.
PARAMETER = {'normal': 'model.init_gain', 'constant': 'model.init_value'}
INIT_PATHS = ('model.kernel_init',) + tuple(PARAMETER.values())
AXIS_FLAGS = {'init': 'inits', 'model.bias_init': 'bias_inits',
              'model.hidden': 'shallow_depth',
              **{p: 'inits' for p in INIT_PATHS}}


def parse_inits(specs: Sequence[str]) -> List[Dict[str, Any]]:
  """--inits as the values of a joint axis: {'model.kernel_init': name},
  with the field its number sets for 'normal:STD' and 'constant:VALUE'."""
  out = []
  for spec in specs:
    name, sep, number = spec.partition(':')
    if not sep:
      if name == 'normal':  # init_gain 1 would be N(0, 1): say the std
        raise ConfigError("--inits: 'normal' needs its std, e.g. normal:0.01")
      out.append({'model.kernel_init': name})
      continue
    if name not in PARAMETER:
      raise ConfigError(f'--inits: {spec!r}: only normal:STD and '
                        'constant:VALUE take a number')
    try:
      value = float(number)
    except ValueError:
      raise ConfigError(f'--inits: {spec!r}: {number!r} is not a '
                        'float') from None
    out.append({'model.kernel_init': name, PARAMETER[name]: value})
  return out


# -- evidence ------------------------------------------------------------------
def _overrides(ev: claims.Evidence, trial: str) -> Dict[str, Any]:
  """A trial's axis values by the last part of their path."""
  return {k.split('.')[-1]: v
          for k, v in ev.table[trial].get('overrides', {}).items()}


def _trial(ev: claims.Evidence, init: str, bias: float, arm: str = DEEP,
           **number) -> str:
  """The trial of an arm (the shallow arm's set model.hidden) with exactly
  this init, its number and bias start: the He-drawn 'constant' is not
  'constant:0.01'."""
  want = dict(kernel_init=init, bias_init=bias, **number)
  for t in ev.trials:
    given = _overrides(ev, t)
    shallow = given.pop('hidden', None) is not None
    if shallow == (arm == SHALLOW) and set(given) == set(want) and all(
        claims.same(given[k], v) for k, v in want.items()):
      return t
  shown = ', '.join(f'{k}={v}' for k, v in want.items())
  raise claims.MissingTrial(f'no {arm} trial with exactly {shown}')


def _find(ev: claims.Evidence, init: str, bias: float, arm: str = DEEP,
          **number) -> Optional[str]:
  try:
    return _trial(ev, init, bias, arm, **number)
  except claims.MissingTrial:
    return None


def _numbered(ev: claims.Evidence, init: str, field: str, arm: str = DEEP,
              bias: float = 0.0) -> List[Tuple[float, str]]:
  """(number, trial) of every 'init:NUMBER' trial of an arm at `bias`."""
  out = []
  for t in ev.trials:
    given = _overrides(ev, t)
    if ('hidden' in given) == (arm == SHALLOW):
      given.pop('hidden', None)
      if set(given) == {'kernel_init', field, 'bias_init'} and (
          given['kernel_init'] == init and claims.same(given['bias_init'], bias)):
        out.append((float(given[field]), t))
  return out


def _small_cases(ev: claims.Evidence) -> List[Tuple[str, float, str]]:
  """(arm, std, trial) of each 'normal:STD' trial at bias 0, deep first."""
  out = [(arm, std, t) for arm in (DEEP, SHALLOW)
         for std, t in _numbered(ev, 'normal', 'init_gain', arm)]
  if not out:
    raise claims.MissingTrial("no 'normal:STD' trial at bias 0 in this grid")
  return out


def _random_inits(ev: claims.Evidence) -> List[str]:
  """The random initializers of the grid that have both bias starts."""
  out = [i for i in RANDOM_INITS
         if _find(ev, i, 0.0) is not None and _find(ev, i, 0.1) is not None]
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


def _mean(ev: claims.Evidence, trial: str, column) -> str:
  values = ev.sample(trial, column, keep_collapsed=True).values
  return f'{values.mean():.2g}' if values.size else 'n/a'


# -- rules ---------------------------------------------------------------------
def _same_value(ev: claims.Evidence) -> claims.Verdict:
  """Per symmetric init at a fixed value ('constant:VALUE', bias 0: the
  signal keeps its scale, so only the symmetry acts): its first-layer units
  stay copies of one unit (symmetric gradients), AND its test accuracy
  (seeds at chance kept: a claim about failure) is below He normal's by
  more than STUCK_MARGIN (stuck in a one-unit subspace): both must hold in a
  case; any value suffices ("can cause"). The He-drawn value, which the
  notes name, is in the note: its signal explodes or dies with the scale,
  so its seeds end at chance whatever the symmetry does."""
  fixed = _numbered(ev, 'constant', 'init_value')
  if not fixed:
    raise claims.MissingTrial("no 'constant:VALUE' init at bias 0 in this "
                              'grid')
  he = ev.sample(_trial(ev, 'he_normal', 0.0), TEST, 'He normal')
  cases = []
  for value, t in fixed:
    name = f'constant {value:g}'
    copies = claims.below(
        ev.sample(t, _DISTINCT, name, keep_collapsed=True),
        COPIES_BOUND, 'distinct first-layer units after training', fmt='.1f')
    stuck = claims.less(
        ev.sample(t, TEST, name, keep_collapsed=True), he,
        margin=STUCK_MARGIN, what='test accuracy (bias 0)')
    cases.append((name, claims.across(
        [('symmetric: units stay copies', copies),
         ('stuck: far below He normal', stuck)], 'and')))
  return claims.across(cases, 'any').with_note(_he_drawn_note(ev))


def _he_drawn_note(ev: claims.Evidence) -> str:
  """What the notes' own arm, one He-normal draw shared by every weight,
  did per bias start: copies of one unit, at chance, and the activation
  std at init that says why (the signal's scale, not only the symmetry)."""
  parts = []
  for bias in (0.0, 0.1):
    t = _find(ev, 'constant', bias)
    if t is None:
      continue
    at_chance = ev.count(t, claims.COLLAPSED)
    parts.append(
        f'bias {bias:g}: distinct units {_mean(ev, t, _DISTINCT)}, '
        f'{at_chance.k}/{at_chance.n} seeds at chance, act std '
        'first/mid/last @init ' +
        '/'.join(_mean(ev, t, _ACT[p]) for p in _ACT))
  return ('the He-drawn shared value (the notes\' arm; not the test: its '
          'signal explodes or dies with the drawn scale, a confound): ' +
          ('; '.join(parts) if parts else 'not in this grid'))


def _trained(value: Optional[float]) -> bool:
  return value is not None and math.isfinite(value) and value >= TRAINED


def _small_random(ev: claims.Evidence) -> claims.Verdict:
  """Per small std and depth: the symmetry is broken (the first layer's
  units distinct after training and spread like independent draws, seeds
  at chance kept) AND the network trains (more than half of the seeds
  learn: a count, a stuck seed is all-or-nothing), all three parts
  required; the claim is "can help": any case suffices. The note gives
  what is not the claim's: each case's seeds trained and its test accuracy
  against He normal's at that depth, and the activation std at init."""
  cases = []
  for arm, std, t in _small_cases(ev):
    name = f'N(0, {std:g}^2)'
    distinct = claims.above(
        ev.sample(t, _DISTINCT, name, keep_collapsed=True), COPIES_BOUND,
        'distinct first-layer units after training', fmt='.1f')
    spread = claims.above(
        ev.sample(t, _SPREAD, name, keep_collapsed=True), SPREAD_BOUND,
        'spread of the first-layer units after training', fmt='.3f')
    trains = claims.share_above(
        ev.count(t, f'trained (val acc >= {TRAINED:g})', key=VAL,
                 where=_trained, name=name), MAJORITY,
        'seeds that trained')
    cases.append((f'{arm}, std {std:g}', claims.across(
        [('distinct', distinct), ('spread', spread), ('trains', trains)],
        'and')))
  return claims.across(cases, 'any').with_note(
      _against_he(ev) + '; ' + _mechanism(ev))


def _against_he(ev: claims.Evidence) -> str:
  """Not every case: per std and depth, the seeds that trained and the
  test accuracy (seeds that trained) against He normal's at that depth."""
  out = []
  for arm, std, t in _small_cases(ev):
    n = ev.count(t, key=VAL, where=_trained)
    he = _find(ev, 'he_normal', 0.0, arm)
    mine = ev.sample(t, TEST).values
    ref = ev.sample(he, TEST).values if he is not None else np.array([])
    gap = (f'test acc {mine.mean():.4f} vs He normal {ref.mean():.4f} '
           f'({mine.mean() - ref.mean():+.4f})' if mine.size and ref.size
           else 'test acc n/a (no seed trained)' if not mine.size
           else 'He normal n/a')
    out.append(f'{arm}, std {std:g}: {n.k}/{n.n} seeds trained, {gap}')
  return 'caveat, per case: ' + '; '.join(out)


def _mechanism(ev: claims.Evidence) -> str:
  """The activation std at init, first/mid/last hidden layer, per arm: a
  fixed small std shrinks the signal layer by layer."""
  out = []
  for arm in (DEEP, SHALLOW):
    rows = [('He normal', _find(ev, 'he_normal', 0.0, arm))] + [
        (f'N(0, {s:g}^2)', t)
        for s, t in _numbered(ev, 'normal', 'init_gain', arm)]
    shown = ['{} {}'.format(n, '/'.join(_mean(ev, t, _ACT[p])
                                        for p in _ACT))
             for n, t in rows if t is not None]
    if shown:
      out.append(f'{arm}: ' + ', '.join(shown))
  return 'act std first/mid/last @init: ' + '; '.join(out)


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


def _he_trains_in(arm: str) -> claims.Requirement:
  return claims.requires(
      f'He normal trains above chance in the {arm} arm (bias 0, val acc)',
      lambda ev: ev.sample(_trial(ev, 'he_normal', 0.0, arm), VAL), '>=',
      TRAINED)


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

# What the default size trains, for the tested_as lines.
SETTING = ('20x100 ReLU MLP, 20 epochs on 10,000 Fashion-MNIST images, 8 '
           'seeds')
SMALL = ("kernel_init='normal' with std 0.01 and 0.1 (N(0, std^2) for every "
         'kernel, bias 0), in the 20x100 ReLU MLP and in a shallow 2x100 one '
         '(20 epochs on 10,000 Fashion-MNIST images, 8 seeds)')

CLAIMS = (
    claims.Claim(
        '003 Q1', 'initialize all the weights ... to the same value, even if '
        'that value is selected randomly using He initialization ... can lead '
        'to symmetric gradients during backpropagation, which can cause the '
        'network to get stuck',
        tested_as='proxy: the shared value is 0.01 (= 1/width: a layer of '
        '100 identical inputs keeps the signal\'s scale), not a He draw, '
        "whose shared value multiplies the signal by about 100|w| per layer "
        '(it explodes or dies, and the net ends at chance whatever the '
        f"symmetry does); kernel_init='constant:0.01', bias 0, {SETTING}: "
        'distinct first-layer units after training below 1.5 (all copies of '
        'one unit: symmetric gradients) AND test accuracy below He '
        "normal's by more than 0.1 (stuck in a one-unit subspace; seeds at "
        'chance kept), both required; "in a local minimum" is not tested '
        '(the symmetric net is stuck in a subspace, whatever kind of point '
        'it reaches); an existence claim ("can"): any value; the note gives '
        'the He-drawn shared value per bias start (copies, seeds at chance, '
        'act std @init)',
        rule=_same_value, existence=True,
        regime=(_he_trains(0.0),)),
    claims.Claim(
        '003 Q1', 'One common approach is to initialize the weights with '
        'small random values drawn from a normal distribution with mean zero '
        'and a small standard deviation (e.g. 0.01 or 0.1). This can help to '
        'introduce enough randomness to the initial weights to allow the '
        'network to explore the space of possible solutions during training.',
        tested_as=f'{SMALL}, per std and depth: "enough randomness" = the '
        'symmetry is broken AND the network trains: the first hidden '
        "layer's units distinct after training (above 1.5 distinct units, "
        'and their spread, std across units over the RMS, above 0.5; seeds '
        'at chance kept) AND more than half of the seeds reach val acc 0.2 '
        '(2x chance; exact binomial test against 0.5: a stuck seed is '
        'all-or-nothing, so counted), all three required; "explore the '
        'space of possible solutions" is read as training away from chance, '
        'the variety of solutions reached is not measured; an existence '
        'claim ("can help"): any std and depth (Holm); the note gives, per '
        "case, the seeds that trained and the test accuracy against He "
        "normal's at that depth (not tested: the notes do not compare), and "
        'the activation std at init (the mechanism of a deep failure)',
        rule=_small_random, existence=True,
        regime=(_he_trains_in(DEEP), _he_trains_in(SHALLOW))),
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
        f'{SETTING}, margin 0.02; an existence claim ("can help")',
        rule=_positive_bias, existence=True,
        regime=(_RANDOM_TRAIN, _DEAD_AT_ZERO, _CONVERGED)),
    claims.Claim(
        '003 Q2', 'It is generally okay to initialize the bias terms to 0 in '
        'a neural network, as long as the weights are initialized with some '
        'degree of randomness',
        tested_as='test accuracy with bias 0 not worse than with bias 0.1 by '
        'more than 1 point (non-inferiority), for every random initializer '
        f'(He, Glorot, LeCun, orthogonal; Holm), {SETTING} (a fixed budget)',
        rule=_zero_bias_fine, regime=(_RANDOM_TRAIN,)),
)


# -- the grid ------------------------------------------------------------------
def _looped_inits(config, values) -> List[Dict[str, Any]]:
  """The initializers whose members must loop rather than vmap. Orthogonal
  init runs a QR per layer. jaxlib 0.10's CPU QR kernel, batched over
  vmapped members, waits on the thread pool it runs in and deadlocks once
  more QRs run at once than the pool has threads (21 layers, 2 cores);
  looped members (a batch of 1 each) run it inline. The other initializers
  keep vmapping (a grid of its own), which saves minutes at 5 seeds."""
  looped = [v for v in values if v['model.kernel_init'] == 'orthogonal']
  if not looped or jax.default_backend() != 'cpu':
    return []
  if config.members == 'vmap':
    raise ConfigError('--config.members=vmap with orthogonal init deadlocks '
                      "jaxlib's batched CPU QR; use 'auto' or 'loop'")
  return looped


def _axes(values: List[Dict[str, Any]], biases: List[float]):
  """Passes: the plain inits at every bias start, those given with a number
  at the first bias start only (the claims about them read bias 0)."""
  plain = [v for v in values if len(v) == 1]
  numbered = [v for v in values if len(v) > 1]
  return ([{'init': plain, 'model.bias_init': biases}] if plain else []) + (
      [{'init': numbered, 'model.bias_init': biases[:1]}] if numbered else [])


def _shallow_hidden(config, values, depth: int
                    ) -> Optional[Tuple[int, ...]]:
  """The shallow arm's layer sizes (model.hidden: --shallow_depth = `depth`
  layers of the model's width), None when it does not run."""
  if depth < 0:
    raise ConfigError(f'--shallow_depth={depth}: need >= 0')
  if not depth or not any(v['model.kernel_init'] == 'normal' for v in values):
    return None
  model = config.model
  if model.name != 'mlp' or tuple(model.hidden):
    raise ConfigError(f'--shallow_depth={depth} is for the MLP of '
                      'config.model.depth x width; with --model='
                      f'{model.name} or config.model.hidden give '
                      '--shallow_depth=0')
  if depth >= model.depth:
    raise ConfigError(f'--shallow_depth={depth} is not shallower than '
                      f'config.model.depth={model.depth}')
  return (model.width,) * depth


def _grids(session, config, values, biases, hidden
           ) -> List[Tuple[str, Any]]:
  """The deep arm (orthogonal in a looped grid of its own on the CPU), then
  the shallow arm (`hidden`): He normal and the small normals at the first
  bias start."""
  looped = _looped_inits(config, values)
  loop_config = copy.deepcopy(config)
  loop_config.members = 'loop'
  grids = [(_axes([v for v in values if v not in looped], biases), config),
           (_axes(looped, biases), loop_config)]
  if hidden is not None:
    shallow = [v for v in values if v == {'model.kernel_init': 'he_normal'}
               or v['model.kernel_init'] == 'normal']
    grids.append(([{'model.hidden': [hidden], 'init': shallow,
                    'model.bias_init': biases[:1]}], config))
  return [('', ablation.run_grid(session, axes, cfg,
                                 final_hooks=[analysis.distinct_units_hook],
                                 axis_flags=AXIS_FLAGS))
          for axes, cfg in grids if axes]


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, inits: Optional[Sequence[str]] = None,
        bias_inits: Optional[Sequence] = None,
        shallow_depth: Optional[int] = None,
        session=None) -> ablation.Result:
  """Trains every initializer x bias start (and the shallow arm) and decides
  the claims. From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  inits=['he_normal', 'normal:0.01'], bias_inits=[0])`; the keywords are
  the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  inits = SCRIPT.axis('inits', session.size) if inits is None else inits
  bias_inits = (SCRIPT.axis('bias_inits', session.size) if bias_inits is None
                else bias_inits)
  depth = (SCRIPT.axis('shallow_depth', session.size) if shallow_depth is None
           else shallow_depth)
  values = parse_inits(inits)
  biases = cli.list_flag(bias_inits, float, 'bias_inits')
  # The axes' error first (as before run()), then the shallow arm's.
  ablation.check_axes(session, _axes(values, biases), AXIS_FLAGS)
  hidden = _shallow_hidden(config, values, depth)  # its errors before training
  grid = ablation.combine(_grids(session, config, values, biases, hidden))

  def rank(trial):  # deep before shallow, each in the order of --inits
    given = grid.groups[trial][0].config['overrides']
    init = {k: v for k, v in given.items() if k in INIT_PATHS}
    where = values.index(init) if init in values else len(values)
    return 'model.hidden' in given, where

  grid.trials = sorted(grid.trials, key=rank)  # a stable sort: biases stay
  line = ablation.run_line(config)
  if hidden is not None:
    line += (f'; the shallow arm (hidden=...): mlp {len(hidden)}x'
             f'{hidden[0]}, bias {biases[0]:g}')
  return ablation.conclude(session, grid, 'Initialization schemes', line,
                           grid.table(COLUMNS), CLAIMS, columns=COLUMNS)


def main(_):
  run(cli.resolved_config(), inits=_INITS.value, bias_inits=_BIAS_INITS.value,
      shallow_depth=_SHALLOW_DEPTH.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
