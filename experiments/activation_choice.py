r"""Which hidden activation for a shallow and for a deep network, and which
output layer for many classes?

Seed 003, question 3: ELU "produces outputs that are closer to zero mean than
ReLU" and "can lead to faster convergence"; question 4: ELU "tends to
perform better than ReLU for most tasks", "Tanh is a good choice for shallow
neural networks", logistic "can suffer from the vanishing gradients problem,
especially in deeper networks", and "Softmax is typically used in the output
layer ... for multi-class classification problems"; seed 004, theory group 1
(004 G1; no claim tested here): sigmoid is used "as an output activation in
the final layer when the target values are in the [0, 1] range".

An MLP of --depths hidden layers of 100 units (2 and the notes' 20 by
default; each activation with its default initializer: He normal for the
ReLU family, GELU and swish, LeCun normal for SELU, Glorot uniform for tanh
and sigmoid), SGD with momentum 0.9, on the first 10,000 Fashion-MNIST
training images by default, is trained with each of --activations at each
depth, softmax + cross-entropy output, 5 seeds. A second pass trains ReLU
with one sigmoid per class instead (loss 'bce' with 10 logits: each class its
own one-vs-rest binary cross-entropy; prediction = the largest logit). Every
activation and depth is its own compiled program (seeds vmapped). Columns:

- test acc: test accuracy of the restored best epoch;
- train loss ep1: the mean training loss over the first epoch's steps (~78
  steps of 128 images): the area under the early training curve, so
  "faster convergence" is read step by step, not by whole epochs;
- ep to <target>: first epoch whose validation accuracy reaches --target
  (seeds that never do are left out of the mean: the cell says how many
  seeds it covers); shown, not used by a claim;
- unit mean/rms @init, @end: per hidden unit, |its mean activation| over
  its root mean square, on a fixed probe of 512 validation images, averaged
  over the layer's units (those with any output) and then over the hidden
  layers, before training and at the last epoch: how far from zero mean the
  units' outputs are, per unit (so that units with large means of both
  signs cannot cancel in a layer-wide mean) and scale-free (0: zero mean,
  1: constant; ELU's activations grow larger than ReLU's in the deep net
  under He init, which |mean| alone would count against it); the claim
  reads these;
- unit abs mean @init, @end: the same without the division (shown);
- act std @end: the same average of the activations' standard deviation;
- log10 L1/Ln @init: log10 of the first hidden layer's gradient norm over
  the last one's, before training (-2: the first layer gets 1% of the last
  one's gradient; n/a with a single hidden layer).

Claims (each with its margin and precondition in the code): ELU closer to
zero mean than ReLU at every depth, before and after training; ELU's
faster convergence (an existence claim) as a lower first-epoch training
loss at some depth; ELU better than ReLU "for most tasks", a claim over
tasks, judged only on a grid of at least three tasks (a data.name axis)
where no ELU or ReLU seed failed under the shared learning rate: on this
script's one task it is 'inconclusive: regime not reached', with the
difference measured at each depth stated beside; tanh not worse than ReLU by
more than a point at the shallowest depth (at most 3 layers); logistic's
first-layer gradient share smaller at the deepest depth (at least 10
layers) than the shallowest by a factor of 10; softmax + cross-entropy
not worse than one sigmoid per class. Seeds that collapse to chance are
left out of a comparison and counted in its sentence, except in columns
measured at initialization.

  python experiments/activation_choice.py                  # defaults below
  python experiments/activation_choice.py --depths=2 --epochs=10 \
      --activations=relu,tanh,sigmoid
  python experiments/activation_choice.py --outputs=    # no output-layer pass

From Python: `run(size='smoke')`, or `run(config, workdir, depths=[2])`.
"""
import dataclasses
import math
from typing import Callable, List, Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'activation_choice', model='mlp', epochs=5, seeds=5,
    smoke={'epochs': 1, 'seeds': 2, 'activations': ['relu', 'elu', 'tanh',
                                                    'sigmoid'],
           'depths': ['2', '10'], 'config.model.width': 32, 'target': 0.5,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'target': 0.85,
          'config.data.train_limit': 0},
    config={'data.train_limit': 10000})
