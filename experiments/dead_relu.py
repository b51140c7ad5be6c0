r"""When do ReLU units die, and do dead units come back?

The notes (seed 000, question 1) say a dead ReLU "gets stuck outputting 0"
and that "drastic updates to weights specially during initialization can
cause a dead ReLU" and "majority of input is negative combined with high
learning rates also can cause a dead ReLU"; seed 003, question 2 says a bias
start of 0.1 "can help to prevent the neurons from getting stuck in the zero
region of the ReLU"; question 3 says dead neurons "never recover because
their outputs are always zero"; question 4 recommends leaky ReLU "for deep
neural networks that use large learning rates, as they help to prevent the
dying ReLU problem".

The notes' deep MLP (20 hidden layers of 100 units, He normal, SGD with
momentum 0.9, batch 128), on the first 10,000 Fashion-MNIST training images
for 15 epochs (long enough for validation accuracy to flatten at the lower
learning rates, which the "stuck" and "never recover" claims need), 5 seeds,
trains in passes rather than one full product (each initializer gain, bias
start and activation is its own compiled program; the learning rate is
traced, so every learning rate and seed of one of them is ONE vmapped
program):
- the learning-rate sweep with ReLU, gain 1, bias 0 (the config's model):
  --lrs, a log grid up to where training breaks (0.1 diverges);
- at each of --contrast_lrs (which must be among --lrs, whose trial is the
  baseline): initializer gains --gains (model.init_gain multiplies the He
  normal std), bias starts --bias_inits, and activations --activations.

A unit is dead when it outputs exactly 0 with a zero derivative on every
example of a fixed probe of 512 validation images: no gradient reaches its
weights from them (dlexp/train/diagnostics.py). Leaky ReLU, ELU and SELU
units always pass gradient, so their dead fraction is 0 by construction;
never-positive (output <= 0 on every probe example) is their count of units
in the negative region. The runs log each layer's per-unit dead mask every
epoch (config diagnostics.unit_masks), so single units are followed across
epochs. A run that diverged has no end of training: its end-of-training
cells (test acc, dead @end, never-pos @end, val gain, the unit fates) are
empty, its failure is in the status, and no mean mixes it with runs that
trained. Columns (hidden units of all 20 layers; fractions are means over
the layers):

- test acc: test accuracy of the restored best epoch;
- dead @init, dead @ep1: dead fraction of the untrained network and after
  the first epoch; val acc @ep1: validation accuracy after the first epoch
  (whether a seed still learned then);
- dead peak: the largest dead fraction over the epochs with finite
  parameters (the untrained network's included; a run that later diverged
  counts with the units that died before);
- dead @end, never-pos @end: at the last epoch;
- val gain last 3: validation accuracy still gained at the end: the mean of
  the last 3 epochs minus the mean of the 3 before (near 0, or below, once
  training has converged);
- died: units (of 2000) dead at an epoch after being alive at an earlier one
  (dead from initialization on is not "became inactive"); recovered: of
  those, units alive at the last epoch; recovered %: recovered / died;
  stayed dead %: the rest (died and still dead at the last epoch);
  died L1, recovered L1: the same in the first hidden layer, whose inputs
  (the images) never change, so only its own weights could bring a unit
  back.

The verdicts (margins fixed in the code below, before any run):
- 000 Q1, negative input combined with high learning rates (one claim for
  the combination): bias -0.1 against 0, dead after epoch 1, at each
  contrast rate that is "high" (the sweep's peak dead fraction there 0.05
  above the lowest rate's) and where no seed of either arm had diverged by
  the end of epoch 1 (Holm; an existence claim: some rate suffices). Epoch
  1 comes before the divergence of the seeds that diverged, so no
  comparison mixes diverged and training runs;
- 000 Q1, drastic updates at initialization: gain 1.1 against 1, dead after
  epoch 1, at each contrast rate;
- 003 Q2: bias 0.1 against 0, dead @end, at each contrast rate, in
  converged runs with dead units at bias 0;
- 003 Q3 (an existence claim, "some ... can"): the share of the units that
  died still dead at the end above 5% at some sweep rate (Holm), each rate
  judged only where its runs converged (the others named in the note);
- 003 Q4: at the highest contrast rate (a "large" one, as above), leaky
  ReLU against ReLU: fewer seeds that diverged or ended at chance (Fisher),
  or a better test accuracy of the seeds that trained.

Dead is judged on the probe: a unit silent on those 512 images may still
fire on rare training images and get a gradient from them; between epochs
nothing is seen.

  python experiments/dead_relu.py                          # defaults above
  python experiments/dead_relu.py --lrs=0.001,0.01,0.1 --contrast_lrs=0.01 \
      --gains= --activations=leaky_relu                   # '' skips a pass
  python experiments/dead_relu.py --config.model.depth=5 --epochs=10

From Python: `run(size='smoke')`, or `run(config, workdir, gains=[])`.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

# 5 seeds: at lr >= 0.03 this 20-layer net turns float-level differences
# into percent-level ones within 16 steps (loop vs vmap: 1e-7 after 8 steps,
# 6% after 16), so 3 seeds left the contrasts at lr 0.03 within noise; and
# Fisher's test needs 5 a side to find 5/5 against 0/5 (p = 0.008).
# 15 epochs: the "stuck" and "never recover" claims need converged runs
# (validation accuracy no longer rising, PLATEAU below); in a 2-seed pilot
# at lr 0.003 and 0.01 it still rose 6-7 points from epochs 1-3 to 4-6 and
# less than 0.5 point from epochs 10-12 to 13-15 (lr 0.03 diverged).
SCRIPT = cli.define_flags(
    'dead_relu', model='mlp', epochs=15, seeds=5,
    smoke={'epochs': 6, 'seeds': 2, 'lrs': ['0.01', '0.1'],
           'contrast_lrs': ['0.1'], 'gains': ['1.1'],
           'bias_inits': ['0.1', '-0.1'],
           'activations': ['leaky_relu'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0,
          'lrs': ['0.001', '0.003', '0.01', '0.03', '0.1', '0.3']},
    config={'data.train_limit': 10000})
_LRS = SCRIPT.list_flag(
    'lrs', ['0.003', '0.01', '0.03', '0.1'],
    'ReLU learning-rate sweep (config.optimizer.learning_rate).')
_CONTRAST_LRS = SCRIPT.list_flag(
    'contrast_lrs', ['0.01', '0.03'],
    'Learning rates of the contrasting passes (each one of --lrs).')
_GAINS = SCRIPT.list_flag('gains', ['1.1'],
                          'Initializer gains to contrast (model.init_gain).')
_BIAS_INITS = SCRIPT.list_flag('bias_inits', ['0.1', '-0.1'],
                               'Bias starts to contrast (model.bias_init).')
_ACTIVATIONS = SCRIPT.list_flag(
    'activations', ['leaky_relu', 'elu', 'selu'],
    'Activations to contrast with ReLU (model.activation).')

LR = 'optimizer.learning_rate'
_DEAD = 'diag/dead_fraction'
CHANCE = 0.1  # Fashion-MNIST's 10 classes
# The smallest effects that matter, fixed before any number was seen:
MARGIN = 0.02  # dead fraction: 2% of the hidden units (40 of 2,000)
ACC_MARGIN = 0.01  # test accuracy: 1 point
# "Some neurons ... never recover": more than a trace of the units that
# died still dead at the end. A unit silent on the 512 probe images may
# still fire on a rarer training image (and get gradient from it), so up to
# 5% of the units that died looking dead at the end is read as that trace.
STAYED_BOUND = 5.0
# Converged: validation accuracy still rising by less than 1 point (the mean
# of the last 3 epochs against the 3 before; a 5,000-example validation
# split's standard error is ~0.5 point an epoch).
PLATEAU_EPOCHS, PLATEAU = 3, 0.01
# A learning rate is "high" where the ReLU sweep's peak dead fraction is at
# least this much above the lowest learning rate's.
HIGH_RISE = 0.05


# -- columns -------------------------------------------------------------------
def _diverged(run) -> bool:
  return report.status_of(run) == 'diverged'


def _finite_rows(run) -> List[Dict]:
  """Metrics rows with diagnostics and finite parameters (val loss)."""
  return [r for r in run.metrics
          if _DEAD in r and analysis.is_finite(r.get('val_loss'))]


def _at(key: str, epoch: int):
  def value(run) -> Optional[float]:
    rows = [r for r in _finite_rows(run) if r['epoch'] == epoch]
    return float(rows[0][key]) if rows and key in rows[0] else None
  return value


def _at_end(key: str):
  """At the last epoch; none for a run that diverged (it has no end of
  training: its dead units are counted in 'dead peak', its failure in the
  status)."""
  def value(run) -> Optional[float]:
    rows = _finite_rows(run)
    if _diverged(run) or not rows or key not in rows[-1]:
      return None
    return float(rows[-1][key])
  return value


def _peak(run) -> Optional[float]:
  rows = _finite_rows(run)
  return max(float(r[_DEAD]) for r in rows) if rows else None


def _test_acc(run) -> Optional[float]:
  """Test accuracy (restored best epoch); none for a run that diverged, so
  that no mean mixes diverged and trained runs (the status counts them)."""
  return None if _diverged(run) else run.final('test_accuracy')


def unit_fates(masks: np.ndarray) -> Dict[str, int]:
  """Units followed through their dead masks (epochs x units, epoch 0 the
  untrained network): died, dead at an epoch after being alive at an
  earlier one (a unit dead from initialization on never 'became'
  inactive); recovered, of those, alive at the last epoch."""
  masks = np.asarray(masks, bool)
  if masks.ndim != 2 or masks.shape[0] < 2:
    return dict(units=int(masks.shape[-1]) if masks.ndim else 0, died=0,
                recovered=0)
  alive_before = np.logical_or.accumulate(~masks, axis=0)[:-1]
  died = np.any(masks[1:] & alive_before, axis=0)
  return dict(units=int(masks.shape[1]), died=int(died.sum()),
              recovered=int((died & ~masks[-1]).sum()))


_FATES: Dict[str, Optional[Dict]] = {}


def _fates(run) -> Optional[Dict[str, Dict[str, int]]]:
  """unit_fates per hidden layer (network order) and 'all'; none for a run
  that diverged or logged no masks."""
  if run.directory not in _FATES:
    order = analysis.run_layer_order(run)
    rows = sorted((r for r in _finite_rows(run)
                   if any(k.endswith('/dead_units') for k in r)),
                  key=lambda r: r['epoch'])
    out = None
    if rows and order is not None and not _diverged(run):
      out = {}
      for layer in analysis.layer_names(rows[0], order, 'dead_units'):
        key = f'diag/{layer}/dead_units'
        out[layer] = unit_fates([r[key] for r in rows if key in r])
      out['all'] = {k: sum(v[k] for v in out.values())
                    for k in ('units', 'died', 'recovered')}
    _FATES[run.directory] = out
  return _FATES[run.directory]


def _fate(key: str, first_layer: bool = False):
  def value(run) -> Optional[float]:
    fates = _fates(run)
    if not fates:
      return None
    # Layers come in network order: the first is the first hidden layer.
    return float(fates[next(iter(fates)) if first_layer else 'all'][key])
  return value


def _recovered_percent(first_layer: bool = False, stayed: bool = False):
  """recovered / died in percent (with `stayed`, the rest: the units that
  died and were still dead at the last epoch)."""
  def value(run) -> Optional[float]:
    fates = _fates(run)
    if not fates:
      return None
    counts = fates[next(iter(fates)) if first_layer else 'all']
    if not counts['died']:
      return None
    recovered = 100.0 * counts['recovered'] / counts['died']
    return 100.0 - recovered if stayed else recovered
  return value


TEST = report.Column('test acc', _test_acc, '.4f')
DEAD_INIT = report.Column('dead @init', _at(_DEAD, 0), '.3f')
DEAD_EP1 = report.Column('dead @ep1', _at(_DEAD, 1), '.3f')
VAL_EP1 = report.Column('val acc @ep1', _at('val_accuracy', 1), '.3f')
DEAD_PEAK = report.Column('dead peak', _peak, '.3f')
DEAD_END = report.Column('dead @end', _at_end(_DEAD), '.3f')
NEVER_POS_END = report.Column(
    'never-pos @end', _at_end('diag/never_positive_fraction'), '.3f')
VAL_GAIN = report.still_gaining('val_accuracy', PLATEAU_EPOCHS)
DIED = report.Column('died', _fate('died'), '.0f')
RECOVERED = report.Column('recovered', _fate('recovered'), '.0f')
RECOVERED_PCT = report.Column('recovered %', _recovered_percent(), '.0f')
STAYED_PCT = report.Column('stayed dead %',
                           _recovered_percent(stayed=True), '.0f')
DIED_L1 = report.Column('died L1', _fate('died', True), '.0f')
RECOVERED_L1 = report.Column('recovered L1', _fate('recovered', True), '.0f')
COLUMNS = (TEST, DEAD_INIT, DEAD_EP1, VAL_EP1, DEAD_PEAK, DEAD_END,
           NEVER_POS_END, VAL_GAIN, DIED, RECOVERED, RECOVERED_PCT,
           STAYED_PCT, DIED_L1, RECOVERED_L1, report.default_column('wall s'))


# -- finding trials ------------------------------------------------------------
def _trial(ev: claims.Evidence, lr: float, **contrast) -> str:
  """The trial with exactly these overrides (the learning rate and at most
  one contrast), so a sweep trial is never mistaken for a contrast one."""
  return ev.exact_trial(learning_rate=lr, **contrast)


def _axes(ev: claims.Evidence, name: str) -> Dict:
  return {k.split('.')[-1]: v
          for k, v in ev.table[name].get('overrides', {}).items()}


def _sweep(ev: claims.Evidence) -> List[float]:
  """The sweep's learning rates (trials with no other override), sorted."""
  return sorted({_axes(ev, t)['learning_rate'] for t in ev.trials
                 if set(_axes(ev, t)) == {'learning_rate'}})


