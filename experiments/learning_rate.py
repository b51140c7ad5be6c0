r"""How does the learning rate affect the convergence of gradient descent?

The notes (seed 004, theory Group 6, label 004 G6: "Explain the gradient
descent optimization algorithm. What is the learning rate, and how does it
affect the convergence of gradient descent?") answer: "A large learning
rate may lead to faster convergence but risks overshooting the optimal
weights, while a small learning rate may converge slowly and get stuck in
local minima."

This trains one MLP (2 hidden ReLU layers of 100 units, on 10,000
Fashion-MNIST training images, batch 128) with plain gradient descent (SGD,
no momentum) at log-spaced learning rates from 1e-4 to 3, 5 seeds each.
The learning rate is traced: every rate and seed is one vmapped program.
Columns:

- train loss @ep1 / @end: mean training loss of the first and of the last
  epoch (the last one, not the restored best): how fast, and how far;
- lowest @ep: the epoch with the lowest training loss (the last epoch while
  the loss still falls);
- ups: fraction of epoch-to-epoch changes of the training loss that are
  increases (overshooting shows here);
- last-epoch drop: relative fall of the training loss over the last epoch
  (> 0: still falling; near 0: converged);
- steps to <target>: optimizer steps until the validation accuracy first
  reaches --target, checked at the end of each epoch (so to within one
  epoch's steps; seeds that never do are left out, and the cell says so);
- val acc @last, test acc: validation accuracy after the last epoch; test
  accuracy of the restored best epoch (lowest validation loss);
- NaN @ep: the epoch in which the loss or the weights stopped being finite
  (status.json final diverged_epoch); the smallest such rate is the
  divergence threshold. The status column says 'collapsed' for seeds whose
  last epoch is at chance.

The claims (all four are existence claims, "may" / "risks": one setting can
support them, none refute them) contrast fixed rates, chosen before any
number was seen: Keras' SGD default 0.01 as the reference, 0.1 as "large"
and 0.001 as "small":

- faster convergence: steps to the target at 0.1 against 0.01, and the
  counts of seeds that reach it (Holm over the two);
- overshooting: counts of seeds that diverged or collapsed at each rate
  >= 0.1 against 0.01 (Fisher's exact test, Holm over the rates);
- converging slowly: steps to the target at 0.001 against 0.01, and the
  counts of seeds that never reach it; judged only where every 0.001 seed
  is converging (it reached the target, or its loss still falls by at
  least 0.5% an epoch: neither stopped short of it nor diverged);
- stuck in local minima: the last epoch's training loss at 0.001 against
  0.01, judged only where 0.001 has converged (its loss falls less than
  0.5% over the last epoch): a loss still falling is not stuck, and the
  verdict is then "inconclusive: regime not reached". A loss that stopped
  above 0.01's counts as stuck whether at a local minimum or on a plateau:
  the two are not told apart here.

The findings include an LR-range-test style plot: final training loss
against the learning rate (log x), diverged seeds marked on the top edge.

  python experiments/learning_rate.py                   # defaults below
  python experiments/learning_rate.py --lrs=0.01,0.1,1 \
      --config.optimizer.momentum=0.9                   # heavy ball instead
  python experiments/learning_rate.py --smoke           # seconds (CI)
  python experiments/learning_rate.py --full            # GPU: all data

From Python: `run(size='smoke')`, or `run(config, workdir, lrs=[0.01, 0.1])`.
"""
import math
import os
from typing import Optional, Sequence