_ACTIVATIONS = SCRIPT.list_flag(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu', 'gelu', 'swish',
                    'tanh', 'sigmoid'],
    'Hidden activations (config.model.activation).')
_DEPTHS = SCRIPT.list_flag('depths', ['2', '20'],
                           'Hidden layers (config.model.depth).')
_OUTPUTS = SCRIPT.list_flag(
    'outputs', ['bce'], 'Output losses besides softmax cross-entropy, trained '
    'with ReLU at every depth (config.loss.name); empty = none.')
_TARGET = SCRIPT.flag('float', 'target', 0.75,
                      'Validation accuracy for the ep-to column.')

ACTS = r'act\d+'  # the hidden layers' activation outputs
DENSE = r'dense\d+'  # the hidden layers' kernels (the logits excluded)


def _layer_mean(stat: str, epoch_of):
  """A per-layer diagnostic averaged over the hidden layers."""
  def value(run) -> Optional[float]:
    means = analysis.layer_values(run, stat, epoch_of(run), ACTS)
    return float(np.mean(means)) if means else None
  return value


def _last_epoch(run) -> int:
  return int(run.final('epochs_run') or 0)


def _std_end(run) -> Optional[float]:
  stds = analysis.layer_values(run, 'act_std', _last_epoch(run), ACTS)
  return float(np.mean(stds)) if stds else None


def _log_ratio_init(run) -> Optional[float]:
  ratio = analysis.layer_ratio(run, 'grad_norm', 0, DENSE)
  return None if ratio is None or ratio <= 0 else float(np.log10(ratio))


TEST = report.default_column('test acc')
# The mean training loss over the first epoch's steps (each step's batch
# loss, averaged): the area under the early training curve, step by step.
LOSS_EP1 = report.at_epoch('train_loss', 1, 'train loss ep1', '.3f')
ABS_INIT = report.Column('unit abs mean @init',
                         _layer_mean('unit_abs_mean', lambda r: 0), '.3f')
ABS_END = report.Column('unit abs mean @end',
                        _layer_mean('unit_abs_mean', _last_epoch), '.3f')
# Judged: per unit |mean| / rms, scale-free (ELU's activations grow larger
# than ReLU's in the deep net under He init, which |mean| alone would count
# against it).
MEAN_INIT = report.Column('unit mean/rms @init',
                          _layer_mean('unit_mean_rms', lambda r: 0), '.3f')
MEAN_END = report.Column('unit mean/rms @end',
                         _layer_mean('unit_mean_rms', _last_epoch), '.3f')
RATIO_INIT = report.Column('log10 L1/Ln @init', _log_ratio_init, '.2f')


def columns(target: float):
  return (TEST, LOSS_EP1, epochs_to(target), MEAN_INIT, MEAN_END, ABS_INIT,
          ABS_END, report.Column('act std @end', _std_end, '.3f'), RATIO_INIT,
          report.default_column('wall s'))


def epochs_to(target: float) -> report.Column:
  return report.epochs_to('val_accuracy', target, f'ep to {target:g}')


# -- claims --------------------------------------------------------------------
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TRAINS = CHANCE + 0.1  # "trains above chance": mean test accuracy at least
# Smallest effects that matter, fixed before any run:
MEAN_MARGIN = 0.05  # |mean| / rms: 5% of the units' root mean square
LOSS_MARGIN = 0.02  # nats of mean first-epoch training loss (~3% of it)
ACC_MARGIN = 0.005  # test accuracy: half a point, a real-world difference
GOOD_MARGIN = 0.01  # "a good choice": at most one point of accuracy worse
RATIO_MARGIN = 1.0  # log10 gradient ratio: a factor of 10
VANISHED = -2.0  # log10 L1/Ln: the first layer gets < 1% of the last's
SHALLOW = 3  # "shallow": at most this many hidden layers
DEEP = 10  # "deeper networks": at least this many hidden layers
TASK = 'data.name'  # the axis that would make a grid of tasks
TASKS = 3  # "most tasks": at least three, so that "most" is more than one
# task and the tasks can stand as the units of the test


def _axis(ev: claims.Evidence, trial: str, name: str):
  """The trial's value of the axis whose config path ends in `name`."""
  for path, value in ev.table[trial].get('overrides', {}).items():
    if path.split('.')[-1] == name:
      return value
  return None


