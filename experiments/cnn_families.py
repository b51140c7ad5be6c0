r"""What do AlexNet, VGG, Inception and ResNet cost and reach on the same data,
and do their design choices pay?

Seed 002, questions 4-7: AlexNet "introduced very early normalization method
called local response normalization"; VGG uses "only 3x3 s=1 p=1 conv
filters" (a stack of n 3x3 convs sees what one (2n+1)x(2n+1) conv sees, with
fewer weights and more nonlinearities); Inception "used bottleneck layer
(filters) to reduce feature map dimensions before any expensive computation
layers"; ResNet's skips (see residual_vs_plain.py for depth). This trains
each family at a CPU-sized width (model.width_mult) on the same data, with
its design choice on and off: AlexNet with and without LRN (model.lrn), VGG
with stacked 3x3 convs and with one (2n+1)^2 conv per block
(model.stacked_3x3), Inception with and without the 1x1 bottlenecks
(model.bottleneck) and with one kernel size per module
(model.inception_kernels), and a CIFAR ResNet. Same optimizer, batch and
epochs for all but the alexnet-sgd rows (AlexNet with ReLU and with tanh,
SGD for --speed_epochs: the ReLU-vs-tanh claim below). Columns:

- params, MFLOPs: trainable parameters and the floating-point operations of
  one example's forward pass (XLA's cost analysis of the compiled forward,
  2 per multiply-add) of the trained model on this data;
- params @ref, GFLOPs @ref: the same design at full width (width_mult 1) on
  32x32x3 images (CIFAR-10), computed from shapes: the design claims are
  about these (on MNIST-1D's 1-D convs a stack of two 3-convs has MORE
  weights than one 5-conv: 6 C^2 vs 5 C^2);
- ex/s: training throughput (examples per second, mean over epochs);
- val acc, test acc: at equal epochs (best-validation epoch restored for
  test); val acc @T: validation accuracy after the last epoch completed
  within T seconds of training per model, T = the shortest total training
  time of any trial (accuracy at equal wall time). Other jobs on the machine
  disturb times: compare within one invocation.

Claims (issue 27's design: each decided only where both nets of its pair
learn, i.e. their test accuracy is above chance + 0.1; 5 seeds):
- Krizhevsky et al. 2012 (Section 3.3; outside the notes): "Response
  normalization reduces our top-1 and top-5 error rates by 1.4% and 1.2%":
  test accuracy with LRN above without (Welch, margin 0.005). The notes'
  002 A6 Q4 ("introduced very early normalization method called local
  response normalization") states history, not an effect, and is not
  tested;
- 002 A6 Q5, VGG's 3x3 filters: a stack of 3x3 convs has fewer weights than
  one (2n+1)x(2n+1) conv of the same receptive field (counted at full
  width on 32x32x3; exact, no spread) AND accuracy not worse by more than
  a point (non-inferiority), both required;
- 002 A6 Q6, Inception's bottlenecks: fewer FLOPs at full width on 32x32x3
  AND accuracy not worse by more than a point, both required;
- Krizhevsky et al. 2012 (Section 3.1; outside the notes): "Deep
  convolutional neural networks with ReLUs train several times faster than
  their equivalents with tanh units". The notes' 002 A6 Q4 ("Was one of the
  first models to use ReLU nonlinearities") is history; this is the effect
  behind it. As the paper's Figure 1: training steps until 25% training
  error (the paper's target on CIFAR-10, fixed before any run), SGD with
  momentum 0.9 and no regularization, each activation at the learning rate
  of --speed_lrs that reaches the target fastest (the paper chose each
  net's rate "to make training as fast as possible"), each with its own
  standard initializer (He normal for ReLU, Glorot uniform for tanh).
  AlexNet (the families' width) with ReLU against tanh, --speed_epochs
  epochs. "Several times" is read at its least, a ratio of 2: log2 of the
  steps, tanh minus ReLU, above 1 (Welch). Seeds that never reach the
  target are counted, not averaged: every seed of both chosen rates must
  reach it, and each chosen rate must lie inside the sweep (a
  precondition each);
- 002 A6 Q6, the parallel kernel sizes ("... effectively eliminating the need
  for kernel/filter size as a hyperparameter"): the Inception net (1x1,
  3x3 and 5x5 branches side by side) not worse than the best of the same
  net with one kernel size in every module (model.inception_kernels=(k,)
  for each k of --kernels: one 1x1 reduce -> kxk branch with the same
  output channels, its reduce width set so that each module's parameters
  equal the parallel module's), the best single size picked by validation
  accuracy, as tuning would pick it, and compared on test accuracy
  (non-inferiority, margin one point). Judged where the kernel size is a
  hyperparameter that matters (the single sizes' mean validation
  accuracies span at least two points) and the parameters are matched
  (every single-size net within 5% of the Inception net's).
The accuracies are proxies (MNIST-1D, not ImageNet or CIFAR images); the
counts are the designs' own, at the reference shape. A design claim is
judged only where the proxy keeps the design's saving in the models it
trains (params, MFLOPs columns: design on below off): on MNIST-1D's 1-D
convs VGG's stacks hold MORE weights than one larger kernel (the reverse
of the 2-D count), so there 002 A6 Q5 is 'inconclusive: regime not reached';
--dataset=fashion_mnist (2-D convs) reaches it.

Columns added for these: steps to 25% train err (each epoch's mean
training accuracy over its steps placed at the epoch's middle step,
interpolated linearly between the two epochs around the first crossing of
0.75; no value where it never crosses); the table shows it for every
trial, the ReLU-vs-tanh rule reads it for the alexnet-sgd rows.

The default data is MNIST-1D (40-step sequences through the same families
with 1-D convolutions), where these nets train in seconds on a CPU, at a
quarter of their width (model.width_mult 0.25; the CIFAR ResNet, narrow by
design, at its own: --widths);
--dataset=fashion_mnist trains them on images, and --full on CIFAR-10 at
full width.

  python experiments/cnn_families.py                      # MNIST-1D
  python experiments/cnn_families.py --families=vgg,inception --epochs=10
  python experiments/cnn_families.py --speed_lrs= --kernels=  # no extras
  python experiments/cnn_families.py --full --data_dir=~/tensorflow_datasets

From Python: `run(size='smoke')`, or `run(config, workdir, families=['vgg'])`.
"""
import copy
import dataclasses
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp import config as config_lib
from dlexp.errors import ConfigError