def _contrast_values(ev: claims.Evidence, key: str) -> List:
  """The values of contrast `key` in the grid, in grid order."""
  out = []
  for t in ev.trials:
    axes = _axes(ev, t)
    if set(axes) == {key, 'learning_rate'} and axes[key] not in out:
      out.append(axes[key])
  return out


def _contrast_lrs(ev: claims.Evidence, **contrast) -> List[float]:
  """Sweep learning rates at which the grid also has the `contrast` trial."""
  out = [lr for lr in _sweep(ev) if _has_exact(ev, lr, **contrast)]
  if not out:
    raise claims.MissingTrial(f'no trial with {contrast} and its sweep '
                              'baseline in this grid')
  return out


def _has_exact(ev: claims.Evidence, lr: float, **contrast) -> bool:
  try:
    ev.exact_trial(learning_rate=lr, **contrast)
    ev.exact_trial(learning_rate=lr)
    return True
  except claims.MissingTrial:
    return False


def _one(values: List, what: str, pick) -> Any:
  if not values:
    raise claims.MissingTrial(f'needs {what} in the grid')
  return pick(values)


def _large_gain(ev) -> float:
  return _one([g for g in _contrast_values(ev, 'init_gain') if g > 1],
              'a gain > 1 (--gains)', max)


def _negative_bias(ev) -> float:
  return _one([b for b in _contrast_values(ev, 'bias_init') if b < 0],
              'a negative bias (--bias_inits)', min)


