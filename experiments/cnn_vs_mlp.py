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
  features": a conjunction of two parts, each judged by its own test. The
  spatial structure part: the CNN's gain over the MLP shrinks by at least a
  point when the pixels are permuted (the per-seed gains, natural against
  permuted), only where the MLP is unchanged by the permutation (TOST at a
  point) and the CNN has an advantage to explain (a mean gain of at least a
  point on natural pixels). It cannot tell a hierarchy from locality and
  weight sharing, so the hierarchy part is the probe test below, under its
  regime; where that regime is not reached (here) the claim is at best
  inconclusive ("spatial structure: supported; hierarchy: regime not
  reached"), and only the spatial part can contradict it;
- "more complex object representations are learned in deeper layers"
  (proxy): linear probes (dlexp/analysis/probes.py) read the class from
  each probed layer; the probe's accuracy rises from the shallowest conv
  stage to the deepest probed layer, and rises more in the trained CNN
  than in the same CNN at its initialization (what training added). Its
  regime, checked from the table: real depth (at least 3 conv stages
  probed) and the dense layer probed, matched probe capacity (each layer's
  dimension recorded, '<layer> dims', and within the probe's 256 inputs,
  so that the random projection discards nothing) and room for a rise.
  This two-stage half-width CNN, probed at pool1 (2,704 dimensions) and
  pool2 (800) through 256 random directions and not at its dense layer,
  does not reach it: inconclusive until a deeper CNN is probed so.
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
import dataclasses
import math
import re
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
PROBE_PREFIX, INIT_SUFFIX = 'probe ', ' @init'  # the probe columns' headers
DENSE_PREFIX = 'head_'  # the CNN's dense head layers (head_dense1, head_act1)

PARAMS = report.Column('params', lambda r: r.final('params'), ',.0f',
                       spread=False, exact=True)
VAL, TEST = report.default_column('val acc'), report.default_column('test acc')
GAIN = report.still_gaining('val_accuracy', PLATEAU_EPOCHS)
PROBE_INPUT = report.final('probe_input', 'probe input', '.4f')
PROBE = {n: report.final(f'probe_{n}', f'probe {n}', '.4f')
         for n in PROBE_LAYERS}
PROBE_INIT = {n: report.final(f'probe_{n}_init', f'probe {n} @init', '.4f')
              for n in PROBE_LAYERS}
COLUMNS = (PARAMS, VAL, TEST, report.default_column('best epoch'), GAIN,
           report.default_column('wall s'))
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
# "Deeper layers" needs a network with real depth: with two conv stages a
# single difference cannot tell a trend with depth from what one pooling
# does. Three conv stages and the dense layer give four levels to rank.
MIN_CONV_STAGES = 3
# Room for a rise: the shallowest stage's probe must sit at least two
# margins below the net's own test accuracy (about what a probe of the
# last hidden layer reads), so that a rise of one margin fits with a
# margin to spare for seed noise; nearer, a "contradiction" is forced.
ROOM = 2 * MARGIN


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
  """Per seed, (trial, column) `a` minus `b` (claims.Evidence.paired)."""
  return ev.paired(a, b, name)


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


# -- the probes' regime (a hierarchy needs depth to show) ---------------------
def _chosen_cnn(pev: claims.PartEvidence) -> Tuple[claims.Evidence, str]:
  ev = pev.part(NATURAL)
  return ev, chosen(ev, 'cnn')


def _is_dense(layer: str) -> bool:
  return layer.startswith(DENSE_PREFIX)


def _depth(layer: str) -> Tuple[bool, int, str]:
  """Depth order: the conv stages by their number (pool1, pool2, ...),
  then the dense head's layers (head_act1, ...)."""
  digits = re.search(r'(\d+)$', layer)
  return _is_dense(layer), int(digits.group(1)) if digits else 0, layer


def probed_layers(pev: claims.PartEvidence) -> List[str]:
  """The layers whose probe the chosen CNN's table holds (a column
  'probe <layer>' with a finite value; the pixels and @init left out),
  shallowest first."""
  ev, trial = _chosen_cnn(pev)
  found = []
  for header, values in ev.table[trial]['columns'].items():
    if (not header.startswith(PROBE_PREFIX) or header.endswith(INIT_SUFFIX)
        or header == PROBE_INPUT.header):
      continue
    if any(v is not None and math.isfinite(v) for v in values):
      found.append(header[len(PROBE_PREFIX):])
  return sorted(found, key=_depth)


def _read_whole(ev: claims.Evidence, trial: str, layer: str) -> bool:
  """Whether the probe reads all of `layer`: its dimension is recorded
  ('<layer> dims') and fits the probe's PROBE_DIM inputs, so that the
  fixed random projection is one-to-one and every layer's probe has the
  same inputs. Projected to fewer inputs than it has, a layer loses more
  the larger it is, which handicaps the shallow, larger maps."""
  dims = [v for v in ev.table[trial]['columns'].get(f'{layer} dims', [])
          if v is not None and math.isfinite(v)]
  return bool(dims) and max(dims) <= probes.PROBE_DIM


def _not_read_whole(pev: claims.PartEvidence) -> float:
  ev, trial = _chosen_cnn(pev)
  return float(sum(not _read_whole(ev, trial, layer)
                   for layer in probed_layers(pev)))


def _room(pev: claims.PartEvidence) -> claims.Sample:
  """Per seed, the chosen CNN's test accuracy minus the probe accuracy of
  its shallowest probed stage: how far a deeper layer's probe can rise (a
  probe of the last hidden layer reads about what the net itself does)."""
  layers = probed_layers(pev)
  if not layers:
    return claims.Sample(np.array([]), 'no probed layer')
  ev, trial = _chosen_cnn(pev)
  return paired(ev, (trial, TEST), (trial, PROBE_PREFIX + layers[0]),
                f'test acc - probe {layers[0]}')


_PROBES_WORK = claims.requires(
    'the probe reads images: its accuracy on the pixels themselves',
    lambda pev: _mean(pev.part(NATURAL).sample(
        chosen(pev.part(NATURAL), 'cnn'), PROBE_INPUT, keep_collapsed=True)),
    '>=', LEARNS)
HIERARCHY_REGIME = (
    _PROBES_WORK,
    claims.requires(
        'real depth: conv stages probed in the chosen CNN',
        lambda pev: float(sum(not _is_dense(x) for x in probed_layers(pev))),
        '>=', MIN_CONV_STAGES),
    claims.requires(
        f'the dense layer probed: dense head layers ({DENSE_PREFIX}*) probed '
        'in the chosen CNN',
        lambda pev: float(sum(map(_is_dense, probed_layers(pev)))),
        '>=', 1),
    claims.requires(
        'matched probe capacity: probed layers the probe does not read whole '
        f'(dimension not recorded in a "<layer> dims" column, or above the '
        f"probe's {probes.PROBE_DIM} inputs)", _not_read_whole, '<=', 0),
    claims.requires(
        'room for a rise: the chosen CNN\'s test accuracy minus its '
        'shallowest probed stage\'s probe accuracy, per seed', _room, '>=',
        ROOM),
)


def _cnn_stage(pev: claims.PartEvidence, suffix: str, name: str,
               first: str, last: str) -> claims.Sample:
  """Per seed of the chosen CNN (natural pixels): the probe accuracy of
  layer `last` minus layer `first`'s (columns 'probe <layer><suffix>')."""
  ev, trial = _chosen_cnn(pev)
  return paired(ev, (trial, f'{PROBE_PREFIX}{last}{suffix}'),
                (trial, f'{PROBE_PREFIX}{first}{suffix}'), name)


def _deeper(pev: claims.PartEvidence) -> claims.Verdict:
  layers = probed_layers(pev)
  first, last = layers[0], layers[-1]
  rise = _cnn_stage(pev, '', f'trained CNN, {last} - {first}', first, last)
  at_init = _cnn_stage(pev, INIT_SUFFIX, f'the same CNN at init, {last} - '
                       f'{first}', first, last)
  return claims.across([
      ('rises with depth', claims.above(
          rise, MARGIN, f'linear probe accuracy, deepest probed layer '
          f'({last}) minus shallowest ({first}) (at least {MARGIN:g})')),
      ('learned', claims.greater(
          rise, at_init, MARGIN, 'the rise with depth, trained against at '
          f'initialization (margin {MARGIN:g})')),
  ], 'and')


def _hierarchy(pev: claims.PartEvidence) -> claims.Verdict:
  """The probe test (_deeper) where its regime (HIERARCHY_REGIME) is
  reached, else a part that is not judged: inconclusive, saying why."""
  checks = [r.check(pev) for r in HIERARCHY_REGIME]
  failed = [c.describe() for c in checks if not c.ok]
  if not failed:
    return _deeper(pev)
  text = 'regime not reached: ' + '; '.join(failed)
  return claims.Verdict(claims.INCONCLUSIVE, text, form='regime not reached',
                        regime=text, alpha=claims.alpha())


def _because(pev: claims.PartEvidence) -> claims.Verdict:
  """The notes' "well-suited because ... hierarchical features" asks for
  both what the CNN takes from the images' spatial structure (the
  permutation) and a hierarchy (the probes): a conjunction, each part
  judged by its own test."""
  spatial, hierarchy = _spatial(pev), _hierarchy(pev)
  verdict = claims.across([('spatial structure', spatial),
                           ('hierarchy', hierarchy)], 'and')
  if hierarchy.regime:  # no p: Holm adjusts over the spatial test alone
    verdict = dataclasses.replace(verdict, evidence=(
        f'spatial structure: {spatial.verdict}; hierarchy: regime not '
        f'reached. {verdict.evidence}'))
  return verdict


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
        tested_as='proxy: "hierarchical features" read through the next '
        'claim\'s linear probes. Two parts, both required (an "and", Holm). '
        f'(1) Spatial structure: {_SETTING}, trained again on the same '
        'images with their pixel positions shuffled by one fixed permutation '
        '(data.permute_pixels): the CNN\'s per-seed test accuracy gain over '
        f'the MLP on natural pixels above its gain on permuted pixels by at '
        f'least {MARGIN:g}. This shows that the CNN uses the images\' '
        'spatial structure, which locality and weight sharing would explain '
        'as well as a hierarchy. (2) Hierarchy: the probe test of "more '
        'complex object representations are learned in deeper layers" (the '
        'next claim), under its regime (at least '
        f'{MIN_CONV_STAGES} conv stages and the dense layer probed, each '
        'read whole by a probe of the same inputs, room for a rise). The '
        'network here has 2 probed conv stages and no dense-layer probe, so '
        'the hierarchy part is not judged and this claim cannot be supported '
        'here, only contradicted by the spatial part. Judged only where the '
        'MLP is unchanged by the permutation (TOST, margin '
        f'±{INVARIANCE_MARGIN:g}: the control works), where the CNN has an '
        'advantage to explain (its mean gain on natural pixels at least '
        f'{MARGIN:g}), and both models learn, chose a rate inside their grid '
        'and have plateaued in both passes',
        rule=_because,
        regime=(_learn((NATURAL, PERMUTED)), _MATCHED,
                _inside((NATURAL, PERMUTED)), _plateau((NATURAL, PERMUTED)),
                _CONTROL, _ADVANTAGE)),
    claims.Claim(
        '004 G4', 'more complex object representations are learned in deeper '
        'layers',
        tested_as='proxy: "more complex" read as "more linearly decodable '
        'class" (a linear probe: ridge regression onto one-hot labels, its '
        'ridge picked on held-out fit examples, on each layer\'s output '
        f'through a fixed random projection to {probes.PROBE_DIM} inputs, '
        'fitted on 4,000 training and scored on 4,000 test images); edges and '
        'textures in lower layers are not measured. The chosen CNN\'s probe '
        'accuracy on its deepest probed layer minus its shallowest conv '
        f'stage\'s, per seed, at least {MARGIN:g} AND above the same rise in '
        f'the same CNN at its initialization by at least {MARGIN:g} (what '
        'training added, beyond what the architecture gives at random), both '
        'required (Holm). The regime it needs, checked: a network with real '
        f'depth (at least {MIN_CONV_STAGES} conv stages probed) and the dense '
        'layer probed; matched probe capacity (each layer\'s dimension '
        f'recorded and at most the probe\'s {probes.PROBE_DIM} inputs, so that '
        'the projection keeps all of it and no layer loses more than another); '
        f'room for a rise (the shallowest stage\'s probe at least {ROOM:g} '
        'below the net\'s test accuracy); a probe that reads the pixels; and '
        f'a CNN that learns, chose a rate inside its grid and has plateaued. '
        f'{_SETTING}: only pool1 (13x13x16 = 2,704 dimensions) and pool2 '
        f'(5x5x32 = 800) are probed, both projected to {probes.PROBE_DIM} '
        'directions (pool1 keeps less of itself than pool2), and the dense '
        'layer is not: the regime is not reached. A proper test probes a CNN '
        f'of at least {MIN_CONV_STAGES} conv stages (e.g. a VGG-style net on '
        'CIFAR-10) at every stage and at its dense layer, each at matched '
        'dimensions (e.g. every stage average-pooled to at most '
        f'{probes.PROBE_DIM} features), on a task its first stage does not '
        'nearly solve already',
        rule=_deeper,
        regime=(_learn((NATURAL,), ('cnn',)), _inside((NATURAL,), ('cnn',)),
                _plateau((NATURAL,), ('cnn',))) + HIERARCHY_REGIME),
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