# family -> the switch that ablates its design (None: one trial).
SWITCHES = {'alexnet': 'model.lrn', 'vgg': 'model.stacked_3x3',
            'inception': 'model.bottleneck', 'resnet': None}
REF_SHAPE = (32, 32, 3)

SCRIPT = cli.define_flags(
    'cnn_families', model='cnn', epochs=6, seeds=5,
    dataset='mnist1d',
    config={'model.width_mult': 0.25, 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'diagnostics.every_epochs': 0},
    smoke={'epochs': 1, 'seeds': 2, 'families': ['alexnet', 'vgg'],
           'widths': [], 'speed_lrs': [],
           'config.model.width_mult': 0.0625, 'config.data.train_limit': 512,
           'config.data.test_limit': 500},
    full={'dataset': 'cifar10', 'epochs': 30, 'seeds': 3,
          'config.model.width_mult': 1.0, 'widths': [],
          'variants': ['vgg:vgg16', 'inception:googlenet',
                       'resnet:resnet56']})
_FAMILIES = SCRIPT.list_flag(
    'families', ['alexnet', 'vgg', 'inception', 'resnet'],
    'Families to compare (each with its design switch on and off).')
_VARIANTS = SCRIPT.list_flag(
    'variants', ['vgg:vgg11', 'inception:mini', 'resnet:resnet20'],
    'family:variant pairs (config.model.variant per family).')
_WIDTHS = SCRIPT.list_flag(
    'widths', ['resnet:1'], 'family:width_mult pairs overriding '
    'config.model.width_mult for a family (the CIFAR ResNet is already '
    'narrow: 16-32-64 channels).')
_SPEED_LRS = SCRIPT.list_flag(
    'speed_lrs', ['0.01', '0.03', '0.1'], 'SGD learning rates of the '
    'ReLU-vs-tanh AlexNets (the alexnet-sgd rows; each activation judged at '
    'its fastest, which must lie inside the sweep); empty: no such rows.')
_SPEED_EPOCHS = SCRIPT.flag(
    'integer', 'speed_epochs', 10, 'Epochs of the alexnet-sgd rows (--epochs '
    'for them): time for tanh to reach 25% training error.')
_KERNELS = SCRIPT.list_flag(
    'kernels', ['1', '3', '5'], 'Single kernel sizes k of the Inception '
    'rows with model.inception_kernels=(k,) (odd, >= 1); empty: none.')