from dlexp import ablation, claims, cli, report
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'learning_rate', model='mlp', epochs=15, seeds=5,
    config={'model.depth': 2, 'model.width': 100, 'optimizer.name': 'sgd',
            'optimizer.momentum': 0.0, 'data.train_limit': 10000},
    smoke={'epochs': 3, 'seeds': 2, 'lrs': ['1e-3', '0.01', '0.1', '3'],
           'config.model.width': 32, 'config.data.train_limit': 2048,
           'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'config.data.train_limit': 0})
_LRS = SCRIPT.list_flag(
    'lrs', ['1e-4', '3e-4', '1e-3', '3e-3', '0.01', '0.03', '0.1', '0.3', '1',
            '3'],
    'Learning rates (config.optimizer.learning_rate).')
_TARGET = SCRIPT.flag(
    'float', 'target', 0.8, 'Validation accuracy for the "steps to" column.')

_LR = 'optimizer.learning_rate'
SMALL, REF, LARGE = 0.001, 0.01, 0.1  # a tenth of, and ten times, Keras' SGD
# default rate 0.01 (the reference): fixed before any number is seen
CHANCE = 0.1  # Fashion-MNIST's 10 classes
# Margins: the smallest effect that matters.
STEP_MARGIN = 40  # optimizer steps: half an epoch at the default size, the
# resolution of a time-to-target measured once per epoch
LOSS_MARGIN = 0.05  # nats of final training loss: less is not "stuck" worse
CONVERGED = 0.005  # relative fall of the loss over the last epoch below
# which training has converged (stopped falling): 0.5% per epoch


def _last_drop(run: report.Run):
  """Relative fall of the training loss over the last epoch (> 0: still
  falling); no value for a run whose loss went non-finite."""
  if run.status.get('status') == 'diverged':
    return None
  c = report.trained_curve(run, 'train_loss')
  return None if c.size < 2 else float((c[-2] - c[-1]) / c[-2])


def steps_to(key: str, target: float, header: str) -> report.Column:
  """Optimizer steps (the metrics' 'step' after that epoch) until `key`
  first reaches `target` (>=), measured at the end of each epoch; seeds
  that never reach it have no value (the cell says how many did)."""
  def first(run: report.Run):
    for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
      v = row.get(key)
      if (row.get('epoch', 0) >= 1 and isinstance(v, (int, float))
          and math.isfinite(v) and v >= target):
        return float(row.get('step', 0))
    return None
  return report.Column(header, first, '.0f')


_LOSS_EP1 = report.at_epoch('train_loss', 1, 'train loss @ep1')
_LOSS_END = report.last('train_loss', 'train loss @end')
_LOWEST = report.epoch_of_best('train_loss', 'lowest @ep')
_DROP = report.Column('last-epoch drop', _last_drop, '.4f')
_VAL_LAST = report.LAST_VAL
STEPS_PREFIX = 'steps to '


def columns(target: float):
  return (
      _LOSS_EP1, _LOSS_END, _LOWEST, report.rises('train_loss', 'ups'),
      _DROP, steps_to('val_accuracy', target, f'{STEPS_PREFIX}{target:g}'),
      _VAL_LAST, report.final('test_accuracy', 'test acc'),
      report.final('diverged_epoch', 'NaN @ep', '.1f'),
      report.default_column('wall s'),
  )


# -- the claims ----------------------------------------------------------------
def _at(ev: claims.Evidence, lr: float) -> str:
  return ev.trial(learning_rate=lr)


def _name(lr: float) -> str:
  return f'lr {lr:g}'


def _steps(ev: claims.Evidence) -> str:
  """The header of the time-to-target column (its target is --target's)."""
  found = [h for h in ev.headers() if h.startswith(STEPS_PREFIX)]
  if not found:
    raise claims.RuleError(f'no {STEPS_PREFIX!r}... column in the table')
  return found[0]


def _rates(ev: claims.Evidence):
  """The grid's learning rates, increasing."""
  out = []
  for t in ev.trials:
    given = {k.split('.')[-1]: v
             for k, v in ev.table[t].get('overrides', {}).items()}
    if 'learning_rate' in given:
      out.append(float(given['learning_rate']))
  return sorted(out)


def _trains(lr: float) -> claims.Requirement:
  return claims.requires(
      f'{_name(lr)} trains above chance (val acc @last, mean over seeds)',
      lambda ev: ev.sample(_at(ev, lr), _VAL_LAST, _name(lr)), '>=',
      CHANCE + 0.1)


def _reached(ev: claims.Evidence, lr: float, reached: bool) -> claims.Count:
  header = _steps(ev)
  target = header[len(STEPS_PREFIX):]
  what = (f'reached val acc {target}' if reached else
          f'never reached val acc {target}')
  return ev.count(_at(ev, lr), key=header, name=_name(lr), what=what,
                  where=lambda v: (v is not None) == reached)


def _faster(ev: claims.Evidence) -> claims.Verdict:
  """Time to the target in optimizer steps, lr 0.1 against 0.01 (seeds that
  reach it); and the count of seeds that reach it at all."""
  steps = _steps(ev)
  return claims.across([
      ('steps to the target', claims.less(
          ev.sample(_at(ev, LARGE), steps, _name(LARGE)),
          ev.sample(_at(ev, REF), steps, _name(REF)), margin=STEP_MARGIN,
          fmt='.0f', what=f'optimizer {steps}')),
      ('seeds that reach it', claims.rate_greater(
          _reached(ev, LARGE, True), _reached(ev, REF, True),
          'seeds that reach the target')),
  ], 'any')


def _overshoots(ev: claims.Evidence) -> claims.Verdict:
  """Overshooting, counted per seed: the run diverged (non-finite) or ended
  at chance (collapsed), at each rate >= 0.1 against 0.01."""
  def failed(lr):
    t = _at(ev, lr)
    k = (ev.count(t, claims.DIVERGED).k + ev.count(t, claims.COLLAPSED).k)
    return claims.Count(k, ev.seeds(t), _name(lr), 'diverged or collapsed')
  large = [lr for lr in _rates(ev) if lr >= LARGE]
  if not large:
    raise claims.MissingTrial(f'no learning rate >= {LARGE:g} in the grid')
  return claims.across([(_name(lr), claims.rate_greater(
      failed(lr), failed(REF), 'seeds that diverged or ended at chance'))
                        for lr in large], 'any')


def _slow(ev: claims.Evidence) -> claims.Verdict:
  """With lr 0.001 converging (the regime), time to the target in steps
  against 0.01; and the count of seeds that never reach it."""
  steps = _steps(ev)
  return claims.across([
      ('steps to the target', claims.greater(
          ev.sample(_at(ev, SMALL), steps, _name(SMALL)),
          ev.sample(_at(ev, REF), steps, _name(REF)), margin=STEP_MARGIN,
          fmt='.0f', what=f'optimizer {steps}')),
      ('seeds that never reach it', claims.rate_greater(
          _reached(ev, SMALL, False), _reached(ev, REF, False),
          'seeds that never reach the target in the run')),
  ], 'any')


def _stuck(ev: claims.Evidence) -> claims.Verdict:
  """With lr 0.001's training converged (the regime: its loss has stopped
  falling), stuck is ending above the loss that lr 0.01 reaches."""
  return claims.across([(f'{_name(SMALL)} vs {REF:g}', claims.greater(
      ev.sample(_at(ev, SMALL), _LOSS_END, _name(SMALL)),
      ev.sample(_at(ev, REF), _LOSS_END, _name(REF)), margin=LOSS_MARGIN,
      fmt='.3f', what='training loss of the last epoch'))], 'any')


def _converging(lr: float) -> claims.Requirement:
  """Slow convergence presupposes convergence: a seed that reached the
  target, or whose loss still falls by >= CONVERGED over the last epoch
  (not one stopped short of the target, nor one that went non-finite)."""
  def share(ev):
    t = _at(ev, lr)
    steps, drops = ev.column(t, _steps(ev)), ev.column(t, _DROP)
    return [1.0 if s is not None or (d is not None and d >= CONVERGED)
            else 0.0 for s, d in zip(steps, drops)]
  return claims.requires(
      f'{_name(lr)} is converging: share of seeds that reached the target '
      f'or whose training loss still fell by >= {100 * CONVERGED:g}% over '
      'the last epoch', share, '>=', 1.0)


def _converged(lr: float) -> claims.Requirement:
  return claims.requires(
      f'{_name(lr)} has converged: relative fall of its training loss over '
      'the last epoch (last-epoch drop)',
      lambda ev: ev.sample(_at(ev, lr), _DROP, _name(lr)), '<', CONVERGED)


SETTING = ('2 x 100 ReLU MLP, plain SGD, batch 128, Fashion-MNIST (10,000 '
           'training images)')
EXISTENCE = ('the existence claim ("may") can be supported by one setting '
              'but not refuted')
CLAIMS = (
    claims.Claim(
        '004 G6', 'A large learning rate may lead to faster convergence',
        tested_as=f'optimizer steps until validation accuracy first reaches '
        f'the target (checked each epoch), lr {LARGE:g} against Keras\' '
        f'default {REF:g}, and the counts of seeds that reach it; Holm over '
        f'the two; {EXISTENCE} ({SETTING})',
        rule=_faster, existence=True, regime=(_trains(REF),)),
    claims.Claim(
        '004 G6', 'A large learning rate ... risks overshooting the optimal '
        'weights',
        tested_as=f'counts of seeds that diverged (non-finite) or ended at '
        f'chance, at each rate >= {LARGE:g} against {REF:g}, Fisher exact '
        f'test, Holm over the rates; {EXISTENCE} ({SETTING})',
        rule=_overshoots, existence=True, regime=(_trains(REF),)),
    claims.Claim(
        '004 G6', 'a small learning rate may converge slowly',
        tested_as=f'optimizer steps until validation accuracy first reaches '
        f'the target, lr {SMALL:g} against {REF:g}, and the counts of seeds '
        f'that never reach it, judged only where every lr {SMALL:g} seed is '
        'converging (reached the target, or its loss still falls by >= '
        f'{100 * CONVERGED:g}% an epoch); {EXISTENCE} ({SETTING})',
        rule=_slow, existence=True,
        regime=(_converging(SMALL), _trains(REF))),
    claims.Claim(
        '004 G6', 'a small learning rate may ... get stuck in local minima',
        tested_as=f'last-epoch training loss, lr {SMALL:g} against {REF:g} '
        f'(margin {LOSS_MARGIN:g} nats), judged only where lr {SMALL:g} has '
        f'converged (its loss falls < {100 * CONVERGED:g}% over the last '
        'epoch); a converged loss above 0.01\'s counts as stuck, whether at '
        f'a local minimum or a plateau; {EXISTENCE} ({SETTING})',
        rule=_stuck, existence=True,
        regime=(_converged(SMALL), _trains(REF))),
)


def loss_vs_rate(runs, outdir):
  """The LR-range-test style plot: final train loss against the rate."""
  return report.plot_sweep(runs, _LR, _LOSS_END,
                           os.path.join(outdir, 'loss_vs_learning_rate.png'),
                           logx=True, logy=True)


def _optimizer(config) -> str:
  """'plain gradient descent' (the default), or what the command line set."""
  o = config.optimizer
  if o.name not in ('sgd', 'momentum', 'nesterov'):
    return o.name
  if o.momentum == 0 and o.name != 'nesterov':
    return 'plain gradient descent'
  return f'{o.name}, momentum {o.momentum:g}'


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, lrs: Optional[Sequence] = None, target: Optional[float] = None,
        session=None) -> ablation.Result:
  """Trains every learning rate and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', lrs=[0.01, 0.1])`;
  the command line's flags give the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  lrs = SCRIPT.axis('lrs', session.size) if lrs is None else lrs
  target = SCRIPT.axis('target', session.size) if target is None else target
  lrs = cli.list_flag(lrs, float, 'lrs')
  bad = [lr for lr in lrs if not lr > 0]
  if bad:
    raise ConfigError(f'--lrs: {bad[0]:g} not allowed; learning rates must '
                      'be > 0')
  return ablation.run_ablation(
      session, {_LR: lrs}, config, columns(target),
      title=f'Learning rate sweep ({_optimizer(config)})',
      axis_flags={_LR: 'lrs'}, claims=CLAIMS, plotters=(loss_vs_rate,))


def main(_):
  run(cli.resolved_config(), lrs=_LRS.value, target=_TARGET.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