def _top_lr(ev, **contrast) -> float:
  return max(_contrast_lrs(ev, **contrast))


# -- samples -------------------------------------------------------------------
def _dead(ev: claims.Evidence, trial: str, column, name: str
          ) -> claims.Sample:
  """A dead-unit column. Seeds that ended at chance are kept: a network
  whose units died is the phenomenon (the verdict's note counts them)."""
  return ev.sample(trial, column, name, keep_collapsed=True)


def _outcomes(ev: claims.Evidence, trials: Dict[str, str]) -> str:
  """'diverged/collapsed seeds: lr 0.01 0/5, 0/5; ...' for a verdict note."""
  return 'diverged, ended at chance: ' + '; '.join(
      f'{name} {ev.count(t, claims.DIVERGED).k}/{ev.seeds(t)}, '
      f'{ev.count(t, claims.COLLAPSED).k}/{ev.seeds(t)}'
      for name, t in trials.items())


def _failed(ev: claims.Evidence, trial: str, name: str) -> claims.Count:
  """Seeds that diverged or ended at chance: training failed."""
  diverged = ev.count(trial, claims.DIVERGED)
  collapsed = ev.count(trial, claims.COLLAPSED)
  return claims.Count(diverged.k + collapsed.k, diverged.n, name,
                      'diverged or ended at chance')


