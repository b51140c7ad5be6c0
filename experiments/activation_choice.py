r"""Which hidden activation for a shallow and for a deep network, and which
output layer for many classes?

Seed 003, question 3: ELU "produces outputs that are closer to zero mean than
ReLU" and "can lead to faster convergence"; question 4: ELU "tends to
perform better than ReLU for most tasks", "Tanh is a good choice for shallow
neural networks", logistic "can suffer from the vanishing gradients problem,
especially in deeper networks", and "Softmax is typically used in the output
layer ... for multi-class classification problems"; seed 004, group 1:
sigmoid is used "as an output activation in the final layer when the target
values are in the [0, 1] range".

An MLP of --depths hidden layers of 100 units (2 and the notes' 20 by
default; each activation with its default initializer: He normal for the
ReLU family, GELU and swish, LeCun normal for SELU, Glorot uniform for tanh
and sigmoid), SGD with momentum 0.9, on the first 10,000 Fashion-MNIST
training images by default, is trained with each of --activations at each
depth, softmax + cross-entropy output. A second pass trains ReLU with one
sigmoid per class instead (loss 'bce' with 10 logits: each class its own
one-vs-rest binary cross-entropy; prediction = the largest logit). Every
activation and depth is its own compiled program (seeds vmapped). Columns:

- test acc: test accuracy of the restored best epoch;
- ep to <target>: first epoch whose validation accuracy reaches --target
  (seeds that never do are left out of the mean: the cell says how many
  seeds it covers);
- abs act mean @init, @end: the mean over the hidden layers of |mean
  activation| (over a fixed probe of 512 validation images and all units of
  the layer), before training and at the last epoch: how far from zero mean
  the layers' outputs are;
- act std @end: the same average of the activations' standard deviation.

  python experiments/activation_choice.py                  # defaults below
  python experiments/activation_choice.py --depths=2 --epochs=10 \
      --activations=relu,tanh,sigmoid
  python experiments/activation_choice.py --outputs=    # no output-layer pass
"""
from typing import List, Optional

import numpy as np
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu', 'gelu', 'swish',
                    'tanh', 'sigmoid'],
    'Hidden activations (config.model.activation).')
_DEPTHS = flags.DEFINE_list('depths', ['2', '20'],
                            'Hidden layers (config.model.depth).')
_OUTPUTS = flags.DEFINE_list(
    'outputs', ['bce'], 'Output losses besides softmax cross-entropy, trained '
    'with ReLU at every depth (config.loss.name); empty = none.')
_TARGET = flags.DEFINE_float('target', 0.75,
                             'Validation accuracy for the ep-to column.')

cli.define_flags(
    'activation_choice', model='mlp', epochs=5, seeds=3,
    smoke={'epochs': 1, 'seeds': 2, 'activations': ['relu', 'elu', 'tanh',
                                                    'sigmoid'],
           'depths': ['1', '3'], 'config.model.width': 32, 'target': 0.5,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'target': 0.85,
          'config.data.train_limit': 0},
    config={'data.train_limit': 10000})

ACTS = r'act\d+'  # the hidden layers' activation outputs


def _abs_mean(epoch_of):
  def value(run) -> Optional[float]:
    means = analysis.layer_values(run, 'act_mean', epoch_of(run), ACTS)
    return float(np.mean(np.abs(means))) if means else None
  return value


def _last_epoch(run) -> int:
  return int(run.final('epochs_run') or 0)


def _std_end(run) -> Optional[float]:
  stds = analysis.layer_values(run, 'act_std', _last_epoch(run), ACTS)
  return float(np.mean(stds)) if stds else None


MEAN_INIT = report.Column('abs act mean @init', _abs_mean(lambda r: 0), '.3f')
MEAN_END = report.Column('abs act mean @end', _abs_mean(_last_epoch), '.3f')


def columns(target: float):
  return (report.DEFAULT_COLUMNS[1], epochs_to(target), MEAN_INIT, MEAN_END,
          report.Column('act std @end', _std_end, '.3f'),
          report.DEFAULT_COLUMNS[3])


def epochs_to(target: float) -> report.Column:
  return report.epochs_to('val_accuracy', target, f'ep to {target:g}')