def _depths(ev: claims.Evidence) -> List[int]:
  """The depths of the grid (its model.depth axis), ascending."""
  return sorted({int(_axis(ev, t, 'depth')) for t in ev.trials
                 if _axis(ev, t, 'depth') is not None})


def _task(ev: claims.Evidence, trial: str) -> Optional[str]:
  """The trial's task where the grid has a task axis (data.name), else
  None: the one task the script was run on."""
  return ev.table[trial].get('overrides', {}).get(TASK)


def _tasks(ev: claims.Evidence) -> List[Optional[str]]:
  """The tasks of the grid's activation trials; [None] without a task
  axis (this script trains one task, --config.data.name)."""
  found = {_task(ev, t) for t in ev.trials
           if _axis(ev, t, 'activation') is not None}
  return sorted(found, key=str) or [None]


def _act(ev: claims.Evidence, activation: str, depth: int,
         task: Optional[str] = None) -> str:
  if task is None:
    return ev.exact_trial(activation=activation, depth=depth)
  return ev.exact_trial(activation=activation, depth=depth, name=task)


# Measured on the untrained network: a seed that later collapsed to chance
# is as good a measurement there as any other, so it is kept.
AT_INIT = ('unit mean/rms @init', 'unit abs mean @init', 'log10 L1/Ln @init')


def _arm(ev, activation: str, depth: int, column, name: str = '',
         task: Optional[str] = None) -> claims.Sample:
  """The trial's seeds (those that collapsed to chance left out and counted,
  except in a column measured at initialization)."""
  return ev.sample(_act(ev, activation, depth, task), column,
                   name or f'{activation} depth {depth}',
                   keep_collapsed=column.header in AT_INIT)


def _failed(ev, trial: str) -> int:
  """Seeds that diverged or collapsed to chance (the seeds a sample leaves
  out)."""
  return sum(s in (claims.DIVERGED, claims.COLLAPSED)
             for s in ev.table[trial].get('status', []))


def _collapsed(ev, activation: str, depth: int) -> str:
  trial = _act(ev, activation, depth)
  return (f'{activation} depth {depth} {_failed(ev, trial)}/'
          f'{ev.seeds(trial)} diverged or collapsed')


def _lowest(means: List[float]) -> float:
  """The smallest mean; nan (a failed precondition) if any arm has none."""
  return math.nan if not means or any(math.isnan(m) for m in means) \
      else min(means)


def _mean(sample: claims.Sample) -> float:
  return float(sample.values.mean()) if sample.values.size else math.nan


def _trains(*activations: str, depth: Optional[str] = None
            ) -> claims.Requirement:
  """Each activation's mean test accuracy (seeds that collapsed left out)
  is above chance at every depth of the grid (`depth` 'shallow': the
  shallowest only); the value checked is the lowest of those means."""
  where = 'at the shallowest depth' if depth else 'at every depth'

  def lowest(ev):
    depths = _depths(ev)[:1] if depth else _depths(ev)
    means = [_mean(_arm(ev, a, d, TEST, task=t)) for a in activations
             for d in depths for t in _tasks(ev)]
    return _lowest(means)
  return claims.requires(
      f'{" and ".join(activations)} train above chance {where} (lowest '
      'mean test accuracy)', lowest, '>=', TRAINS)


def _zero_mean(ev: claims.Evidence) -> claims.Verdict:
  """ELU's hidden layers closer to zero mean than ReLU's, at every depth,
  before and after training."""
  cases = []
  for depth in _depths(ev):
    for label, column in (('init', MEAN_INIT), ('end', MEAN_END)):
      cases.append((f'depth {depth} @{label}', claims.less(
          _arm(ev, 'elu', depth, column, 'ELU'),
          _arm(ev, 'relu', depth, column, 'ReLU'), MEAN_MARGIN,
          'per-unit |mean| / rms of the activations, averaged over units and '
          'hidden layers', fmt='.3f')))
  return claims.across(cases, 'all')


def _collapse_note(ev, a: str, b: str) -> str:
  return 'failed seeds: ' + '; '.join(
      f'{_collapsed(ev, a, d)}, {_collapsed(ev, b, d)}' for d in _depths(ev))