def _pooled(ev: claims.Evidence, trials: List[str], column) -> np.ndarray:
  return np.concatenate([ev.sample(t, column, keep_collapsed=True).values
                         for t in trials] or [np.zeros(0)])


# -- claims --------------------------------------------------------------------
def _rise(ev: claims.Evidence, lr: float) -> Optional[float]:
  """The ReLU sweep's peak dead fraction at `lr` minus the lowest sweep
  learning rate's (difference of the seed means); None without values."""
  lrs = _sweep(ev)
  high = _dead(ev, _trial(ev, lr), DEAD_PEAK, 'high').values
  low = _dead(ev, _trial(ev, lrs[0]), DEAD_PEAK, 'low').values
  if not (high.size and low.size):
    return None
  return float(high.mean() - low.mean())


def _no_value(ev: claims.Evidence, trial: str, column) -> int:
  """Seeds of `trial` without a finite value of `column`."""
  return ev.count(trial, key=column, where=lambda v: v is None or
                  not np.isfinite(v)).k


def _negative_input_lrs(ev: claims.Evidence
                        ) -> Tuple[List[float], Dict[float, str]]:
  """The bias contrast's learning rates where the combination is tested:
  high (the ReLU sweep's peak dead fraction there at least HIGH_RISE above
  the lowest rate's) and with a dead fraction after epoch 1 in every seed
  of both arms (finite parameters: no seed had diverged by then); and,
  for each other one, why it is left out."""
  bias = _negative_bias(ev)
  kept, left = [], {}
  for lr in _contrast_lrs(ev, bias_init=bias):
    rise = _rise(ev, lr)
    arms = {f'bias {bias:g}': _trial(ev, lr, bias_init=bias),
            'bias 0': _trial(ev, lr)}
    early = {name: _no_value(ev, t, DEAD_EP1) for name, t in arms.items()}
    if rise is None or rise < HIGH_RISE:
      left[lr] = (f'not high (the sweep\'s peak dead fraction '
                  f'{"n/a" if rise is None else f"{rise:+.3f}"} against the '
                  f'lowest rate\'s, under +{HIGH_RISE:g})')
    elif any(early.values()):
      left[lr] = 'diverged before epoch 1 (' + ', '.join(
          f'{name} {k}/{ev.seeds(arms[name])}' for name, k in early.items()
      ) + ')'
    else:
      kept.append(lr)
  return kept, left