def _reached_or_censored(target: float) -> report.Column:
  """Epochs to `target`, a seed that never reached it counting as one
  epoch more than it trained (so it is not silently left out)."""
  column = epochs_to(target)
  def value(run):
    reached = column.value(run)
    return reached if reached is not None else _last_epoch(run) + 1
  return report.Column(column.header, value, '.1f')


# -- claims --------------------------------------------------------------------
def _values_of(ev: claims.Evidence, path: str) -> List:
  """The values the axis `path` takes in the grid, in order."""
  values = []
  for name in ev.trials:
    overrides = ev.groups[name][0].config.get('overrides') or {}
    if path in overrides and overrides[path] not in values:
      values.append(overrides[path])
  return values


def _depths(ev: claims.Evidence) -> List[int]:
  return sorted(int(d) for d in _values_of(ev, 'model.depth'))


def _act(ev: claims.Evidence, activation: str, depth: int) -> str:
  trial = ev.exact_trial(activation=activation, depth=depth)
  if trial is None:
    raise KeyError(f'{activation} at depth {depth} is not in the grid')
  return trial


def _combine(verdicts: List[claims.Verdict]) -> claims.Verdict:
  kinds = {v.verdict for v in verdicts}
  if claims.SUPPORTED in kinds and claims.CONTRADICTED in kinds:
    verdict = claims.DEPENDS
  elif kinds == {claims.SUPPORTED}:
    verdict = claims.SUPPORTED
  elif kinds == {claims.CONTRADICTED}:
    verdict = claims.CONTRADICTED
  elif kinds & {claims.SUPPORTED, claims.CONTRADICTED}:
    verdict = claims.DEPENDS  # one way at some depths, no difference at others
  else:
    verdict = claims.INCONCLUSIVE
  return claims.Verdict(verdict, '; '.join(v.evidence for v in verdicts))


def _per_layer(ev: claims.Evidence, trial: str, epoch_of) -> np.ndarray:
  """(seeds, layers) |mean activation| per hidden layer."""
  rows = [analysis.layer_values(r, 'act_mean', epoch_of(r), ACTS)
          for r in ev.groups[trial]]
  rows = [r for r in rows if r]
  width = min((len(r) for r in rows), default=0)
  return np.abs(np.array([r[:width] for r in rows], np.float64))


def _zero_mean(ev: claims.Evidence) -> claims.Verdict:
  """ELU against ReLU at every depth, before and after training."""
  verdicts = []
  for depth in _depths(ev):
    elu, relu = _act(ev, 'elu', depth), _act(ev, 'relu', depth)
    for label, column, epoch_of in (('init', MEAN_INIT, lambda r: 0),
                                    ('end', MEAN_END, _last_epoch)):
      closer = (_per_layer(ev, elu, epoch_of).mean(0)
                < _per_layer(ev, relu, epoch_of).mean(0))
      v = claims.compare(ev.values(elu, column), ev.values(relu, column),
                         f'depth {depth}, mean over the hidden layers of '
                         f'|mean activation| @{label}', 'ELU', 'ReLU',
                         expect=-1, fmt='.3f')
      verdicts.append(claims.Verdict(v.verdict, f'{v.evidence}; ELU closer '
                                     f'to 0 in {int(closer.sum())} of '
                                     f'{closer.size} layers'))
  return _combine(verdicts)


def _better(a: str, b: str):
  def check(ev: claims.Evidence) -> claims.Verdict:
    return _combine([claims.compare(
        ev.values(_act(ev, a, d), 'test_accuracy'),
        ev.values(_act(ev, b, d), 'test_accuracy'),
        f'test accuracy at depth {d}', a, b) for d in _depths(ev)])
  return check


def _faster(ev: claims.Evidence) -> claims.Verdict:
  column = _reached_or_censored(_TARGET.value)
  return _combine([claims.compare(
      ev.values(_act(ev, 'elu', d), column),
      ev.values(_act(ev, 'relu', d), column),
      f'epochs to val acc {_TARGET.value:g} at depth {d} (never = epochs + 1)',
      'ELU', 'ReLU', expect=-1, fmt='.2f') for d in _depths(ev)])