def _faster(ev: claims.Evidence) -> claims.Verdict:
  """An existence claim: ELU's training loss falls faster than ReLU's over
  the first epoch's steps at some depth."""
  return claims.across([(f'depth {d}', claims.less(
      _arm(ev, 'elu', d, LOSS_EP1, 'ELU'),
      _arm(ev, 'relu', d, LOSS_EP1, 'ReLU'), LOSS_MARGIN,
      'mean training loss over the first epoch\'s steps', fmt='.3f'))
                        for d in _depths(ev)], 'any').with_note(
                            _collapse_note(ev, 'elu', 'relu'))


def _gains(ev: claims.Evidence, depth: int) -> claims.Sample:
  """Per task, at `depth`: ELU's mean test accuracy over seeds minus
  ReLU's (seeds that diverged or collapsed left out): the tasks are the
  units, as "most tasks" is a claim over tasks."""
  tasks = _tasks(ev)
  gains = [_mean(_arm(ev, 'elu', depth, TEST, task=t))
           - _mean(_arm(ev, 'relu', depth, TEST, task=t)) for t in tasks]
  kept = [g for g in gains if math.isfinite(g)]
  return claims.Sample(np.array(kept, np.float64),
                       f'ELU - ReLU per task (depth {depth})', len(tasks),
                       len(tasks) - len(kept))


def _better(ev: claims.Evidence) -> claims.Verdict:
  """ELU beats ReLU in test accuracy on the mean over the grid's tasks by
  more than the margin (one-sample t over tasks), at every depth."""
  return claims.across([(f'depth {d}', claims.above(
      _gains(ev, d), ACC_MARGIN, 'test accuracy gain, one value per task'))
                        for d in _depths(ev)], 'all')


def _failed_arms(ev: claims.Evidence) -> float:
  """ELU and ReLU seeds that diverged or collapsed, over every depth and
  task: where an arm fails under the one shared learning rate, that rate
  is not one tuned for it, and its survivors' accuracy says little."""
  return float(sum(_failed(ev, _act(ev, a, d, t)) for a in ('elu', 'relu')
                   for d in _depths(ev) for t in _tasks(ev)))


def _measured(ev: claims.Evidence) -> str:
  """What this grid measured, stated where the regime stops the test."""
  parts = []
  for t in _tasks(ev):
    for d in _depths(ev):
      elu = _arm(ev, 'elu', d, TEST, 'ELU', task=t)
      relu = _arm(ev, 'relu', d, TEST, 'ReLU', task=t)
      where = f'depth {d}' + ('' if t is None else f', {t}')
      parts.append(f'{where}: {elu.describe()} vs {relu.describe()}, '
                   f'difference {_mean(elu) - _mean(relu):+.4f}')
  return 'measured, not judged (test accuracy): ' + '; '.join(parts)


@dataclasses.dataclass(frozen=True)
class _NotedCheck(claims.Check):
  note: str = ''

  def describe(self) -> str:
    return f'{super().describe()}; {self.note}' if self.note else \
        super().describe()


@dataclasses.dataclass(frozen=True)
class _Noted(claims.Requirement):
  """A precondition whose failure states beside its reason what the grid
  measured (not judged), so that an 'inconclusive: regime not reached'
  still reports the difference it saw."""
  note: Callable[[claims.Evidence], str] = lambda ev: ''

  def check(self, ev) -> claims.Check:
    got = super().check(ev)
    return got if got.ok else _NotedCheck(**dataclasses.asdict(got),
                                          note=self.note(ev))


def _task_count(ev: claims.Evidence) -> float:
  return float(len(_tasks(ev)))


def _tanh_shallow(ev: claims.Evidence) -> claims.Verdict:
  """Good = not worse than ReLU by more than a point of test accuracy at
  the shallowest depth; tanh's rank among the activations there is
  stated."""
  depth = _depths(ev)[0]
  tanh = _arm(ev, 'tanh', depth, TEST, 'tanh')
  means = [_mean(ev.sample(t, TEST)) for t in ev.trials
           if _axis(ev, t, 'depth') == depth
           and _axis(ev, t, 'activation') is not None]
  rank = 1 + sum(m > _mean(tanh) for m in means if not math.isnan(m))
  return claims.not_worse(
      tanh, _arm(ev, 'relu', depth, TEST, 'ReLU'), GOOD_MARGIN,
      f'test accuracy at depth {depth}').with_note(
          f'tanh ranks {rank} of {len(means)} hidden activations at depth '
          f'{depth}')