def _negative_input(ev: claims.Evidence) -> claims.Verdict:
  """At each high learning rate of the bias contrast where no seed had
  diverged by the end of epoch 1: dead fraction after epoch 1, the
  negative bias start against bias 0 (seeds that later diverged or ended
  at chance are kept: their epoch-1 values come before)."""
  bias = _negative_bias(ev)
  lrs, left = _negative_input_lrs(ev)
  learning = lambda t: ev.count(
      t, key=VAL_EP1, where=lambda v: v is not None and v > CHANCE
      + report.CHANCE_MARGIN).k
  cases, notes = [], []
  for lr in lrs:
    neg, base = _trial(ev, lr, bias_init=bias), _trial(ev, lr)
    cases.append((f'lr {lr:g}', claims.greater(
        _dead(ev, neg, DEAD_EP1, f'bias {bias:g}'),
        _dead(ev, base, DEAD_EP1, 'bias 0'), MARGIN,
        f'dead fraction after epoch 1 at lr {lr:g}', fmt='.3f')))
    notes.append(
        f'lr {lr:g}: val acc after epoch 1 above chance in bias {bias:g} '
        f'{learning(neg)}/{ev.seeds(neg)}, bias 0 '
        f'{learning(base)}/{ev.seeds(base)}; dead @init bias {bias:g} '
        f'{claims.describe(_dead(ev, neg, DEAD_INIT, "").values, ".3f")} vs '
        f'bias 0 '
        f'{claims.describe(_dead(ev, base, DEAD_INIT, "").values, ".3f")}; '
        + _outcomes(ev, {f'bias {bias:g}': neg, 'bias 0': base}))
  for lr, why in left.items():
    neg, base = _trial(ev, lr, bias_init=bias), _trial(ev, lr)
    notes.append(
        f'left out: lr {lr:g}, {why}; there dead @ep1 bias {bias:g} '
        f'{claims.describe(_dead(ev, neg, DEAD_EP1, "").values, ".3f")} vs '
        f'bias 0 '
        f'{claims.describe(_dead(ev, base, DEAD_EP1, "").values, ".3f")}')
  return claims.across(cases, 'any').with_note('; '.join(notes))


def _drastic_init(ev: claims.Evidence) -> claims.Verdict:
  gain = _large_gain(ev)
  cases, trials = [], {}
  for lr in _contrast_lrs(ev, init_gain=gain):
    large, base = _trial(ev, lr, init_gain=gain), _trial(ev, lr)
    trials.update({f'gain {gain:g} lr {lr:g}': large,
                   f'gain 1 lr {lr:g}': base})
    cases.append((f'lr {lr:g}', claims.greater(
        _dead(ev, large, DEAD_EP1, f'gain {gain:g}'),
        _dead(ev, base, DEAD_EP1, 'gain 1'), MARGIN,
        f'dead fraction after epoch 1 at lr {lr:g}', fmt='.3f')))
  return claims.across(cases, 'any').with_note(_outcomes(ev, trials))


