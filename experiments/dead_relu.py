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
by default, trains in passes rather than one full product (each initializer
gain, bias start and activation is its own compiled program; the learning
rate is traced, so every learning rate and seed of one of them is ONE
vmapped program):
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
epochs. Columns (hidden units of all 20 layers; fractions are means over the
layers):

- test acc: test accuracy of the restored best epoch;
- dead @init, dead @ep1: dead fraction of the untrained network and after
  the first epoch;
- dead peak, dead @end: the largest dead fraction over the epochs (the
  untrained network's included), and the one of the last epoch with finite
  parameters (a diverged member's epochs after divergence are left out);
- never-pos @end: never-positive fraction at that epoch;
- ever dead: units (of 2000) dead at one logged epoch at least, epoch 0
  included; revived: of those, units dead at one epoch and alive at a later
  one; revived %: revived / ever dead; revived L1: revived units of the first
  hidden layer, whose inputs (the images) never change, so only its own
  weights can bring a unit back.

Dead is judged on the probe: a unit silent on those 512 images may still
fire on rare training images and get a gradient from them; between epochs
nothing is seen.

  python experiments/dead_relu.py                          # defaults below
  python experiments/dead_relu.py --lrs=0.001,0.01,0.1 --contrast_lrs=0.01 \
      --gains= --activations=leaky_relu                   # '' skips a pass
  python experiments/dead_relu.py --config.model.depth=5 --epochs=10
"""
from typing import Dict, List, Optional

from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_LRS = flags.DEFINE_list(
    'lrs', ['0.003', '0.01', '0.03', '0.1'],
    'ReLU learning-rate sweep (config.optimizer.learning_rate).')
_CONTRAST_LRS = flags.DEFINE_list(
    'contrast_lrs', ['0.01', '0.03'],
    'Learning rates of the contrasting passes (each one of --lrs).')
_GAINS = flags.DEFINE_list('gains', ['0.5', '1.1'],
                           'Initializer gains to contrast (model.init_gain).')
_BIAS_INITS = flags.DEFINE_list('bias_inits', ['0.1', '-0.1'],
                                'Bias starts to contrast (model.bias_init).')
_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['leaky_relu', 'elu', 'selu'],
    'Activations to contrast with ReLU (model.activation).')

# 5 seeds: at lr >= 0.03 this 20-layer net turns float-level differences
# into percent-level ones within 16 steps (loop vs vmap: 1e-7 after 8 steps,
# 6% after 16), so 3 seeds left the contrasts at lr 0.03 within noise.
cli.define_flags(
    'dead_relu', model='mlp', epochs=5, seeds=5,
    smoke={'epochs': 1, 'seeds': 2, 'lrs': ['0.01', '0.1'],
           'contrast_lrs': ['0.1'], 'gains': ['1.1'],
           'bias_inits': ['0.1', '-0.1'],
           'activations': ['leaky_relu'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0,
          'lrs': ['0.001', '0.003', '0.01', '0.03', '0.1', '0.3']},
    config={'data.train_limit': 10000})

LR = 'optimizer.learning_rate'
_DEAD = 'diag/dead_fraction'


# -- columns -------------------------------------------------------------------
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
  def value(run) -> Optional[float]:
    rows = _finite_rows(run)
    return float(rows[-1][key]) if rows and key in rows[-1] else None
  return value


def _peak(run) -> Optional[float]:
  rows = _finite_rows(run)
  return max(float(r[_DEAD]) for r in rows) if rows else None


_REVIVAL: Dict[str, Optional[Dict]] = {}


def _revival(run) -> Optional[Dict]:
  if run.directory not in _REVIVAL:
    _REVIVAL[run.directory] = analysis.unit_revival(run)
  return _REVIVAL[run.directory]


def _count(key: str, first_layer: bool = False):
  def value(run) -> Optional[float]:
    counts = _revival(run)
    if not counts:
      return None
    # Layers come in network order: the first is the first hidden layer.
    layer = next(iter(counts)) if first_layer else 'all'
    return float(counts[layer][key])
  return value


def _revived_percent(run) -> Optional[float]:
  counts = _revival(run)
  if not counts or not counts['all']['ever_dead']:
    return None
  return 100.0 * counts['all']['revived'] / counts['all']['ever_dead']


DEAD_INIT = report.Column('dead @init', _at(_DEAD, 0), '.3f')
DEAD_EP1 = report.Column('dead @ep1', _at(_DEAD, 1), '.3f')
DEAD_PEAK = report.Column('dead peak', _peak, '.3f')
DEAD_END = report.Column('dead @end', _at_end(_DEAD), '.3f')
NEVER_POS_END = report.Column(
    'never-pos @end', _at_end('diag/never_positive_fraction'), '.3f')
EVER_DEAD = report.Column('ever dead', _count('ever_dead'), '.0f')
REVIVED = report.Column('revived', _count('revived'), '.0f')
REVIVED_PCT = report.Column('revived %', _revived_percent, '.0f')
REVIVED_L1 = report.Column('revived L1', _count('revived', True), '.0f')
COLUMNS = (report.DEFAULT_COLUMNS[1], DEAD_INIT, DEAD_EP1, DEAD_PEAK, DEAD_END,
           NEVER_POS_END, EVER_DEAD, REVIVED, REVIVED_PCT, REVIVED_L1,
           report.DEFAULT_COLUMNS[3])


# -- finding trials ------------------------------------------------------------
def _trial(ev: claims.Evidence, lr: float, **contrast) -> str:
  """The trial with exactly these overrides (the learning rate and at most
  one contrast), so a sweep trial is never mistaken for a contrast one."""
  trial = ev.exact_trial(learning_rate=lr, **contrast)
  if trial is None:
    raise KeyError(f'no trial {dict(learning_rate=lr, **contrast)} in this '
                   'grid')
  return trial


def _values_of(ev: claims.Evidence, key: str) -> List:
  """The values `key` takes in the trials of the grid, in order (for the
  sweep, key 'learning_rate', only those of the sweep), sorted when
  numbers."""
  out = []
  for name in ev.trials:
    overrides = {k.split('.')[-1]: v for k, v in
                 (ev.groups[name][0].config.get('overrides') or {}).items()}
    wanted = {'learning_rate'} if key == 'learning_rate' else {
        key, 'learning_rate'}
    if set(overrides) == wanted and overrides[key] not in out:
      out.append(overrides[key])
  return sorted(out) if all(isinstance(v, float) for v in out) else out


def _sweep(ev: claims.Evidence) -> List[float]:
  return _values_of(ev, 'learning_rate')


def _combine(verdicts: List[claims.Verdict]) -> claims.Verdict:
  """Supported if some comparison supports and none contradicts (and the
  other way round); some each way: depends."""
  kinds = {v.verdict for v in verdicts}
  if claims.SUPPORTED in kinds and claims.CONTRADICTED in kinds:
    verdict = claims.DEPENDS
  elif claims.SUPPORTED in kinds:
    verdict = claims.SUPPORTED
  elif claims.CONTRADICTED in kinds:
    verdict = claims.CONTRADICTED
  else:
    verdict = claims.INCONCLUSIVE
  return claims.Verdict(verdict, '; '.join(v.evidence for v in verdicts))


def _contrast_lrs(ev: claims.Evidence, **contrast) -> List[float]:
  """Sweep learning rates at which the grid also has the `contrast` trial."""
  out = [lr for lr in _sweep(ev)
         if ev.exact_trial(learning_rate=lr, **contrast) is not None]
  if not out:
    raise KeyError(f'no trial with {contrast} in this grid')
  return out


# -- claims --------------------------------------------------------------------
def _curve(ev: claims.Evidence, column: report.Column) -> str:
  return ', '.join(
      f'lr {lr:g}: {claims.describe(ev.values(_trial(ev, lr), column), ".3f")}'
      for lr in _sweep(ev))


def _high_lr(ev: claims.Evidence) -> claims.Verdict:
  lrs = _sweep(ev)
  if len(lrs) < 2:
    raise KeyError('the sweep needs two learning rates')
  verdict = claims.compare(ev.values(_trial(ev, lrs[-1]), DEAD_PEAK),
                           ev.values(_trial(ev, lrs[0]), DEAD_PEAK),
                           'peak dead fraction', f'lr {lrs[-1]:g}',
                           f'lr {lrs[0]:g}', fmt='.3f')
  return claims.Verdict(verdict.verdict, f'{verdict.evidence}; dead @end by '
                        f'lr: {_curve(ev, DEAD_END)}')


def _contrast(ev: claims.Evidence, column: report.Column, what: str,
              expect: int, **contrast) -> claims.Verdict:
  """`contrast` against the sweep trial at each contrast learning rate."""
  (key, value), = contrast.items()
  name = f'{key} {value:g}' if isinstance(value, float) else str(value)
  return _combine([claims.compare(
      ev.values(_trial(ev, lr, **contrast), column),
      ev.values(_trial(ev, lr), column), f'{what} at lr {lr:g}', name,
      'the sweep', expect=expect, fmt='.3f')
                   for lr in _contrast_lrs(ev, **contrast)])


def _negative_input(ev: claims.Evidence) -> claims.Verdict:
  """Decided at the highest contrast learning rate (the claim's 'combined
  with high learning rates'); the lower ones are quoted."""
  negative = [b for b in _values_of(ev, 'bias_init') if b < 0]
  if not negative:
    raise KeyError('needs a negative bias in --bias_inits')
  bias = min(negative)
  lrs = _contrast_lrs(ev, bias_init=bias)
  compare = lambda lr: claims.compare(
      ev.values(_trial(ev, lr, bias_init=bias), DEAD_END),
      ev.values(_trial(ev, lr), DEAD_END), f'dead fraction @end at lr {lr:g}',
      f'bias_init {bias:g}', 'the sweep', fmt='.3f')
  verdict = compare(lrs[-1])
  lower = '; '.join(compare(lr).evidence for lr in lrs[:-1])
  return claims.Verdict(verdict.verdict, verdict.evidence + (
      f'; at lower learning rates: {lower}' if lower else ''))


def _drastic_init(ev: claims.Evidence) -> claims.Verdict:
  large = [g for g in _values_of(ev, 'init_gain') if g > 1]
  if not large:
    raise KeyError('needs a gain > 1 in --gains')
  return _contrast(ev, DEAD_EP1, 'dead fraction after epoch 1', +1,
                   init_gain=max(large))


def _positive_bias(ev: claims.Evidence) -> claims.Verdict:
  return _contrast(ev, DEAD_END, 'dead fraction @end', -1, bias_init=0.1)


def _never_recover(ev: claims.Evidence) -> claims.Verdict:
  """Revived units in every sweep run that had dead units contradict it."""
  parts, revived_all, any_dead = [], [], False
  for lr in _sweep(ev):
    trial = _trial(ev, lr)
    ever = ev.values(trial, EVER_DEAD)
    revived = ev.values(trial, REVIVED)
    first = ev.values(trial, REVIVED_L1)
    any_dead |= bool(ever.size and ever.max() > 0)
    revived_all.append(revived)
    parts.append(f'lr {lr:g}: {claims.describe(revived, ".0f")} of '
                 f'{claims.describe(ever, ".0f")} ever-dead units revived '
                 f'(first layer {claims.describe(first, ".0f")})')
  text = '; '.join(parts)
  if not any_dead:
    return claims.Verdict(claims.INCONCLUSIVE, 'no unit died: ' + text)
  values = [v for v in revived_all if v.size]
  if values and all(v.min() > 0 for v in values):
    return claims.Verdict(claims.CONTRADICTED, text)
  if values and all(v.max() == 0 for v in values):
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(claims.DEPENDS, text)


def _leaky_large_lr(ev: claims.Evidence) -> claims.Verdict:
  lr = max(_contrast_lrs(ev, activation='leaky_relu'))
  leaky, relu = _trial(ev, lr, activation='leaky_relu'), _trial(ev, lr)
  verdict = claims.compare(ev.values(leaky, 'test_accuracy'),
                           ev.values(relu, 'test_accuracy'),
                           f'test accuracy at lr {lr:g}', 'leaky ReLU', 'ReLU')
  return claims.Verdict(verdict.verdict, (
      f'{verdict.evidence}; never-positive @end (leaky, still passing '
      f'gradient) {claims.describe(ev.values(leaky, NEVER_POS_END), ".3f")} '
      f'vs ReLU dead @end {claims.describe(ev.values(relu, DEAD_END), ".3f")}'))


CLAIMS = (
    claims.Claim('000 Q1', 'high learning rates also can cause a dead ReLU',
                 _high_lr),
    claims.Claim('000 Q1', 'majority of input is negative combined with high '
                 'learning rates also can cause a dead ReLU', _negative_input),
    claims.Claim('000 Q1', 'drastic updates to weights specially during '
                 'initialization can cause a dead ReLU', _drastic_init),
    claims.Claim('003 Q2', 'initializing the bias terms to a small positive '
                 'value (e.g. 0.1) can help to prevent the neurons from '
                 'getting stuck in the zero region of the ReLU',
                 _positive_bias),
    claims.Claim('003 Q3', 'some neurons can become inactive during training '
                 'and never recover because their outputs are always zero',
                 _never_recover),
    claims.Claim('003 Q4', 'Leaky ReLU ... a good choice for deep neural '
                 'networks that use large learning rates, as they help to '
                 'prevent the dying ReLU problem', _leaky_large_lr),
)


# -- the grid ------------------------------------------------------------------
def _floats(values: List[str], name: str, allow_empty: bool) -> List[float]:
  if allow_empty and not [v for v in values if v]:
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


def main(_):
  config = cli.resolved_config()
  if 'diagnostics.unit_masks' not in cli.config_overrides():
    config.diagnostics.unit_masks = True  # revival needs per-unit masks
  grids = passes(_floats(_LRS.value, 'lrs', False),
                 _floats(_CONTRAST_LRS.value, 'contrast_lrs', True),
                 _floats(_GAINS.value, 'gains', True),
                 _floats(_BIAS_INITS.value, 'bias_inits', True),
                 [a for a in _ACTIVATIONS.value if a])
  cli.run_ablation(grids, COLUMNS, config=config, title='Dead ReLUs',
                   axis_flags={LR: 'lrs', 'model.init_gain': 'gains',
                               'model.bias_init': 'bias_inits',
                               'model.activation': 'activations'},
                   claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