def _sigmoid_deep(ev: claims.Evidence) -> claims.Verdict:
  """The logistic net's first hidden layer gets a smaller share of the last
  one's gradient at the deepest depth than at the shallowest, by a factor
  of 10 or more; whether it is under 1% there is stated beside."""
  shallow, deep = _depths(ev)[0], _depths(ev)[-1]
  if shallow == deep:
    raise claims.MissingTrial('needs two depths (--depths)')
  ratio_deep = _arm(ev, 'sigmoid', deep, RATIO_INIT, f'depth {deep}')
  return claims.less(
      ratio_deep, _arm(ev, 'sigmoid', shallow, RATIO_INIT,
                       f'depth {shallow}'), RATIO_MARGIN,
      'sigmoid, log10 first/last hidden-layer gradient norm at init',
      fmt='.2f').with_note(
          f'below {VANISHED:g} (under 1%) at depth {deep} in '
          f'{int((ratio_deep.values < VANISHED).sum())} of '
          f'{ratio_deep.values.size} seeds; after training '
          f'{_collapsed(ev, "sigmoid", deep)} vs '
          f'{_collapsed(ev, "sigmoid", shallow)}; ReLU at depth {deep}: '
          + _arm(ev, 'relu', deep, RATIO_INIT, 'log10 L1/Ln').describe('.2f'))


def _softmax_output(ev: claims.Evidence) -> claims.Verdict:
  cases = [(f'depth {d}', claims.not_worse(
      _arm(ev, 'relu', d, TEST, 'softmax + cross-entropy'),
      ev.sample(ev.exact_trial(name='bce', depth=d), TEST,
                'one sigmoid per class (bce)'), GOOD_MARGIN,
      'ReLU net, test accuracy')) for d in _depths(ev)]
  return claims.across(cases, 'all')


def _bce_trains(ev) -> float:
  return _lowest([_mean(ev.sample(ev.exact_trial(name='bce', depth=d), TEST))
                  for d in _depths(ev)])


def _deepest(ev) -> float:
  return float(_depths(ev)[-1])


def _shallowest(ev) -> float:
  return float(_depths(ev)[0])


_SETTING = ('MLP of 100-unit hidden layers, SGD with momentum 0.9, 5 epochs '
            'on 10,000 Fashion-MNIST training images')