def _positive_bias(ev: claims.Evidence) -> claims.Verdict:
  """Dead fraction at the end of training (seeds that diverged have none),
  bias 0.1 against bias 0, at each contrast learning rate."""
  cases, trials = [], {}
  for lr in _contrast_lrs(ev, bias_init=0.1):
    shifted, base = _trial(ev, lr, bias_init=0.1), _trial(ev, lr)
    trials.update({f'bias 0.1 lr {lr:g}': shifted, f'bias 0 lr {lr:g}': base})
    cases.append((f'lr {lr:g}', claims.less(
        _dead(ev, shifted, DEAD_END, 'bias 0.1'),
        _dead(ev, base, DEAD_END, 'bias 0'), MARGIN,
        f'dead fraction at the end at lr {lr:g}', fmt='.3f')))
  return claims.across(cases, 'any').with_note(_outcomes(ev, trials))


def _converged_sweep(ev: claims.Evidence) -> Tuple[List[float], List[str]]:
  """The sweep learning rates whose runs converged (VAL_GAIN, the mean of
  the seeds that trained to the end, at most PLATEAU), and, for each other
  one, why it is left out."""
  kept, left = [], []
  for lr in _sweep(ev):
    gains = ev.sample(_trial(ev, lr), VAL_GAIN, keep_collapsed=True).values
    if not gains.size:
      left.append(f'lr {lr:g} (no seed trained to the end)')
    elif gains.mean() > PLATEAU:
      left.append(f'lr {lr:g} (not converged: val acc still gained '
                  f'{gains.mean():+.3f} > {PLATEAU:g})')
    else:
      kept.append(lr)
  return kept, left


def _never_recover(ev: claims.Evidence) -> claims.Verdict:
  """Per sweep learning rate whose runs converged: of the units that died
  during training, the share still dead at the last epoch is above
  STAYED_BOUND (some did not recover; an existence claim: one rate
  suffices)."""
  lrs, left = _converged_sweep(ev)
  cases, notes = [], []
  for lr in lrs:
    trial = _trial(ev, lr)
    cases.append((f'lr {lr:g}', claims.above(
        ev.sample(trial, STAYED_PCT, f'lr {lr:g}', keep_collapsed=True),
        STAYED_BOUND, '% of the units that died during training still dead '
        'on the probe at the end', fmt='.1f')))
    recovered = ev.sample(trial, RECOVERED_PCT, keep_collapsed=True).values
    notes.append(
        f'lr {lr:g}: {claims.describe(recovered, ".1f")}, first hidden '
        f'layer {claims.describe(ev.values(trial, RECOVERED_L1), ".0f")} of '
        f'{claims.describe(ev.values(trial, DIED_L1), ".0f")} units that '
        'died')
  verdict = claims.across(cases, 'any')
  if left:
    verdict = verdict.with_note('left out: ' + '; '.join(left))
  return verdict.with_note(
      '% of the units that died alive again at the end (recovered; the '
      'first hidden layer\'s inputs never change, so only its own weights '
      'could revive a unit there): ' + '; '.join(notes))


def _leaky_large_lr(ev: claims.Evidence) -> claims.Verdict:
  """At the highest learning rate of the activation contrast: fewer failed
  seeds, or a higher test accuracy of the seeds that trained."""
  lr = _top_lr(ev, activation='leaky_relu')
  leaky, relu = _trial(ev, lr, activation='leaky_relu'), _trial(ev, lr)
  verdict = claims.across([
      ('fewer failed seeds', claims.rate_greater(
          _failed(ev, relu, 'ReLU'), _failed(ev, leaky, 'leaky ReLU'),
          f'seeds that diverged or ended at chance at lr {lr:g}')),
      ('better test accuracy', claims.greater(
          ev.sample(leaky, TEST, 'leaky ReLU'), ev.sample(relu, TEST, 'ReLU'),
          ACC_MARGIN, f'test accuracy of the seeds that trained at lr '
          f'{lr:g}'))], 'any')
  return verdict.with_note(
      f'never-positive at the end (leaky units still pass gradient) '
      f'{claims.describe(ev.values(leaky, NEVER_POS_END), ".3f")} vs ReLU '
      f'dead at the end {claims.describe(ev.values(relu, DEAD_END), ".3f")}')


# -- preconditions -------------------------------------------------------------
def _trains_at_low(ev: claims.Evidence) -> claims.Sample:
  lrs = _sweep(ev)
  if not lrs:
    raise claims.MissingTrial('no learning-rate sweep in this grid')
  return ev.sample(_trial(ev, lrs[0]), TEST)


_LOW_TRAINS = claims.requires(
    'ReLU at the lowest sweep learning rate trains above chance (test acc)',
    _trains_at_low, '>=', CHANCE + 0.1)


