r"""How does the learning rate affect the convergence of gradient descent?

The notes (seed 004, Group 6: "Explain the gradient descent optimization
algorithm. What is the learning rate, and how does it affect the convergence
of gradient descent?") answer: "A large learning rate may lead to faster
convergence but risks overshooting the optimal weights, while a small
learning rate may converge slowly and get stuck in local minima."

This trains one MLP (2 hidden ReLU layers of 100 units, on 10,000
Fashion-MNIST training images, batch 128) with plain gradient descent (SGD,
no momentum) at log-spaced learning rates from 1e-4 to 3, several seeds
each. The learning rate is traced: every rate and seed is one vmapped
program. Columns:

- train loss @ep1 / @end: mean training loss of the first and of the last
  epoch (the last one, not the restored best): how fast, and how far;
- lowest @ep: the epoch with the lowest training loss (the last epoch while
  the loss still falls);
- ups: fraction of epoch-to-epoch changes of the training loss that are
  increases (overshooting shows here);
- epochs to <target>: first epoch whose validation accuracy reaches
  --target (seeds that never do are left out, and the cell says so);
- val acc @end, test acc: validation accuracy after the last epoch; test
  accuracy of the restored best epoch (lowest validation loss);
- NaN @ep: the epoch in which the loss or the weights stopped being finite
  (status.json final diverged_epoch); the smallest such rate is the
  divergence threshold.

The findings include an LR-range-test style plot: final training loss
against the learning rate (log x), diverged seeds marked on the top edge.

  python experiments/learning_rate.py                   # defaults below
  python experiments/learning_rate.py --lrs=0.01,0.1,1 \
      --config.optimizer.momentum=0.9                   # heavy ball instead
  python experiments/learning_rate.py --smoke           # seconds (CI)
  python experiments/learning_rate.py --full            # GPU: all data
"""
import os

from absl import flags

from dlexp import claims, cli, report
from dlexp.errors import ConfigError

_LRS = flags.DEFINE_list(
    'lrs', ['1e-4', '3e-4', '1e-3', '3e-3', '0.01', '0.03', '0.1', '0.3', '1',
            '3'],
    'Learning rates (config.optimizer.learning_rate).')
_TARGET = flags.DEFINE_float(
    'target', 0.8, 'Validation accuracy for the "epochs to" column.')