def _tanh_shallow(ev: claims.Evidence) -> claims.Verdict:
  """Good = not significantly worse than ReLU at the shallowest depth; the
  rank among all activations there is quoted."""
  depth = min(_depths(ev))
  tanh = ev.values(_act(ev, 'tanh', depth), 'test_accuracy')
  v = claims.compare(tanh, ev.values(_act(ev, 'relu', depth),
                                     'test_accuracy'),
                     f'test accuracy at depth {depth}', 'tanh', 'ReLU')
  means = []
  for activation in _values_of(ev, 'model.activation'):
    acc = ev.values(_act(ev, activation, depth), 'test_accuracy')
    if acc.size:
      means.append(acc.mean())
  rank = 1 + sum(m > (tanh.mean() if tanh.size else np.inf) for m in means)
  verdict = (claims.CONTRADICTED if v.verdict == claims.CONTRADICTED
             else claims.SUPPORTED if v.verdict == claims.SUPPORTED or (
                 v.verdict == claims.INCONCLUSIVE and tanh.size >= 2)
             else claims.INCONCLUSIVE)
  return claims.Verdict(verdict, f'{v.evidence}; tanh ranks {rank} of '
                        f'{len(means)} activations at depth {depth}')


def _sigmoid_deep(ev: claims.Evidence) -> claims.Verdict:
  shallow, deep = min(_depths(ev)), max(_depths(ev))
  drop = claims.compare(
      ev.values(_act(ev, 'sigmoid', deep), 'test_accuracy'),
      ev.values(_act(ev, 'sigmoid', shallow), 'test_accuracy'),
      'sigmoid test accuracy', f'depth {deep}', f'depth {shallow}',
      expect=-1)
  vs_relu = claims.compare(
      ev.values(_act(ev, 'sigmoid', deep), 'test_accuracy'),
      ev.values(_act(ev, 'relu', deep), 'test_accuracy'),
      f'test accuracy at depth {deep}', 'sigmoid', 'ReLU', expect=-1)
  both = {drop.verdict, vs_relu.verdict}
  verdict = (claims.SUPPORTED if both == {claims.SUPPORTED}
             else claims.CONTRADICTED if claims.CONTRADICTED in both
             else claims.INCONCLUSIVE)
  return claims.Verdict(verdict, f'{drop.evidence}; {vs_relu.evidence}')


def _softmax_output(ev: claims.Evidence) -> claims.Verdict:
  verdicts = []
  for d in _depths(ev):
    bce = ev.exact_trial(name='bce', depth=d)
    if bce is None:
      continue
    verdicts.append(claims.compare(
        ev.values(_act(ev, 'relu', d), 'test_accuracy'),
        ev.values(bce, 'test_accuracy'), f'ReLU test accuracy at depth {d}',
        'softmax + cross-entropy', 'one sigmoid per class (bce)'))
  if not verdicts:
    raise KeyError('needs --outputs=bce')
  return _combine(verdicts)


CLAIMS = (
    claims.Claim('003 Q3', 'The ELU activation function produces outputs that '
                 'are closer to zero mean than ReLU', _zero_mean),
    claims.Claim('003 Q3', 'ELU ... can lead to faster convergence', _faster),
    claims.Claim('003 Q4', 'ELU ... tends to perform better than ReLU for most '
                 'tasks', _better('elu', 'relu')),
    claims.Claim('003 Q4', 'Tanh is a good choice for shallow neural networks',
                 _tanh_shallow),
    claims.Claim('003 Q4', 'Logistic ... can suffer from the vanishing '
                 'gradients problem, especially in deeper networks',
                 _sigmoid_deep),
    claims.Claim('003 Q4', 'Softmax is typically used in the output layer of '
                 'a neural network for multi-class classification problems',
                 _softmax_output),
)


def main(_):
  config = cli.resolved_config()
  depths = cli.list_flag(_DEPTHS.value, int, 'depths')
  activations = [a for a in _ACTIVATIONS.value if a]
  outputs = [o for o in _OUTPUTS.value if o]
  if not activations:
    raise ConfigError('--activations needs at least one value')
  grids = [{'model.activation': activations, 'model.depth': depths}]
  if outputs:
    grids.append({'loss.name': outputs, 'model.depth': depths})
  cli.run_ablation(grids, columns(_TARGET.value), config=config,
                   title='Activation functions by depth, and output layers',
                   axis_flags={'model.activation': 'activations',
                               'model.depth': 'depths',
                               'loss.name': 'outputs'},
                   claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