def _rise_at(top_lr) -> Any:
  """_rise at the learning rate `top_lr(ev)` (no value: none)."""
  def get(ev):
    rise = _rise(ev, top_lr(ev))
    return np.zeros(0) if rise is None else rise
  return get


def _high(what: str, top_lr) -> claims.Requirement:
  return claims.requires(
      f'{what} is high: the ReLU sweep\'s peak dead fraction there minus the '
      'lowest learning rate\'s', _rise_at(top_lr), '>=', HIGH_RISE)


def _converged(what: str, trials) -> claims.Requirement:
  """Validation accuracy still gained at the end (VAL_GAIN), the seeds of
  `trials(ev)` pooled (a run that diverged has no value)."""
  return claims.requires(
      f'training converged ({what}): val acc still gained (mean of the last '
      f'{PLATEAU_EPOCHS} epochs minus the {PLATEAU_EPOCHS} before)',
      lambda ev: _pooled(ev, trials(ev), VAL_GAIN), '<=', PLATEAU)


def _bias_trials(ev) -> List[str]:
  return [t for lr in _contrast_lrs(ev, bias_init=0.1)
          for t in (_trial(ev, lr, bias_init=0.1), _trial(ev, lr))]


def _sweep_trials(ev) -> List[str]:
  return [_trial(ev, lr) for lr in _sweep(ev)]


CLAIMS = (
    claims.Claim(
        '000 Q1', 'majority of input is negative combined with high learning '
        'rates also can cause a dead ReLU',
        tested_as='the combination: every bias starting at -0.1 (each '
        'unit\'s input shifted down; with zero-mean weights a majority of it '
        'is negative at initialization, though only slightly) against bias 0, '
        'dead fraction after epoch 1 (before any seed diverged; seeds that '
        'later diverged or ended at chance kept), at each learning rate of '
        'the bias contrast that is high (the ReLU sweep\'s peak dead '
        'fraction there >= 0.05 above the lowest rate\'s) and where every '
        'seed of both arms still had finite parameters after epoch 1 '
        '(Holm), 20x100 ReLU MLP (He normal, SGD momentum 0.9, 10,000 '
        'Fashion-MNIST images), margin 0.02; an existence claim ("can '
        'cause"); the note shows the same contrast at the left-out (lower) '
        'rates and the seeds still learning after epoch 1',
        rule=_negative_input, existence=True,
        regime=(_LOW_TRAINS, claims.requires(
            'a high learning rate of the bias contrast where every seed of '
            'both bias arms has a dead fraction after epoch 1 (none diverged '
            'before): how many', lambda ev: float(len(
                _negative_input_lrs(ev)[0])), '>=', 1))),
    claims.Claim(
        '000 Q1', 'drastic updates to weights specially during '
        'initialization can cause a dead ReLU',
        tested_as='proxy: drastic early updates made by an initialization '
        '1.1x He\'s std (the 20 layers amplify the forward signal and the '
        'first gradients by up to 1.1^20), dead fraction after the first '
        'epoch against gain 1, at each contrast learning rate (Holm), margin '
        '0.02; an existence claim',
        rule=_drastic_init, existence=True, regime=(_LOW_TRAINS,)),
    claims.Claim(
        '003 Q2', 'initializing the bias terms to a small positive value '
        '(e.g. 0.1) can help to prevent the neurons from getting stuck in the '
        'zero region of the ReLU',
        tested_as='dead fraction at the end of training (seeds that did not '
        'diverge), bias 0.1 against bias 0, at each contrast learning rate '
        '(Holm), 20x100 ReLU MLP, margin 0.02, in converged runs; an '
        'existence claim ("can help")',
        rule=_positive_bias, existence=True,
        regime=(claims.requires(
            'ReLU units are stuck with bias 0 (dead @end at the contrast '
            'learning rates, seeds pooled)', lambda ev: _pooled(
                ev, _bias_trials(ev)[1::2], DEAD_END), '>=', 0.01),
                _converged('bias 0 and 0.1 at the contrast learning rates',
                           _bias_trials))),
    claims.Claim(
        '003 Q3', 'some neurons can become inactive during training and '
        'never recover because their outputs are always zero',
        tested_as='an existence claim ("some ... can"): of the units that '
        'died during training (dead on every probe example at an epoch after '
        'being alive), the share still dead at the last epoch, above 5% at '
        'some sweep learning rate whose runs converged (Holm; a rate not '
        'converged is left out and named), 20x100 ReLU MLP, seeds that did '
        'not diverge; in the default run most of the units that died '
        '(70-75%) were alive again at the end (the note gives the recovered '
        'share); "dead" is judged on a probe of 512 validation images: a '
        'unit silent on the probe may still fire on, and get gradient from, '
        'other training examples, so "never recover" holds up to what the '
        'probe sees',
        rule=_never_recover, existence=True,
        regime=(claims.requires(
            'units die during training (died, the sweep\'s seeds pooled)',
            lambda ev: _pooled(ev, _sweep_trials(ev), DIED), '>=', 20),
                claims.requires(
            'a sweep learning rate whose runs converged (val acc still '
            f'gained, mean of the last {PLATEAU_EPOCHS} epochs minus the '
            f'{PLATEAU_EPOCHS} before, <= {PLATEAU:g}): how many',
            lambda ev: float(len(_converged_sweep(ev)[0])), '>=', 1))),
    claims.Claim(
        '003 Q4', 'Leaky ReLU ... can be a good choice for deep neural '
        'networks that use large learning rates, as they help to prevent the '
        'dying ReLU problem',
        tested_as='20x100 MLP at the highest contrast learning rate, leaky '
        'ReLU (slope 0.01) against ReLU: fewer seeds that diverged or ended '
        'at chance (Fisher), or a higher test accuracy of the seeds that '
        'trained (margin 0.01); leaky units cannot be dead by construction, '
        'so "prevent the dying ReLU problem" is judged by its cost, not by '
        'counting dead units; an existence claim ("can be")',
        rule=_leaky_large_lr, existence=True,
        regime=(_high('the activation contrast\'s highest learning rate',
                      lambda ev: _top_lr(ev, activation='leaky_relu')),)),
)