CLAIMS = (
    claims.Claim(
        '003 Q3', 'The ELU activation function produces outputs that are '
        'closer to zero mean than ReLU',
        tested_as='per unit, |mean activation| over its root mean square '
        '(each unit\'s mean and rms over 512 validation probe images: 0 is '
        'zero mean, 1 a constant output; scale-free, so larger activations '
        'do not count as less centred; units with no output on any probe '
        'image left out), averaged over the units, then over the hidden '
        'layers; |mean| alone shown beside; '
        'ELU against ReLU, before and after training, at each depth '
        f'({_SETTING}; '
        'both with He normal initialization, derived for ReLU, not ELU); '
        f'Welch test, margin {MEAN_MARGIN}, all cases (Holm)',
        rule=_zero_mean, regime=(_trains('elu', 'relu'),)),
    claims.Claim(
        '003 Q3', 'ELU ... can lead to faster convergence',
        tested_as='mean training loss over the first epoch\'s ~78 steps (the '
        'area under the early training curve), ELU against ReLU at each '
        f'depth ({_SETTING}); Welch test, margin {LOSS_MARGIN} nats; an '
        'existence claim ("can"): supported if some depth shows it',
        rule=_faster, existence=True, regime=(_trains('elu', 'relu'),)),
    claims.Claim(
        '003 Q4', 'ELU ... tends to perform better than ReLU for most tasks',
        tested_as='a claim over tasks: per task, ELU\'s mean test accuracy '
        'minus ReLU\'s, the tasks as the units (one-sample t over tasks), '
        f'above a margin of {ACC_MARGIN} at every depth (Holm), where the '
        f'grid has at least {TASKS} tasks (a data.name axis) and no ELU or '
        'ReLU seed diverged or collapsed; this script trains one task '
        f'({_SETTING}) with one learning rate shared by every activation, '
        'not tuned per activation, and one task cannot say what holds for '
        '"most tasks", so its regime is not reached (inconclusive) and the '
        'difference it measured is stated beside',
        rule=_better,
        regime=(_trains('elu', 'relu'),
                claims.requires(
                    'every ELU and ReLU seed trained: seeds that diverged '
                    'or collapsed, over every depth and task (a shared '
                    'learning rate under which an arm fails is not tuned '
                    'for it)', _failed_arms, '<=', 0),
                _Noted('tasks in the grid (a data.name axis; 1 without '
                       'it): "most tasks" needs several', _task_count, '>=',
                       TASKS, note=_measured))),
    claims.Claim(
        '003 Q4', 'Tanh is a good choice for shallow neural networks',
        tested_as='"good choice" as not worse than ReLU by more than '
        f'{GOOD_MARGIN} test accuracy (non-inferiority) at the shallowest '
        f'depth ({_SETTING})',
        rule=_tanh_shallow,
        regime=(claims.requires(f'the shallowest net has at most {SHALLOW} '
                                'hidden layers', _shallowest, '<=', SHALLOW),
                _trains('tanh', 'relu', depth='shallow'))),
    claims.Claim(
        '003 Q4', 'Logistic ... can suffer from the vanishing gradients '
        'problem, especially in deeper networks',
        tested_as='log10 of the first hidden layer\'s gradient norm over the '
        'last one\'s at initialization (512 validation probe images), '
        'sigmoid: smaller at the deepest depth than at the shallowest by a '
        f'factor of 10 or more ({RATIO_MARGIN} in log10; Welch test) '
        f'({_SETTING}, Glorot uniform init); how many seeds are below '
        f'{VANISHED:g} (under 1%) at the deepest is stated beside it',
        rule=_sigmoid_deep,
        regime=(claims.requires(f'the deepest net has at least {DEEP} '
                                'hidden layers', _deepest, '>=', DEEP),)),
    claims.Claim(
        '003 Q4', 'Softmax is typically used in the output layer of a neural '
        'network for multi-class classification problems',
        tested_as='proxy: what practice "typically" does cannot be '
        'measured; tested instead whether it is "a sound default for '
        'multi-class": ReLU net\'s test accuracy with softmax + '
        'cross-entropy not worse than with one sigmoid per class '
        f'(one-vs-rest binary cross-entropy) by more than {GOOD_MARGIN}, '
        f'at every depth ({_SETTING}; non-inferiority, Holm)',
        rule=_softmax_output,
        regime=(_trains('relu'),
                claims.requires('one sigmoid per class trains above chance '
                                'at every depth (lowest mean test accuracy)',
                                _bce_trains, '>=', TRAINS))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, activations: Optional[Sequence[str]] = None,
        depths: Optional[Sequence] = None,
        outputs: Optional[Sequence[str]] = None,
        target: Optional[float] = None, session=None) -> ablation.Result:
  """Trains every activation at every depth (and the output-layer pass)
  and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', depths=[2], outputs=[])`; the command line's
  flags give the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  activations = (SCRIPT.axis('activations', session.size)
                 if activations is None else activations)
  depths = SCRIPT.axis('depths', session.size) if depths is None else depths
  outputs = SCRIPT.axis('outputs', session.size) if outputs is None else outputs
  target = SCRIPT.axis('target', session.size) if target is None else target
  depths = cli.list_flag(depths, int, 'depths')
  activations = [a for a in activations if a]
  outputs = [o for o in outputs if o]
  if not activations:
    raise ConfigError('--activations needs at least one value')
  grids = [{'model.activation': activations, 'model.depth': depths}]
  if outputs:
    grids.append({'loss.name': outputs, 'model.depth': depths})
  return ablation.run_ablation(
      session, grids, config, columns(target),
      title='Activation functions by depth, and output layers',
      axis_flags={'model.activation': 'activations', 'model.depth': 'depths',
                  'loss.name': 'outputs'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), activations=_ACTIVATIONS.value,
      depths=_DEPTHS.value, outputs=_OUTPUTS.value, target=_TARGET.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