def _mean_rate(run):
  rates = [row['examples_per_sec'] for row in run.metrics
           if row.get('epoch', 0) >= 1 and 'examples_per_sec' in row]
  return sum(rates) / len(rates) if rates else None


def _budget(groups) -> float:
  """The shortest median per-model training time among the trials."""
  totals = []
  for runs in groups.values():
    times = sorted(report.timeline(r, 'val_accuracy')[-1][0] for r in runs
                   if report.timeline(r, 'val_accuracy'))
    if times:
      totals.append(times[len(times) // 2])
  return min(totals) if totals else math.nan


def _at_end(key):
  return lambda r: r.at_epoch(key, int(r.final('epochs_run') or 0))


PARAMS = report.Column('params', lambda r: r.final('params'), ',.0f',
                       spread=False, exact=True)
MFLOPS = report.Column('MFLOPs', lambda r: _scaled(r.final('flops'), 1e-6),
                       '.2f', spread=False, exact=True)
REF_PARAMS = report.Column('params @ref', lambda r: r.final('ref_params'),
                           ',.0f', spread=False, exact=True)
REF_GFLOPS = report.Column(
    'GFLOPs @ref', lambda r: _scaled(r.final('ref_flops'), 1e-9), '.3f',
    spread=False, exact=True)
RATE = report.Column('ex/s', _mean_rate, ',.0f', spread=False)
VAL = report.Column('val acc', _at_end('val_accuracy'), '.4f')
TEST = report.final('test_accuracy', 'test acc')


def _scaled(value, factor):
  return None if value is None else value * factor


# Krizhevsky et al. 2012, Figure 1: the training error both nets are timed
# to (25% on CIFAR-10), kept on the proxy and fixed before any run.
TARGET_ERROR = 0.25


def _steps_to_error(run: report.Run):
  """Training steps until the training error first reaches TARGET_ERROR.
  An epoch's train_accuracy is its mean over the epoch's steps, so it is
  placed at the epoch's middle step, and the crossing is interpolated
  linearly between the two epochs around it (the midpoint of the first
  epoch if that one already reaches it): a finer reading than the epoch's
  end, the same for every net. None if it never does."""
  target, before, last_step = 1.0 - TARGET_ERROR, None, 0.0
  for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
    acc, step = row.get('train_accuracy'), row.get('step')
    if row.get('epoch', 0) < 1 or acc is None or step is None:
      continue
    if not math.isfinite(acc):
      return None  # diverged before reaching it
    middle, last_step = (last_step + step) / 2, float(step)
    if acc >= target:
      if before is None:
        return middle
      (m0, a0) = before
      return m0 + (target - a0) / (acc - a0) * (middle - m0)
    before = (middle, acc)
  return None


STEPS = report.Column(f'steps to {TARGET_ERROR:.0%} train err',
                      _steps_to_error, '.0f')


def columns(budget: float):
  return (PARAMS, MFLOPS, REF_PARAMS, REF_GFLOPS, RATE, VAL, TEST,
          report.at_seconds('val_accuracy', budget, f'val acc @{budget:.1f}s'),
          STEPS, report.default_column('wall s'))


# -- claims ------------------------------------------------------------------
CHANCE = 0.1  # ten classes (MNIST-1D, Fashion-MNIST, CIFAR-10)


def _pair(ev: claims.Evidence, family: str):
  """(design on, design off) trial names of `family`."""
  names = [t for t in ev.trials if t.split(',')[0].startswith(family)]
  on = [t for t in names if t.endswith('=True')]
  off = [t for t in names if t.endswith('=False')]
  if not on or not off:
    raise claims.MissingTrial(f'{family} with its switch on and off is not '
                              'in this grid')
  return on[0], off[0]


def _trains(family: str, what: str) -> claims.Requirement:
  """Both nets of the pair learn: the lower of their mean test accuracies
  is above chance + 0.1."""
  def lower(ev):
    on, off = _pair(ev, family)
    means = [ev.sample(t, TEST, keep_collapsed=True).values for t in (on, off)]
    return min(float(np.mean(v)) if v.size else float('nan') for v in means)
  return claims.requires(f'{what}, with and without, train above chance '
                         '(the lower mean test accuracy)', lower, '>=',
                         CHANCE + 0.1)


def _lrn_helps(ev: claims.Evidence) -> claims.Verdict:
  on, off = _pair(ev, 'alexnet')
  return claims.greater(ev.sample(on, TEST, 'AlexNet with LRN'),
                        ev.sample(off, TEST, 'without LRN'), margin=0.005,
                        what='test accuracy (margin 0.005: half a point)')


def _preserves(family: str, column, what: str) -> claims.Requirement:
  """The proxy keeps the design's saving: in the models trained here the
  design-on net's `column` (a count: params, MFLOPs) is below the
  design-off net's (on / off < 1). On MNIST-1D's 1-D convs a stack of two
  3-convs holds more weights than one 5-conv (6 C^2 vs 5 C^2), so an
  accuracy measured there would test another trade-off than the claim's."""
  def ratio(ev):
    on, off = _pair(ev, family)
    a, b = (_count(ev, t, column, t).values for t in (on, off))
    return a.mean() / b.mean() if a.size and b.size else math.nan
  return claims.requires(
      f'the proxy keeps the design\'s saving: {what} in the trained models, '
      f'with / without ({column.header} column)', ratio, '<', 1.0)


def _count(ev, trial, column, name) -> claims.Sample:
  """A count of the design (parameters, FLOPs at the reference shape):
  every seed's, whether or not that seed learned."""
  return ev.sample(trial, column, name, keep_collapsed=True)


def _ratio_note(ev, on, off, column, what) -> str:
  a, b = (_count(ev, t, column, t).values for t in (on, off))
  if not a.size or not b.size:
    return f'{what}: n/a'
  return f'{what} {a.mean() / b.mean():.2f}x'


def _vgg_stacks(ev: claims.Evidence) -> claims.Verdict:
  on, off = _pair(ev, 'vgg')
  return claims.across([
      ('fewer weights', claims.less(
          _count(ev, on, REF_PARAMS, 'stacked 3x3'),
          _count(ev, off, REF_PARAMS, 'one (2n+1)^2 conv per block'),
          margin=100_000, what='parameters at full width on 32x32x3 '
          '(margin 100,000: 1% of VGG-11\'s ~10M)', fmt=',.0f')),
      ('accuracy not worse', claims.not_worse(
          ev.sample(on, TEST, 'stacked 3x3'),
          ev.sample(off, TEST, 'one (2n+1)^2 conv per block'),
          margin=0.01, what='test accuracy (margin: one point)')),
  ], 'and').with_note(_ratio_note(ev, on, off, REF_GFLOPS,
                                  'for context, FLOPs at full width'))


def _bottlenecks(ev: claims.Evidence) -> claims.Verdict:
  on, off = _pair(ev, 'inception')
  return claims.across([
      ('less computation', claims.less(
          _count(ev, on, REF_GFLOPS, 'with 1x1 bottlenecks'),
          _count(ev, off, REF_GFLOPS, 'without'), margin=0.01,
          what='GFLOPs of one forward pass at full width on 32x32x3 '
          '(margin 0.01: 10 MFLOPs, ~1% of the module stack\'s)', fmt='.3f')),
      ('accuracy not worse', claims.not_worse(
          ev.sample(on, TEST, 'with 1x1 bottlenecks'),
          ev.sample(off, TEST, 'without'), margin=0.01,
          what='test accuracy (margin: one point)')),
  ], 'and')


# -- ReLU against tanh (Krizhevsky et al. 2012, Section 3.1) ------------------
SPEED_LABEL = 'alexnet-sgd'  # the rows' label in the table
SPEED_MOMENTUM = 0.9  # the paper's SGD momentum
ACTIVATIONS = ('relu', 'tanh')
# "Several times" read at its least: twice the steps, a log2 ratio of 1.
RATIO_MARGIN = 1.0


def _axis(ev: claims.Evidence, trial: str, name: str):
  """The value of `trial`'s axis `name` (its config path's last part), or
  None."""
  for path, value in ev.table[trial].get('overrides', {}).items():
    if path.split('.')[-1] == name:
      return value
  return None


def _speed_sweep(ev: claims.Evidence, activation: str):
  """[(learning rate, trial)] of the alexnet-sgd rows with `activation`,
  by rate."""
  rows = sorted((float(_axis(ev, t, 'learning_rate')), t) for t in ev.trials
                if t.startswith(SPEED_LABEL)
                and _axis(ev, t, 'activation') == activation)
  if not rows:
    raise claims.MissingTrial(f'no {SPEED_LABEL} row with {activation} '
                              '(--speed_lrs)')
  return rows


def _reached(ev: claims.Evidence, trial: str) -> claims.Count:
  """Seeds of `trial` that reach the target training error."""
  return ev.count(trial, key=STEPS, name=trial,
                  where=lambda v: v is not None and math.isfinite(v))


def _fastest(ev: claims.Evidence, activation: str):
  """(position in the sweep, rate, trial) of the rate at which the most
  seeds reach the target, then in the fewest steps (median; the lower rate
  on a tie): the paper's rate 'chosen ... to make training as fast as
  possible'."""
  sweep = _speed_sweep(ev, activation)

  def key(item):
    lr, trial = item[1]
    steps = ev.sample(trial, STEPS, keep_collapsed=True).values
    return (-_reached(ev, trial).k,
            float(np.median(steps)) if steps.size else math.inf, lr)
  i, (lr, trial) = min(enumerate(sweep), key=key)
  return i, lr, trial


def _every_seed_reaches(ev: claims.Evidence) -> float:
  shares = []
  for activation in ACTIVATIONS:
    c = _reached(ev, _fastest(ev, activation)[2])
    shares.append(c.k / c.n if c.n else math.nan)
  return min(shares)


def _inside_sweep(ev: claims.Evidence) -> float:
  return float(sum(0 < _fastest(ev, a)[0] < len(_speed_sweep(ev, a)) - 1
                   for a in ACTIVATIONS))


def _log2(sample: claims.Sample) -> claims.Sample:
  return dataclasses.replace(sample, values=np.log2(sample.values))


def _relu_faster(ev: claims.Evidence) -> claims.Verdict:
  (_, lr_r, relu), (_, lr_t, tanh) = (_fastest(ev, a) for a in ACTIVATIONS)
  slow = ev.sample(tanh, STEPS, f'tanh (lr {lr_t:g})')
  fast = ev.sample(relu, STEPS, f'ReLU (lr {lr_r:g})')
  ratio = (2 ** (np.log2(slow.values).mean() - np.log2(fast.values).mean())
           if slow.values.size and fast.values.size else math.nan)
  return claims.greater(
      _log2(slow), _log2(fast), margin=RATIO_MARGIN,
      what=f'log2 of the training steps to {TARGET_ERROR:.0%} training error '
      '(margin 1: a ratio of 2, "several times" at its least)', fmt='.3f'
  ).with_note(f'steps {slow.describe(".0f")} vs {fast.describe(".0f")}: '
              f'tanh / ReLU {ratio:.2f}x (ratio of geometric means)')


# -- parallel kernel sizes (002 A6 Q6) --------------------------------------------
# One point of test accuracy: half the spread between single sizes that
# makes the size matter (the regime), so a net within it keeps at least
# half of what choosing the size is worth.
KERNEL_MARGIN = 0.01
SIZE_SPREAD = 2 * KERNEL_MARGIN
PARAMS_MATCH = 0.05  # the single-size nets' parameters within 5%


def _single_sizes(ev: claims.Evidence):
  """{k: trial} of the Inception rows with model.inception_kernels=(k,)."""
  out = {}
  for t in ev.trials:
    value = _axis(ev, t, 'inception_kernels')
    if value is not None:
      out[int(value if isinstance(value, (int, float)) else value[0])] = t
  if not out:
    raise claims.MissingTrial('no Inception with one kernel size per module '
                              '(--kernels) in this grid')
  return dict(sorted(out.items()))


def _mean(ev: claims.Evidence, trial: str, column) -> float:
  v = ev.sample(trial, column, keep_collapsed=True).values
  return float(v.mean()) if v.size else math.nan


def _best_single(ev: claims.Evidence):
  """(k, trial) with the best mean validation accuracy: the size tuning
  would choose."""
  def score(item):
    m = _mean(ev, item[1], VAL)
    return m if math.isfinite(m) else -math.inf
  return max(_single_sizes(ev).items(), key=score)


def _kernel_nets_train(ev: claims.Evidence) -> float:
  trials = [_pair(ev, 'inception')[0], *_single_sizes(ev).values()]
  return min(_mean(ev, t, TEST) for t in trials)


def _size_matters(ev: claims.Evidence) -> float:
  means = [_mean(ev, t, VAL) for t in _single_sizes(ev).values()]
  return max(means) - min(means)


def _params_matched(ev: claims.Evidence) -> float:
  parallel = _mean(ev, _pair(ev, 'inception')[0], PARAMS)
  return max(abs(_mean(ev, t, PARAMS) / parallel - 1)
             for t in _single_sizes(ev).values())


def _parallel_kernels(ev: claims.Evidence) -> claims.Verdict:
  parallel = _pair(ev, 'inception')[0]
  k, best = _best_single(ev)
  sizes = ', '.join(f'{size}: {_mean(ev, t, TEST):.4f}'
                    for size, t in _single_sizes(ev).items())
  return claims.not_worse(
      ev.sample(parallel, TEST, 'parallel kernels 1, 3, 5'),
      ev.sample(best, TEST, f'one kernel size {k} (best by validation)'),
      margin=KERNEL_MARGIN, what='test accuracy (margin: one point)'
  ).with_note(f'mean test accuracy by single kernel size: {sizes}')


_PROXY = ('proxy: MNIST-1D (1-D convolutions over 40-step sequences) at a '
          'quarter width instead of ImageNet/CIFAR images')

CLAIMS = (
    # 002 A6 Q4 ("Introduced very early normalization method called local
    # response normalization") states history, not an effect: it is not
    # tested. The effect is the paper's own claim, tested here.
    claims.Claim(
        'Section 3.3', 'Response normalization reduces our top-1 and top-5 '
        'error rates by 1.4% and 1.2%, respectively',
        tested_as=f'{_PROXY}, and a 1-D AlexNet instead of the paper\'s '
        'ImageNet net: test accuracy with LRN above without (Welch, margin '
        '0.005, the direction of the paper\'s error reduction, not its size)',
        rule=_lrn_helps, regime=(_trains('alexnet', 'AlexNet'),),
        outside='Krizhevsky et al. 2012'),
    claims.Claim(
        '002 A6 Q5', 'only 3x3 s=1 p=1 conv filters making scaling the model '
        'much easier',
        tested_as=f'{_PROXY} for the accuracy; the weights counted at full '
        'width on 32x32x3: VGG-11 with stacks of 3x3 convs against one '
        '(2n+1)x(2n+1) conv per block (the same receptive field): fewer '
        'weights AND test accuracy not worse by more than 0.01, both '
        'required (Holm); judged only where the proxy keeps the saving '
        '(the trained stacked net has fewer parameters than the single '
        'larger kernel)',
        rule=_vgg_stacks, regime=(
            _trains('vgg', 'VGG-11'),
            _preserves('vgg', PARAMS, 'parameters of the stacked 3x3 '
                       'against the one larger kernel per block'))),
    claims.Claim(
        '002 A6 Q6', 'used bottleneck layer (filters) to reduce feature map '
        'dimensions before any expensive computation layers',
        tested_as=f'{_PROXY} for the accuracy; the FLOPs counted at full '
        'width on 32x32x3: Inception with 1x1 bottlenecks before its 3x3 '
        'and 5x5 convs against without: fewer FLOPs AND test accuracy not '
        'worse by more than 0.01, both required (Holm); judged only where '
        'the proxy keeps the saving (fewer FLOPs in the trained models too)',
        rule=_bottlenecks, regime=(
            _trains('inception', 'Inception'),
            _preserves('inception', MFLOPS, 'FLOPs with 1x1 bottlenecks '
                       'against without'))),
    # 002 A6 Q4 ("Was one of the first models to use ReLU nonlinearities") is
    # history; the effect behind it is the paper's own claim.
    claims.Claim(
        'Section 3.1', 'Deep convolutional neural networks with ReLUs train '
        'several times faster than their equivalents with tanh units',
        tested_as=f'{_PROXY}, and a 1-D AlexNet (five convs, LRN) instead '
        'of the paper\'s four-layer CIFAR-10 net: training steps until 25% '
        'training error (each epoch\'s mean over its steps; the paper\'s '
        'Figure 1 target), SGD with momentum 0.9 and no regularization, '
        'each activation at its fastest learning rate of the sweep and with '
        'its own standard initializer (He normal, Glorot uniform): tanh\'s '
        'steps at least twice ReLU\'s (log2 of the steps, tanh minus ReLU, '
        'above 1; Welch, margin 1 = a ratio of 2, "several" at its least)',
        rule=_relu_faster, regime=(
            claims.requires(
                'ReLU and tanh, each at its fastest rate, reach 25% training '
                'error in every seed (the smaller share of seeds that do; '
                'the steps column counts them)', _every_seed_reaches, '>=',
                1.0),
            claims.requires(
                'each activation\'s fastest rate lies inside the swept '
                'rates, not at an end (activations for which it does, of 2)',
                _inside_sweep, '>=', 2.0)),
        outside='Krizhevsky et al. 2012'),
    claims.Claim(
        '002 A6 Q6', 'Inception module ... works by simultaneously calculating '
        'multiple/all conv kernel sizes in same level then concatenate them '
        'effectively eliminating the need for kernel/filter size as a '
        'hyperparameter',
        tested_as=f'{_PROXY}: Inception-mini with its parallel 1, 3 and 5 '
        'kernels against the same net with one kernel size k in every '
        'module (a 1x1 reduce, then a k conv with the same output channels; '
        'the reduce width set so that each module\'s parameters equal the '
        'parallel module\'s), k in 1, 3, 5; the best single size picked by '
        'mean validation accuracy (what tuning the size would pick) and '
        'compared on test accuracy: the parallel net not worse by more than '
        'one point (non-inferiority, Welch). Judged where the size matters '
        '(the single sizes\' mean validation accuracies span >= 0.02) and '
        'the parameters match (each within 5%)',
        rule=_parallel_kernels, regime=(
            claims.requires('the parallel and every single-size Inception '
                            'train above chance (the lowest mean test '
                            'accuracy)', _kernel_nets_train, '>=',
                            CHANCE + 0.1),
            claims.requires('the kernel size matters here: the single '
                            'sizes\' mean validation accuracies, best minus '
                            'worst', _size_matters, '>=', SIZE_SPREAD),
            claims.requires('parameters matched: the largest |single-size '
                            '/ parallel - 1| of the params column',
                            _params_matched, '<=', PARAMS_MATCH))),
)


# -- the grids ---------------------------------------------------------------
def _per_family(flag: str, values, kind=str):
  out = {}
  for item in values:
    family, _, value = item.partition(':')
    try:
      if family not in SWITCHES or not value:
        raise ValueError
      out[family] = kind(value)
    except ValueError:
      raise ConfigError(f'--{flag}: {item!r} is not family:{flag[:-1]} with '
                        f'a family in {", ".join(SWITCHES)}') from None
  return out


def _kernel_sizes(items) -> List[int]:
  """--kernels as ints: odd sizes >= 1 (one-line error otherwise)."""
  sizes = []
  for item in items:
    try:
      k = int(item)
      if k < 1 or k % 2 == 0:
        raise ValueError
    except ValueError:
      raise ConfigError(f'--kernels: {item!r} is not an odd kernel size '
                        '>= 1') from None
    sizes.append(k)
  return sizes


def _speed_rates(speed_lrs, speed_epochs: int) -> List[float]:
  rates = cli.list_flag(speed_lrs, float, 'speed_lrs') if speed_lrs else []
  bad = [r for r in rates if not (math.isfinite(r) and r > 0)]
  if bad:
    raise ConfigError(f'--speed_lrs: {bad[0]:g} is not a learning rate > 0')
  if speed_epochs < 1:
    raise ConfigError(f'--speed_epochs={speed_epochs}: need >= 1')
  return rates


def _family_axes(family: str, kernels):
  """The family's switch on and off; for inception also one kernel size
  per module for each of `kernels` (a second pass)."""
  switch = SWITCHES[family]
  axes = {switch: [True, False]} if switch else {}
  if family == 'inception' and kernels:
    return [axes, {'model.inception_kernels': [(k,) for k in kernels]}]
  return axes


_SPEED_FLAGS = {'optimizer.learning_rate': 'speed_lrs'}


def _speed_setup(session, base, widths, rates, epochs: int):
  """(config, axes) of AlexNet with ReLU and tanh, SGD at each of `rates`:
  the paper's Figure 1 setting (momentum 0.9, no regularization), for
  `epochs` (--speed_epochs, in place of --epochs) at the families' AlexNet
  width; checked before anything trains. A --config value for a field
  these rows set is an error, not silently replaced."""
  settings = {'optimizer.name': 'sgd', 'optimizer.momentum': SPEED_MOMENTUM,
              'model.name': 'alexnet', 'model.variant': ''}
  config = copy.deepcopy(base)
  for path, value in settings.items():
    if path in session.given:
      raise ConfigError(f'{session.given[path]} is set by the '
                        f'{SPEED_LABEL} rows (to {value!r}); leave these '
                        'rows out with --speed_lrs=')
    config_lib.set_value(config, path, value)
  config.epochs = epochs
  config.model.width_mult = widths.get('alexnet', base.model.width_mult)
  config_lib.validate(config)
  axes = {'model.activation': list(ACTIVATIONS),
          'optimizer.learning_rate': rates}
  ablation.check_axes(session, axes, _SPEED_FLAGS)
  return config, axes


def _grids(session, base, families, variants: Dict[str, str],
           widths: Dict[str, float], kernels, speed):
  """[(label, grid)]: each family's design switch on and off (inception also
  with one kernel size per module), then the alexnet-sgd rows (`speed`:
  their (config, axes), or None)."""
  hooks = [analysis.model_cost_hook(),
           analysis.model_cost_hook(REF_SHAPE, 'ref_', width_mult=1.0)]
  parts = []
  for family in families:
    config = copy.deepcopy(base)
    config.model.name = family
    config.model.variant = variants.get(family, '')
    config.model.width_mult = widths.get(family, base.model.width_mult)
    grid = ablation.run_grid(session, _family_axes(family, kernels), config,
                             final_hooks=hooks)
    variant = config.model.variant
    parts.append((variant if variant.startswith(family)
                  else '-'.join(x for x in (family, variant) if x), grid))
  if speed:
    parts.append((SPEED_LABEL, ablation.run_grid(
        session, speed[1], speed[0], final_hooks=hooks,
        axis_flags=_SPEED_FLAGS)))
  return parts


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, families: Optional[Sequence[str]] = None,
        variants: Optional[Sequence[str]] = None,
        widths: Optional[Sequence[str]] = None,
        speed_lrs: Optional[Sequence] = None,
        speed_epochs: Optional[int] = None,
        kernels: Optional[Sequence] = None,
        session=None) -> ablation.Result:
  """Trains every family with its design on and off (and the alexnet-sgd and
  single-kernel rows) and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', families=['vgg'],
  speed_lrs=[], kernels=[])`; the keywords are the flags of those names."""
  session, base = SCRIPT.start(config, workdir, size, session)
  keywords = dict(families=families, variants=variants, widths=widths,
                  speed_lrs=speed_lrs, speed_epochs=speed_epochs,
                  kernels=kernels)
  # Each keyword left None: the size preset's value, else the flag default.
  arg = {k: SCRIPT.axis(k, session.size) if v is None else v
         for k, v in keywords.items()}
  if 'model.name' in session.given:
    raise ConfigError('--model does not apply: the families are the axis; '
                      'choose them with --families')
  families = cli.list_flag(arg['families'], str, 'families')
  unknown = [f for f in families if f not in SWITCHES]
  if unknown or not families:
    raise ConfigError(f'--families: {unknown[0] if unknown else "(none)"} '
                      f'not allowed; allowed: {", ".join(SWITCHES)}')
  variants = _per_family('variants', arg['variants'])
  widths = _per_family('widths', arg['widths'], float)
  kernels = _kernel_sizes(arg['kernels'])
  rates = _speed_rates(arg['speed_lrs'], arg['speed_epochs'])
  speed = (_speed_setup(session, base, widths, rates, arg['speed_epochs'])
           if 'alexnet' in families and rates else None)
  parts = _grids(session, base, families, variants, widths, kernels, speed)
  grid = ablation.combine(parts)
  shown = columns(_budget(grid.groups))
  line = ablation.run_line(base).replace(
      f'model {base.model.name}', 'models ' + ', '.join(p[0] for p in parts))
  line += f', width_mult {base.model.width_mult:g}' + ''.join(
      f' ({f} {w:g})' for f, w in widths.items() if f in families)
  if speed:
    line += (f'; {SPEED_LABEL}: SGD momentum {SPEED_MOMENTUM:g}, '
             f'{arg["speed_epochs"]} epochs')
  return ablation.conclude(
      session, grid, 'CNN families at equal epochs and equal time', line,
      grid.table(shown), CLAIMS, columns=shown)


def main(_):
  run(cli.resolved_config(), families=_FAMILIES.value,
      variants=_VARIANTS.value, widths=_WIDTHS.value,
      speed_lrs=_SPEED_LRS.value, speed_epochs=_SPEED_EPOCHS.value,
      kernels=_KERNELS.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