# -- the grid ------------------------------------------------------------------
def _floats(values: Sequence, name: str, allow_empty: bool) -> List[float]:
  # '' is an empty flag item; a float 0.0 from Python is a value
  if allow_empty and not [v for v in values if v != '']:
    return []
  return cli.list_flag(values, float, name)


def passes(lrs, contrast_lrs, gains, bias_inits, activations) -> List[Dict]:
  """The sweep, then one pass per non-empty contrast."""
  missing = [lr for lr in contrast_lrs if lr not in lrs]
  if missing:
    raise ConfigError(f'--contrast_lrs={",".join(map(str, missing))} not in '
                      f'--lrs ({",".join(map(str, lrs))}): each contrast '
                      'needs its ReLU baseline at the same learning rate')
  grids = [{LR: lrs}]
  for path, values in (('model.init_gain', gains),
                       ('model.bias_init', bias_inits),
                       ('model.activation', activations)):
    if values and contrast_lrs:
      grids.append({path: values, LR: contrast_lrs})
  return grids


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, lrs: Optional[Sequence] = None,
        contrast_lrs: Optional[Sequence] = None,
        gains: Optional[Sequence] = None,
        bias_inits: Optional[Sequence] = None,
        activations: Optional[Sequence[str]] = None,
        session=None) -> ablation.Result:
  """Trains the learning-rate sweep and the contrasts and decides the
  claims. From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  lrs=[0.01, 0.1], contrast_lrs=[0.1], gains=[])` ([] skips a pass); the
  command line's flags give the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  lrs = SCRIPT.axis('lrs', session.size) if lrs is None else lrs
  contrast_lrs = (SCRIPT.axis('contrast_lrs', session.size)
                  if contrast_lrs is None else contrast_lrs)
  gains = SCRIPT.axis('gains', session.size) if gains is None else gains
  bias_inits = (SCRIPT.axis('bias_inits', session.size)
                if bias_inits is None else bias_inits)
  activations = (SCRIPT.axis('activations', session.size)
                 if activations is None else activations)
  if 'diagnostics.unit_masks' not in session.given:
    config.diagnostics.unit_masks = True  # revival needs per-unit masks
  grids = passes(_floats(lrs, 'lrs', False),
                 _floats(contrast_lrs, 'contrast_lrs', True),
                 _floats(gains, 'gains', True),
                 _floats(bias_inits, 'bias_inits', True),
                 [a for a in activations if a])
  return ablation.run_ablation(
      session, grids, config, COLUMNS, title='Dead ReLUs',
      axis_flags={LR: 'lrs', 'model.init_gain': 'gains',
                  'model.bias_init': 'bias_inits',
                  'model.activation': 'activations'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), lrs=_LRS.value, contrast_lrs=_CONTRAST_LRS.value,
      gains=_GAINS.value, bias_inits=_BIAS_INITS.value,
      activations=_ACTIVATIONS.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
