r"""Does a plain network get worse with depth while a residual one does not?

Seed 002, question 7: "Before ResNets after specific deep/depth ConvNets
starts performing worse! ResNets came to solve this issue by making learning
the identity functions with high depth models easy and now deeper models
again behaves as expected (better than shallower models)". He et al. (2015,
section 4.2, figure 6): on CIFAR-10 the plain 56-layer net has a higher
TRAINING error than the plain 20-layer one (degradation, not overfitting),
while ResNet-56 beats ResNet-20.

This trains the CIFAR-style networks of the paper (3x3 stem, three stages of
n basic blocks, 16-32-64 channels, option A shortcuts, batch norm, SGD 0.1
with momentum 0.9, L2 1e-4, batch 128) at depths 6n+2 (--depths), each
plain (model.plain: the same layers without the skip connections) and
residual, 5 seeds each. On this CPU the default data is MNIST-1D (sequences
of 40: the same networks with 1-D convolutions, minutes instead of hours)
at half the paper's width (8-16-32 channels, model.width_mult 0.5), at
depths 8, 20 and 32 for 40 epochs (1,120 steps; 20 left plain-32's loss
still falling, a referee's dispute), with the rate divided by 10
after half and three quarters of the epochs (--decay_at) as the paper did,
so that the nets settle by the end. --full trains on CIFAR-10 at full width
at the paper's depths 20, 32 and 56 (100 epochs). The default size is a
proxy twice over: 1-D sequences instead of images, and depths up to 32
instead of 56 (10 epochs left the 56-layer nets far from converged, and
more epochs of them do not fit the 10-minute CPU budget).

Design (issue 27): each claim is decided only where the nets it compares
have converged, each net on its own (the largest of their mean falls, so a
converged net cannot hide one still falling): its training loss fell by
less than 0.05 over the last 3 epochs (column 'loss drop last 3 ep'), and
they train above chance. A net that
collapsed to chance is kept in the comparison (it is the extreme of
degradation), and the verdict counts such seeds. The degradation claim
compares the deepest plain net with the shallowest; "ResNets came to solve
this issue" needs both the residual net below its plain twin at the largest
depth AND no degradation left among the residual nets (the deepest not
worse in training error than the shallowest by more than half the
shallowest's mean training error); the mechanism the notes give (learning
the identity is easy) is not measured. "Deeper models again behave as
expected" is the ordering of the residual nets by depth: each deeper one
has a lower test error than the next shallower one, decided only where the
shallowest residual net leaves depth room to improve (its test error at
least 0.02, the column the rule reads).

Columns:
- params: trainable parameters (a plain net has its twin's exactly);
- train err @end: 1 - the training accuracy of the last epoch (running mean
  over its steps, batch norm in training mode), the paper's training error;
- train loss @end: the same epoch's mean training loss;
- loss drop last 3 ep: the training loss 3 epochs before the end minus at
  the end, the convergence check;
- test err: 1 - test accuracy of the restored best-validation epoch (the
  verdicts name in how many seeds it was restored);
- val err @end: 1 - validation accuracy after the last epoch.
The learning curves (train loss, train and validation accuracy per epoch)
are drawn for the findings; every epoch's numbers are in metrics.jsonl.

  python experiments/residual_vs_plain.py                 # MNIST-1D, 8/20/32
  python experiments/residual_vs_plain.py --depths=20,56 --epochs=80
  python experiments/residual_vs_plain.py --full --data_dir=~/tensorflow_datasets

From Python: `run(size='smoke')` (keywords as the flags above).
"""
import math
from typing import Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'residual_vs_plain', model='resnet', epochs=40, seeds=5,
    dataset='mnist1d',
    config={'optimizer.learning_rate': 0.1, 'optimizer.momentum': 0.9,
            'reg.l2': 1e-4, 'batch_size': 128, 'diagnostics.every_epochs': 0,
            'model.width_mult': 0.5},
    smoke={'epochs': 1, 'seeds': 2, 'depths': ['8', '14'],
           'config.model.width_mult': 0.25, 'config.data.train_limit': 512,
           'config.data.test_limit': 500},
    full={'dataset': 'cifar10', 'epochs': 100, 'seeds': 5,
          'depths': ['20', '32', '56'], 'config.model.width_mult': 1.0})