cli.define_flags(
    'learning_rate', model='mlp', epochs=15, seeds=3,
    config={'model.depth': 2, 'model.width': 100, 'optimizer.name': 'sgd',
            'optimizer.momentum': 0.0, 'data.train_limit': 10000},
    smoke={'epochs': 3, 'seeds': 2, 'lrs': ['1e-3', '0.1', '3'],
           'config.model.width': 32, 'config.data.train_limit': 2048,
           'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'config.data.train_limit': 0})

_LR = 'optimizer.learning_rate'
_LOSS_EP1 = report.at_epoch('train_loss', 1, 'train loss @ep1')
_LOSS_END = report.last('train_loss', 'train loss @end')
_LOWEST = report.epoch_of_best('train_loss', 'lowest @ep')


def columns(target: float):
  return (
      _LOSS_EP1, _LOSS_END, _LOWEST, report.rises('train_loss', 'ups'),
      report.epochs_to('val_accuracy', target, f'epochs to {target:g}'),
      report.last('val_accuracy', 'val acc @end'),
      report.final('test_accuracy', 'test acc'),
      report.final('diverged_epoch', 'NaN @ep', '.1f'),
      report.DEFAULT_COLUMNS[3],
  )


# -- reading the sweep ---------------------------------------------------------
def _rates(ev: claims.Evidence):
  """[(learning rate, trial)] in increasing rate."""
  out = []
  for name in ev.trials:
    o = ev.groups[name][0].config.get('overrides') or {}
    out.append((float(o[_LR]), name))
  return sorted(out)


def _diverged(ev: claims.Evidence, trial: str) -> int:
  return sum(r.status.get('status') == 'diverged' for r in ev.groups[trial])


def _stable(ev: claims.Evidence):
  """[(rate, trial)] whose seeds all stayed finite."""
  return [(lr, t) for lr, t in _rates(ev) if not _diverged(ev, t)]


def _best(ev: claims.Evidence, column: report.Column):
  """(rate, trial) of the stable rate with the lowest mean `column`."""
  stable = [(lr, t) for lr, t in _stable(ev) if ev.values(t, column).size]
  if not stable:
    raise ValueError('every learning rate diverged')
  return min(stable, key=lambda p: ev.values(p[1], column).mean())


def threshold(ev: claims.Evidence):
  """The smallest rate at which some seed diverged (None: none did)."""
  for lr, t in _rates(ev):
    if _diverged(ev, t):
      return lr, t
  return None


def _curve(ev, column, fmt='.3f') -> str:
  return ', '.join(f'{lr:g}: {ev.values(t, column).mean():{fmt}}'
                   for lr, t in _rates(ev) if ev.values(t, column).size)


# -- the claims ------------------------------------------------------------------
def _faster(ev: claims.Evidence) -> claims.Verdict:
  """Up to the fastest stable rate, a larger rate lowers the loss after one
  epoch: the fastest against the smallest rate."""
  fast_lr, fast = _best(ev, _LOSS_EP1)
  small_lr, small = _rates(ev)[0]
  if fast_lr == small_lr:
    return claims.Verdict(claims.CONTRADICTED, (
        f'the smallest rate {small_lr:g} is also the fastest; train loss '
        f'after epoch 1 by rate: {_curve(ev, _LOSS_EP1)}'))
  v = claims.compare(ev.values(small, _LOSS_EP1), ev.values(fast, _LOSS_EP1),
                     'train loss after epoch 1', f'lr {small_lr:g}',
                     f'lr {fast_lr:g}', fmt='.3f')
  return claims.Verdict(v.verdict, f'{v.evidence}; by rate: '
                        f'{_curve(ev, _LOSS_EP1)}')


def _overshoots(ev: claims.Evidence) -> claims.Verdict:
  """Above the best rate the final loss rises again, or the run diverges."""
  best_lr, best = _best(ev, _LOSS_END)
  over = threshold(ev)
  larger = [(lr, t) for lr, t in _stable(ev) if lr > best_lr]
  worse = [(lr, t) for lr, t in larger if claims.compare(
      ev.values(t, _LOSS_END), ev.values(best, _LOSS_END), '', '', ''
  ).verdict == claims.SUPPORTED]
  text = (f'final train loss is lowest at lr {best_lr:g} '
          f'({claims.describe(ev.values(best, _LOSS_END), ".3f")}); by rate: '
          f'{_curve(ev, _LOSS_END)}')
  if over:
    text += (f'; non-finite from lr {over[0]:g} ({_diverged(ev, over[1])}/'
             f'{ev.seeds(over[1])} seeds, divergence threshold)')
  if worse:
    text += f'; significantly worse at lr {", ".join(f"{lr:g}" for lr, _ in worse)}'
  if over or worse:
    return claims.Verdict(claims.SUPPORTED, text)
  if not larger:
    return claims.Verdict(claims.INCONCLUSIVE,
                          text + '; no stable rate above the best one')
  return claims.Verdict(claims.CONTRADICTED, text)


def _slow(ev: claims.Evidence) -> claims.Verdict:
  """The smallest rate ends with a higher loss than the best rate, while its
  loss is still falling (slow, not stopped)."""
  best_lr, best = _best(ev, _LOSS_END)
  small_lr, small = _rates(ev)[0]
  if small_lr == best_lr:
    return claims.Verdict(claims.CONTRADICTED, (
        f'the smallest rate {small_lr:g} ends with the lowest loss; by rate: '
        f'{_curve(ev, _LOSS_END)}'))
  return claims.compare(ev.values(small, _LOSS_END), ev.values(best, _LOSS_END),
                        'final train loss', f'lr {small_lr:g}',
                        f'lr {best_lr:g}', fmt='.3f')


def _last_drop(run: report.Run):
  """Relative fall of the training loss over the last epoch."""
  c = report.trained_curve(run, 'train_loss')
  return None if c.size < 2 else (c[-2] - c[-1]) / c[-2]


_LAST_DROP = report.Column('last-epoch drop', _last_drop, '.4f')


def _stuck(ev: claims.Evidence) -> claims.Verdict:
  """Stuck means the loss stopped falling above where a better rate gets:
  at the smallest rate, is the loss still falling in the last epoch?"""
  best_lr, best = _best(ev, _LOSS_END)
  small_lr, small = _rates(ev)[0]
  drop = ev.values(small, _LAST_DROP)
  lowest = ev.values(small, _LOWEST)
  epochs = int(max(r.final('epochs_run') or 0 for r in ev.groups[small]))
  text = (f'lr {small_lr:g}: loss lowest at epoch '
          f'{claims.describe(lowest, ".1f")} of {epochs}, falling '
          f'{claims.describe(100 * drop, ".2f")}% in the last epoch, ending at '
          f'{claims.describe(ev.values(small, _LOSS_END), ".3f")} vs '
          f'{claims.describe(ev.values(best, _LOSS_END), ".3f")} at lr '
          f'{best_lr:g}')
  if not drop.size or epochs < 2:
    return claims.Verdict(claims.INCONCLUSIVE, text + ' (too few epochs)')
  se = drop.std(ddof=1) / drop.size ** 0.5 if drop.size > 1 else float('inf')
  if lowest.min() >= epochs and drop.mean() > claims.SE_MULTIPLE * se:
    return claims.Verdict(claims.CONTRADICTED, text + ': still descending, '
                          'not stuck')
  if drop.mean() < 0.001:
    return claims.Verdict(claims.SUPPORTED, text + ': the loss has stopped '
                          'falling')
  return claims.Verdict(claims.INCONCLUSIVE, text)


CLAIMS = (
    claims.Claim('004 G6', 'A large learning rate may lead to faster '
                 'convergence', _faster),
    claims.Claim('004 G6', '[a large learning rate] risks overshooting the '
                 'optimal weights', _overshoots),
    claims.Claim('004 G6', 'a small learning rate may converge slowly',
                 _slow),
    claims.Claim('004 G6', '[a small learning rate may] get stuck in local '
                 'minima', _stuck),
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


def main(_):
  lrs = cli.list_flag(_LRS.value, float, 'lrs')
  bad = [lr for lr in lrs if not lr > 0]
  if bad:
    raise ConfigError(f'--lrs: {bad[0]:g} not allowed; learning rates must '
                      'be > 0')
  config = cli.resolved_config()
  cli.run_ablation({_LR: lrs}, columns(_TARGET.value), config=config,
                   title=f'Learning rate sweep ({_optimizer(config)})',
                   axis_flags={_LR: 'lrs'}, claims=CLAIMS,
                   plotters=(loss_vs_rate,))


if __name__ == '__main__':
  cli.run_main(main)
