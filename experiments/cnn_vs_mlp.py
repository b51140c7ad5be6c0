r"""CNN against MLP on images at a matched budget: does the CNN win, and why?

Is it the images' spatial structure that the CNN exploits?

Seed 004, theory group 4 ('004 G4'): "Why are CNNs particularly well-suited
for image recognition tasks?" The notes answer "CNNs are well-suited for
image recognition because they can automatically learn and detect
hierarchical features", with "edges, textures, and patterns" in lower layers
and "more complex object representations" in deeper ones. This trains, on the
same Fashion-MNIST images (10,000 training, 2,000 validation examples), with
the same optimizer (Adam, batch 128), epochs and seeds (5):

- the small Keras CNN at half width (conv16-pool-conv32-pool-dense64, ~57k
  parameters; model.width_mult), and
- an MLP with one hidden layer of the notes' 100 units (~80k parameters:
  within 2x, and the larger of the two, so a matched budget favours it),

each over a small learning-rate grid (--lrs: 1e-3, Adam's documented
default, and half a decade either side), 10 epochs. Each model's rate is
the one with its best mean validation accuracy; the test set decides.
The control that isolates WHY is a second pass on the same images with
their pixel positions shuffled by one fixed random permutation
(data.permute_pixels = --permutation_seed; the same permutation for every
image and split): it keeps every pixel value and the class but destroys
the spatial neighbourhoods. An MLP is indifferent to it (it permutes the
rows of the MLP's first weight matrix, whose entries are drawn i.i.d.), so
its accuracy must not move: an equivalence check that the control works.
A convolution's local, shared filters lose what they are built for.

Claims (issue 27's design: margins fixed here before any run; each judged
only where the models it reads learn (val acc >= 0.5), chose a rate inside
their grid (fair tuning), have plateaued (val acc gained at most a point
over the last 3 epochs against the 3 before) and match in size (within
2x)):
- "CNNs are well-suited for image recognition": test accuracy, CNN above
  the MLP by at least a point (two one-sided Welch tests at the margin);
- "... because they can automatically learn and detect hierarchical
  features" (proxy): the CNN's gain over the MLP shrinks by at least a point
  when the pixels are permuted (the per-seed gains, natural against
  permuted), only where the MLP is unchanged by the permutation (TOST at a
  point) and the CNN has an advantage to explain (a mean gain of at least a
  point on natural pixels);
- "more complex object representations are learned in deeper layers"
  (proxy): linear probes (dlexp/analysis/probes.py) read the class from
  each conv stage's pooled output; the probe's accuracy rises from the
  first stage to the second, and rises more in the trained CNN than in the
  same CNN at its initialization (what training added).
The definition "filters slide over the input, computing dot products at
each position" is checked by tests/test_cnn_vs_mlp.py (the conv against
explicit dot products), not here.

  python experiments/cnn_vs_mlp.py                        # defaults below
  python experiments/cnn_vs_mlp.py --lrs=0.0003,0.001,0.003 --epochs=12
  python experiments/cnn_vs_mlp.py --full                 # GPU: all data

From Python: `run(size='smoke')`, or `run(config, workdir, lrs=[0.001])`.

--full trains on all 55,000 training images at the CNN's full width
(conv32-pool-conv64-pool-dense128, ~225k parameters) against an MLP of 256
hidden units (~204k), 20 epochs. Fashion-MNIST is the dataset at every
size; --dataset=cifar10 --data_dir=... runs the same grid on CIFAR-10
prepared for TFDS (the reproduce line then names it; size the MLP with
--config.model.width so that the budgets stay within 2x on 32x32x3).

The default size needs about 8 minutes of CPU time (491 s measured, the
CNNs nearly all of it): at most that on an idle 2-core CPU.

Columns: params (trainable; exact), val acc and test acc (restored best
epoch; val acc @last: the last epoch's), val gain last 3 (mean
validation accuracy of the last 3 epochs minus the 3 before: a plateau
check), probe input / pool1 / pool2 (linear probe accuracy on the pixels
and on each conv stage's pooled output of the trained CNN; natural images
only) and pool1 / pool2 @init (the same CNN before training).
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.analysis import probes
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'cnn_vs_mlp', model='cnn', epochs=10, seeds=5,
    config={'optimizer.name': 'adam', 'data.train_limit': 10000,
            'data.val_size': 2000, 'model.width_mult': 0.5,
            'model.depth': 1, 'model.width': 100, 'save_model': False,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 1, 'seeds': 2, 'lrs': ['0.003'],
           'config.model.width_mult': 0.25, 'config.model.width': 16,
           'config.data.train_limit': 512, 'config.data.val_size': 256,
           'config.data.test_limit': 500},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0,
          'config.data.val_size': -1, 'config.model.width_mult': 1.0,
          'config.model.width': 256})
_LRS = SCRIPT.list_flag('lrs', ['0.001', '0.003', '0.01'],
                        'Adam learning rates tried for each model; each '
                        'model is judged at its best by validation.')
_PERMUTATION = SCRIPT.flag(
    'integer', 'permutation_seed', 1, 'data.permute_pixels of the permuted '
    'pass: the seed of its one fixed pixel permutation (>= 1).')

MODELS = ('cnn', 'mlp')
NATURAL, PERMUTED = 'natural pixels', 'permuted pixels'
PLATEAU_EPOCHS = 3
PROBE_LAYERS = ('pool1', 'pool2')  # the CNN's two conv stages, pooled

PARAMS = report.Column('params', lambda r: r.final('params'), ',.0f',
                       spread=False, exact=True)
VAL, TEST = report.DEFAULT_COLUMNS[0], report.DEFAULT_COLUMNS[1]
GAIN = report.still_gaining('val_accuracy', PLATEAU_EPOCHS)
PROBE_INPUT = report.final('probe_input', 'probe input', '.4f')
PROBE = {n: report.final(f'probe_{n}', f'probe {n}', '.4f')
         for n in PROBE_LAYERS}
PROBE_INIT = {n: report.final(f'probe_{n}_init', f'probe {n} @init', '.4f')
              for n in PROBE_LAYERS}
COLUMNS = (PARAMS, VAL, TEST, report.DEFAULT_COLUMNS[2], GAIN,
           report.DEFAULT_COLUMNS[3])
PROBE_COLUMNS = COLUMNS[:-1] + (PROBE_INPUT,) + tuple(PROBE.values()) + \
    tuple(PROBE_INIT.values()) + COLUMNS[-1:]

CHANCE = 0.1  # Fashion-MNIST's 10 classes
# "Learns": validation accuracy at least 0.5, five times chance; a linear
# classifier on these pixels reaches ~0.8, so a net below 0.5 has not
# learned the task and its comparison would say nothing about images.
LEARNS = CHANCE + 0.4
# One point of test accuracy: the smallest advantage that would make one
# architecture the better choice for images.
MARGIN = 0.01
# The MLP must not move by more than that same point under the permutation:
# the control must be finer than the effect it is used to isolate.
INVARIANCE_MARGIN = 0.01
# Budgets "matched": the larger model has at most twice the parameters.
SIZE_RATIO = 2.0
# Plateaued: the last epochs gained less than the margin, so more epochs
# could not close a gap of that size.
PLATEAU = MARGIN


# -- trials ------------------------------------------------------------------
def _model_trials(ev: claims.Evidence, model: str) -> List[str]:
  names = [t for t in ev.trials
           if ev.table[t].get('overrides', {}).get('model.name') == model]
  if not names:
    raise claims.MissingTrial(f'no {model} trial in this grid')
  return names


def _mean(sample: claims.Sample) -> float:
  return float(sample.values.mean()) if sample.values.size else -math.inf


def chosen(ev: claims.Evidence, model: str) -> str:
  """The model's trial (learning rate) with the best mean validation
  accuracy, seeds that collapsed to chance counted in (a rate that fails
  some seeds is not the best)."""
  return max(_model_trials(ev, model), key=lambda t: _mean(
      ev.sample(t, VAL, keep_collapsed=True)))


def _arm(pev: claims.PartEvidence, part: str, model: str, column=TEST
         ) -> claims.Sample:
  ev = pev.part(part)
  trial = chosen(ev, model)
  return ev.sample(trial, column,
                   f'{model.upper()} ({part}, {_rate(ev, trial)})')


def _lr(ev: claims.Evidence, trial: str) -> float:
  return float(ev.table[trial].get('overrides', {})[
      'optimizer.learning_rate'])


def _rate(ev: claims.Evidence, trial: str) -> str:
  return f'lr {_lr(ev, trial):g}'


def paired(ev: claims.Evidence, a: Tuple[str, report.Column],
           b: Tuple[str, report.Column], name: str) -> claims.Sample:
  """Per seed, (trial, column) `a` minus `b` (seed i against seed i); a
  seed that diverged or collapsed to chance on either side is left out and
  counted, as Evidence.sample leaves it out."""
  values = [ev.column(t, c) for t, c in (a, b)]
  n = len(values[0])
  failed = {i for t, _ in (a, b)
            for i, state in enumerate(ev.table[t].get('status', []))
            if state in (claims.DIVERGED, claims.COLLAPSED)}
  ok = lambda v: v is not None and math.isfinite(v)
  diffs = [x - y for i, (x, y) in enumerate(zip(*values))
           if i not in failed and ok(x) and ok(y)]
  return claims.Sample(np.array(diffs, np.float64), name, n,
                       n - len(failed) - len(diffs), len(failed))


def gains(pev: claims.PartEvidence, part: str, name: str) -> claims.Sample:
  """Per seed, the CNN's test accuracy minus the MLP's (each at its chosen
  rate)."""
  ev = pev.part(part)
  return paired(ev, (chosen(ev, 'cnn'), TEST), (chosen(ev, 'mlp'), TEST),
                name)


# -- regimes -----------------------------------------------------------------
def _names(models: Tuple[str, ...]) -> str:
  return ' and '.join(m.upper() for m in models)


def _learn(parts: Tuple[str, ...], models=MODELS) -> claims.Requirement:
  def lowest(pev):
    return min(_mean(pev.part(p).sample(chosen(pev.part(p), m), VAL,
                                        keep_collapsed=True))
               for p in parts for m in models)
  return claims.requires(
      f'{_names(models)} learn{"s" if len(models) == 1 else ""}: the lowest '
      'mean val acc at the chosen rates',
      lowest, '>=', LEARNS)


def _inside(parts: Tuple[str, ...], models=MODELS) -> claims.Requirement:
  """Fair tuning: each model's chosen rate lies inside its grid. A best
  rate at either end of the grid says a better one may lie beyond it."""
  def at_an_end(pev):
    count = 0
    for p in parts:
      ev = pev.part(p)
      for m in models:
        rates = sorted(_lr(ev, t) for t in _model_trials(ev, m))
        count += _lr(ev, chosen(ev, m)) in (rates[0], rates[-1])
    return float(count)
  return claims.requires(
      f'fair tuning: the rates chosen for {_names(models)} lie inside the '
      'grid (neither its lowest nor its highest): choices at an end',
      at_an_end, '<=', 0)


def _size_ratio(pev: claims.PartEvidence) -> float:
  ev = pev.part(NATURAL)
  counts = [_mean(ev.sample(chosen(ev, m), PARAMS, keep_collapsed=True))
            for m in MODELS]
  return max(counts) / min(counts) if min(counts) > 0 else math.inf


_MATCHED = claims.requires(
    'matched budget: parameters of the larger model / the smaller',
    _size_ratio, '<=', SIZE_RATIO)


def _plateau(parts: Tuple[str, ...], models=MODELS) -> claims.Requirement:
  def largest(pev):
    means = [pev.part(p).sample(chosen(pev.part(p), m), GAIN).values
             for p in parts for m in models]
    return max(float(v.mean()) if v.size else math.inf for v in means)
  return claims.requires(
      f'{_names(models)} plateaued: val acc gain of the last '
      f'{PLATEAU_EPOCHS} epochs over the {PLATEAU_EPOCHS} before, the largest '
      'mean at the chosen rates', largest, '<=', PLATEAU)


def _mlp_invariance(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.equivalent(
      _arm(pev, PERMUTED, 'mlp'), _arm(pev, NATURAL, 'mlp'),
      INVARIANCE_MARGIN, 'MLP test accuracy, permuted against natural pixels')


def _control_works(pev: claims.PartEvidence) -> float:
  """1 where the MLP's test accuracy is equivalent, permuted against
  natural pixels (TOST at the claims' alpha), else 0."""
  return float(_mlp_invariance(pev).verdict == claims.SUPPORTED)


def _natural_gain(pev: claims.PartEvidence) -> claims.Sample:
  return gains(pev, NATURAL, 'CNN - MLP, natural pixels')


# A "because" explains an advantage: there must be one to explain.
_ADVANTAGE = claims.requires(
    'an advantage to explain: the CNN\'s mean per-seed test accuracy gain '
    'over the MLP on natural pixels', _natural_gain, '>=', MARGIN)


_CONTROL = claims.requires(
    'the control works: the MLP\'s test accuracy is unchanged by the '
    f'permutation (TOST, margin ±{INVARIANCE_MARGIN:g}; 1 = equivalent)',
    _control_works, '>=', 1.0)


# -- rules -------------------------------------------------------------------
def _cnn_better(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.greater(
      _arm(pev, NATURAL, 'cnn'), _arm(pev, NATURAL, 'mlp'), MARGIN,
      f'test accuracy (margin {MARGIN:g}: one point)').with_note(
          f'parameters {_size_ratio(pev):.2f}x (larger / smaller)')


def _spatial(pev: claims.PartEvidence) -> claims.Verdict:
  return claims.greater(
      _natural_gain(pev), gains(pev, PERMUTED, 'CNN - MLP, permuted pixels'),
      MARGIN,
      'the CNN\'s test accuracy gain over the MLP, per seed (margin '
      f'{MARGIN:g})').with_note(
          'the control: ' + _mlp_invariance(pev).evidence + '; the CNN '
          'itself: ' + _arm(pev, PERMUTED, 'cnn').describe() + ' against '
          + _arm(pev, NATURAL, 'cnn').describe())


def _cnn_stage(pev: claims.PartEvidence, columns, name: str, first: str,
               second: str) -> claims.Sample:
  """Per seed of the chosen CNN (natural pixels): the probe accuracy of the
  `second` stage minus the `first`'s."""
  ev = pev.part(NATURAL)
  trial = chosen(ev, 'cnn')
  return paired(ev, (trial, columns[second]), (trial, columns[first]), name)


def _deeper(pev: claims.PartEvidence) -> claims.Verdict:
  rise = _cnn_stage(pev, PROBE, 'trained CNN, pool2 - pool1', *PROBE_LAYERS)
  at_init = _cnn_stage(pev, PROBE_INIT, 'the same CNN at init, pool2 - '
                       'pool1', *PROBE_LAYERS)
  return claims.across([
      ('rises with depth', claims.above(
          rise, MARGIN, 'linear probe accuracy, second conv stage minus '
          f'first (at least {MARGIN:g})')),
      ('learned', claims.greater(
          rise, at_init, MARGIN, 'the rise with depth, trained against at '
          f'initialization (margin {MARGIN:g})')),
  ], 'and')


def _probes_work(pev: claims.PartEvidence) -> float:
  ev = pev.part(NATURAL)
  return _mean(ev.sample(chosen(ev, 'cnn'), PROBE_INPUT, keep_collapsed=True))


_SETTING = ('Fashion-MNIST (10,000 training, 2,000 validation images), the '
            'small Keras CNN at half width (conv16-pool-conv32-pool-dense64, '
            '~57k parameters) and an MLP with one hidden layer of 100 units '
            '(~80k), Adam, batch 128, the same 10 epochs, data and 5 seeds, '
            'each model at the learning rate of its grid with the best mean '
            'validation accuracy')

CLAIMS = (
    claims.Claim(
        '004 G4', 'CNNs are well-suited for image recognition',
        tested_as=f'{_SETTING}: test accuracy, CNN above the MLP by at least '
        f'{MARGIN:g} (two one-sided Welch tests at the margin); judged only '
        'where both learn, chose a rate inside their grid, have plateaued '
        'and are within 2x in parameters',
        rule=_cnn_better,
        regime=(_learn((NATURAL,)), _MATCHED, _inside((NATURAL,)),
                _plateau((NATURAL,)))),
    claims.Claim(
        '004 G4', 'CNNs are well-suited for image recognition because they '
        'can automatically learn and detect hierarchical features',
        tested_as=f'proxy: the "because" read as "because of what the images\' '
        'spatial structure lets a conv net learn"; it does not separate '
        'hierarchy from locality and weight sharing. '
        f'{_SETTING}, trained again on the same images with their pixel '
        'positions shuffled by one fixed permutation (data.permute_pixels): '
        'the CNN\'s per-seed test accuracy gain over the MLP on natural '
        f'pixels above its gain on permuted pixels by at least {MARGIN:g}; '
        'judged only where the MLP is unchanged by the permutation (TOST, '
        f'margin ±{INVARIANCE_MARGIN:g}: the control works), where the CNN '
        f'has an advantage to explain (its mean gain on natural pixels at '
        f'least {MARGIN:g}), and both models learn, chose a rate inside their '
        'grid and have plateaued in both passes',
        rule=_spatial,
        regime=(_learn((NATURAL, PERMUTED)), _MATCHED,
                _inside((NATURAL, PERMUTED)), _plateau((NATURAL, PERMUTED)),
                _CONTROL, _ADVANTAGE)),
    claims.Claim(
        '004 G4', 'more complex object representations are learned in deeper '
        'layers',
        tested_as='proxy: "more complex" read as "more linearly decodable '
        'class" (a linear probe: ridge regression onto one-hot labels, its '
        'ridge picked on held-out fit examples, on each stage\'s output '
        f'projected to {probes.PROBE_DIM} random directions so that both '
        'stages get a probe of the same capacity, fitted on 4,000 training '
        'and scored on 4,000 test images); edges and textures in lower '
        f'layers are not measured. {_SETTING}: the chosen CNN\'s probe '
        'accuracy on its second conv stage\'s pooled output minus its first '
        f'stage\'s, per seed, at least {MARGIN:g} AND above the same rise in '
        f'the same CNN at its initialization by at least {MARGIN:g} (what '
        'training added, beyond what the architecture gives at random), both '
        'required (Holm); judged only where the CNN learns, chose a rate '
        'inside its grid and has plateaued',
        rule=_deeper,
        regime=(_learn((NATURAL,), ('cnn',)), _inside((NATURAL,), ('cnn',)),
                _plateau((NATURAL,), ('cnn',)), claims.requires(
            'the probe reads images: its accuracy on the pixels themselves',
            _probes_work, '>=', LEARNS))),
)


def parts(lrs: List[float], permutation: int) -> List[ablation.Part]:
  """The two passes: natural pixels (with the probes), permuted pixels."""
  axes = {'model.name': list(MODELS), 'optimizer.learning_rate': lrs}
  hooks = (analysis.param_count_hook,)
  return [
      ablation.Part(NATURAL, axes, PROBE_COLUMNS,
                    settings={'data.permute_pixels': 0},
                    final_hooks=hooks + (
                        probes.linear_probe_hook(PROBE_LAYERS),)),
      ablation.Part(PERMUTED, axes, COLUMNS, final_hooks=hooks,
                    flag_settings={'data.permute_pixels': permutation}),
  ]


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, lrs: Optional[Sequence] = None,
        permutation_seed: Optional[int] = None,
        session=None) -> ablation.Result:
  """Trains the CNN and the MLP over the rates, on natural and on permuted
  pixels, and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', lrs=[0.001, 0.003])`; the keywords are the
  flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  lrs = SCRIPT.axis('lrs', session.size) if lrs is None else lrs
  permutation = (SCRIPT.axis('permutation_seed', session.size)
                 if permutation_seed is None else permutation_seed)
  if 'model.name' in session.given:
    raise ConfigError('--model does not apply: the CNN and the MLP are the '
                      'axis (size them with --config.model.width_mult and '
                      '--config.model.width)')
  if permutation < 1:
    raise ConfigError(f'--permutation_seed={permutation} must be >= 1 '
                      '(0 would leave the pixels in place)')
  rates = cli.list_flag(lrs, float, 'lrs')
  if any(not (math.isfinite(lr) and lr > 0) for lr in rates):
    raise ConfigError(f'--lrs={",".join(map(str, lrs))}: each rate must be '
                      '> 0')
  return ablation.run_parts(
      session, parts(rates, permutation), config,
      title='CNN against MLP on images, natural and permuted pixels',
      axis_flags={'optimizer.learning_rate': 'lrs', 'model.name': 'model'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), lrs=_LRS.value,
      permutation_seed=_PERMUTATION.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