_DEPTHS = SCRIPT.list_flag('depths', ['8', '20', '32'],
                           'Depths 6n+2 (config.model.variant resnet<d>).')
_DECAY_AT = SCRIPT.list_flag(
    'decay_at', ['0.5', '0.75'], 'Fractions of the epochs after which the '
    'learning rate is divided by 10 (config.schedule.boundaries, as the '
    'paper); empty: a constant rate.')

# The convergence check: the training loss may fall by less than CONVERGED
# nats over the last LAST epochs (a net still losing more is still learning,
# and depth comparisons between such nets compare training speed, not what
# depth allows). Absolute, not relative: the claims compare errors, and a
# small change of the loss is a small change of the error whatever the
# loss's level.
LAST, CONVERGED = 3, 0.05
CHANCE = 0.9  # error of a 10-class guess
# The smallest differences that matter: a point of training error (depth's
# effect in He et al. is several points), half a point of test error (5 of
# MNIST-1D's 1,000 test sequences).
ERR_MARGIN, TEST_MARGIN = 0.01, 0.005
# No degradation among residual nets: the deepest may be worse than the
# shallowest by at most this share of the shallowest's mean training error
# (a fixed 0.01 would be about all of a residual-8's error on MNIST-1D).
NO_DEGRADE_SHARE = 0.5
# Deeper residual nets can only be better where the shallowest leaves room:
# its test error (the column the claim's rule reads) at least 0.02 (two
# points; below it there is little error left for depth to remove).
ROOM = 0.02


def _err(value):
  return None if value is None else 1.0 - value


def _last(key: str):
  return lambda r: r.at_epoch(key, int(r.final('epochs_run') or 0))


def _loss_drop(run):
  """How much the training loss fell over the last LAST epochs."""
  end = int(run.final('epochs_run') or 0)
  if end - LAST < 1:
    return None
  before, after = run.at_epoch('train_loss', end - LAST), run.at_epoch(
      'train_loss', end)
  if before is None or after is None:
    return None
  return before - after


TRAIN_ERR = report.Column('train err @end',
                          lambda r: _err(_last('train_accuracy')(r)), '.4f')
TRAIN_LOSS = report.Column('train loss @end', _last('train_loss'), '.4f')
DROP = report.Column(f'loss drop last {LAST} ep', _loss_drop, '+.3f')
TEST_ERR = report.Column('test err', lambda r: _err(r.final('test_accuracy')),
                         '.4f', restorable=True)
VAL_ERR = report.Column('val err @end',
                        lambda r: _err(_last('val_accuracy')(r)), '.4f')
PARAMS = report.Column('params', lambda r: r.final('params'), ',.0f',
                       spread=False)
COLUMNS = (PARAMS, TRAIN_ERR, TRAIN_LOSS, DROP,
           TEST_ERR, VAL_ERR, report.default_column('best epoch'),
           report.default_column('wall s'))


# -- claims -------------------------------------------------------------------
def _depths(ev: claims.Evidence):
  """The depths in this grid, shallowest first (from the trials' axes)."""
  variants = [{k.split('.')[-1]: v for k, v in
               ev.table[t]['overrides'].items()}.get('variant', '')
              for t in ev.trials]
  depths = sorted({int(v[len('resnet'):]) for v in map(str, variants)
                   if v.startswith('resnet') and v[len('resnet'):].isdigit()})
  if len(depths) < 2:
    raise claims.MissingTrial('fewer than two depths in this grid')
  return depths


def _net(ev: claims.Evidence, depth: int, plain: bool) -> str:
  return ev.trial(variant=f'resnet{depth}', plain=plain)


def _name(depth: int, plain: bool) -> str:
  return f'{"plain" if plain else "residual"}-{depth}'


def _arm(ev, depth, plain, column) -> claims.Sample:
  """Every seed, collapsed ones too: a net stuck at chance is the extreme
  of degradation, not a run to leave out (the verdict counts them)."""
  return ev.sample(_net(ev, depth, plain), column, _name(depth, plain),
                   keep_collapsed=True)


def _collapsed(ev, nets) -> str:
  counts = [ev.count(_net(ev, d, p), 'collapsed', name=_name(d, p))
            for d, p in nets]
  return 'seeds collapsed to chance (kept): ' + ', '.join(
      c.describe().replace(' collapsed', '') for c in counts)


def _converged(which: str, pick) -> claims.Requirement:
  """Each of the nets `pick(depths)` -> [(depth, plain)] has converged: the
  largest over the nets of the mean (over its seeds) fall of the loss over
  the last epochs, so that a converged net cannot hide one still falling."""
  def value(ev):
    nets = pick(_depths(ev))
    means = [float(np.mean(_arm(ev, d, p, DROP).values)) for d, p in nets
             if _arm(ev, d, p, DROP).values.size]
    return max(means) if len(means) == len(nets) else math.nan
  return claims.requires(
      f'{which} converged, each (training loss fell by less than '
      f'{CONVERGED:g} over the last {LAST} epochs; the largest over the '
      'nets of the mean over its seeds)', value, '<', CONVERGED)


def _trains(which: str, pick) -> claims.Requirement:
  def values(ev):
    nets = pick(_depths(ev))
    return [v for d, p in nets for v in _arm(ev, d, p, TRAIN_ERR).values]
  return claims.requires(
      f'{which} train above chance (training error, mean over their seeds)',
      values, '<', CHANCE - 0.1)


def _plain_degrades(ev: claims.Evidence) -> claims.Verdict:
  depths = _depths(ev)
  low, high = depths[0], depths[-1]
  return claims.greater(_arm(ev, high, True, TRAIN_ERR),
                        _arm(ev, low, True, TRAIN_ERR), margin=ERR_MARGIN,
                        what='training error at the end').with_note(
                            _collapsed(ev, _EXTREME_PLAIN(depths)))


def _residual_fixes(ev: claims.Evidence) -> claims.Verdict:
  depths = _depths(ev)
  low, high = depths[0], depths[-1]
  shallow = _arm(ev, low, False, TRAIN_ERR)
  margin = NO_DEGRADE_SHARE * (float(shallow.values.mean())
                               if shallow.values.size else 0.0)
  return claims.across([
      (f'residual-{high} below plain-{high}', claims.less(
          _arm(ev, high, False, TRAIN_ERR), _arm(ev, high, True, TRAIN_ERR),
          margin=ERR_MARGIN, what='training error at the end')),
      (f'no degradation: residual-{high} not worse than residual-{low}',
       claims.not_worse(
           _arm(ev, high, False, TRAIN_ERR), shallow, margin=margin,
           what=f'training error at the end (margin {NO_DEGRADE_SHARE:g} x '
           f'residual-{low}\'s mean error = {margin:.4f})',
           higher_is_better=False)),
  ], 'and').with_note(_collapsed(ev, _RES_FIX(depths)))


def _deeper_residual_better(ev: claims.Evidence) -> claims.Verdict:
  depths = _depths(ev)
  return claims.across([
      (f'residual-{deep} below residual-{shallow}', claims.less(
          _arm(ev, deep, False, TEST_ERR), _arm(ev, shallow, False, TEST_ERR),
          margin=TEST_MARGIN, what='test error'))
      for shallow, deep in zip(depths, depths[1:])], 'all').with_note(
          _collapsed(ev, _RESIDUAL(depths)))


_EXTREME_PLAIN = lambda d: [(d[0], True), (d[-1], True)]
_RES_FIX = lambda d: [(d[-1], True), (d[0], False), (d[-1], False)]
_RESIDUAL = lambda d: [(x, False) for x in d]

_PROXY = ('proxy: MNIST-1D (1-D convolutions over 40-step sequences) at half '
          'the CIFAR ResNets\' width, depths 8/20/32 (not CIFAR-10 images, '
          'not 56 layers), 40 epochs')

CLAIMS = (
    claims.Claim(
        '002 A6 Q7', 'after specific deep/depth ConvNets starts performing worse',
        tested_as=f'{_PROXY}: training error at the end, the deepest plain '
        'net against the shallowest (He et al.\'s degradation), Welch test, '
        'margin 0.01',
        rule=_plain_degrades,
        regime=(_converged('the shallowest and deepest plain nets',
                           _EXTREME_PLAIN),
                _trains('the shallowest and deepest plain nets',
                        _EXTREME_PLAIN))),
    claims.Claim(
        '002 A6 Q7', 'ResNets came to solve this issue by making learning the '
        'identity functions with high depth models easy',
        tested_as=f'{_PROXY}: at the largest depth the residual net\'s '
        'training error is below its plain twin\'s (margin 0.01), AND the '
        'deepest residual net is not worse in training error than the '
        f'shallowest by more than {NO_DEGRADE_SHARE:g} x the shallowest\'s '
        'mean training error (no degradation left), both required (Holm); '
        'the mechanism (learning the identity is easy) is not measured',
        rule=_residual_fixes,
        regime=(_converged('the deepest plain net and the residual nets '
                           'compared', _RES_FIX),
                _trains('the nets compared', _RES_FIX))),
    claims.Claim(
        '002 A6 Q7', 'now deeper models again behaves as expected (better than '
        'shallower models)',
        tested_as=f'{_PROXY}: the residual nets ordered by depth, each '
        'deeper one with a lower test error (1 - test accuracy at the '
        'restored best-validation epoch, not the last) than the next '
        'shallower one (margin 0.005), every step required (Holm), where '
        f'the shallowest residual net has room to improve (its test error '
        f'>= {ROOM:g})',
        rule=_deeper_residual_better,
        regime=(_converged('the residual nets', _RESIDUAL),
                _trains('the residual nets', _RESIDUAL),
                claims.requires(
                    'the shallowest residual net has room to improve '
                    '(its test error)',
                    lambda ev: _arm(ev, _depths(ev)[0], False, TEST_ERR),
                    '>=', ROOM))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, depths: Optional[Sequence[int]] = None,
        decay_at: Optional[Sequence[float]] = None,
        session=None) -> ablation.Result:
  """Trains every depth plain and residual and decides the claims. From
  Python: `run(size='smoke')`, or `run(config, 'runs/mine', depths=[8, 20],
  decay_at=[0.5])`; the keywords are the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  depths = SCRIPT.axis('depths', session.size) if depths is None else depths
  decay_at = (SCRIPT.axis('decay_at', session.size) if decay_at is None
              else decay_at)
  depths = cli.list_flag(depths, int, 'depths')
  bad = [d for d in depths if d < 8 or (d - 2) % 6]
  if bad:
    raise ConfigError(f'--depths: {bad[0]} is not 6n+2 with n >= 1 (8, '
                         '14, 20, 32, 44, 56, 110, ...)')
  decay = cli.list_flag(decay_at, float, 'decay_at')
  if any(not 0 < f < 1 for f in decay):
    raise ConfigError(f'--decay_at={",".join(str(f) for f in decay_at)}: '
                      'fractions of the epochs in (0, 1)')
  if decay and not any(k.startswith('schedule.') for k in session.given):
    config.schedule.name = 'step'
    config.schedule.boundaries = tuple(
        sorted({max(1, round(f * config.epochs)) for f in decay}))
  return ablation.run_ablation(
      session, {'model.variant': [f'resnet{d}' for d in depths],
                'model.plain': [True, False]},
      config, COLUMNS, title='Plain vs residual networks by depth',
      final_hooks=[analysis.model_cost_hook()],
      axis_flags={'model.variant': 'depths', 'model.plain': 'depths'},
      claims=CLAIMS, plots=('train_loss', 'train_accuracy', 'val_accuracy'))


def main(_):
  run(cli.resolved_config(), depths=_DEPTHS.value, decay_at=_DECAY_AT.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
