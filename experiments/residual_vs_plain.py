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
with momentum 0.9, L2 1e-4, batch 128) at depths 6n+2 = 20, 32, 56, each
plain (model.plain: the same layers without the skip connections) and
residual, several seeds each. On this CPU the default data is MNIST-1D
(sequences of 40: the same networks with 1-D convolutions, minutes instead
of hours) at half the paper's width (8-16-32 channels, model.width_mult
0.5) for 10 epochs; --full trains on CIFAR-10 at full width as the paper
did (100 epochs, the rate / 10 at epochs 50 and 75). Columns:

- params: trainable parameters (a plain net has its twin's exactly);
- train err @end: 1 - the training accuracy of the last epoch (running mean
  over its steps, batch norm in training mode), the paper's training error;
- train loss @end: the same epoch's mean training loss;
- test err: 1 - test accuracy of the restored best-validation epoch;
- val err @end: 1 - validation accuracy after the last epoch.
The learning curves (train loss, train and validation accuracy per epoch)
are drawn for the findings; every epoch's numbers are in metrics.jsonl.

  python experiments/residual_vs_plain.py                 # MNIST-1D, 20/32/56
  python experiments/residual_vs_plain.py --depths=20,110 --epochs=20
  python experiments/residual_vs_plain.py --full --data_dir=~/tensorflow_datasets
"""
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_DEPTHS = flags.DEFINE_list('depths', ['20', '32', '56'],
                            'Depths 6n+2 (config.model.variant resnet<d>).')

cli.define_flags(
    'residual_vs_plain', model='resnet', epochs=10, seeds=3,
    dataset='mnist1d',
    config={'optimizer.learning_rate': 0.1, 'optimizer.momentum': 0.9,
            'reg.l2': 1e-4, 'batch_size': 128, 'diagnostics.every_epochs': 0,
            'model.width_mult': 0.5},
    smoke={'epochs': 1, 'seeds': 2, 'depths': ['8', '14'],
           'config.model.width_mult': 0.25, 'config.data.train_limit': 512,
           'config.data.test_limit': 500},
    full={'dataset': 'cifar10', 'epochs': 100, 'seeds': 3,
          'config.model.width_mult': 1.0, 'config.schedule.name': 'step',
          'config.schedule.boundaries': (50, 75)})


def _err(value):
  return None if value is None else 1.0 - value


def _last(key: str):
  return lambda r: r.at_epoch(key, int(r.final('epochs_run') or 0))


TRAIN_ERR = report.Column('train err @end',
                          lambda r: _err(_last('train_accuracy')(r)), '.4f')
TRAIN_LOSS = report.Column('train loss @end', _last('train_loss'), '.4f')
TEST_ERR = report.Column('test err', lambda r: _err(r.final('test_accuracy')),
                         '.4f')
VAL_ERR = report.Column('val err @end',
                        lambda r: _err(_last('val_accuracy')(r)), '.4f')
PARAMS = report.Column('params', lambda r: r.final('params'), ',.0f',
                       spread=False)
COLUMNS = (PARAMS, TRAIN_ERR, TRAIN_LOSS,
           TEST_ERR, VAL_ERR, report.DEFAULT_COLUMNS[2],
           report.DEFAULT_COLUMNS[3])


def _net(ev: claims.Evidence, depth: int, plain: bool) -> str:
  trial = ev.trial(variant=f'resnet{depth}', plain=plain)
  if trial is None:
    raise KeyError(f'resnet{depth} plain={plain} is not in the grid')
  return trial


def _depths(ev: claims.Evidence):
  depths = sorted({int(r.config['overrides']['model.variant'][6:])
                   for runs in ev.groups.values() for r in runs})
  return depths[0], depths[-1]


def _plain_degrades(ev: claims.Evidence) -> claims.Verdict:
  low, high = _depths(ev)
  return claims.compare(ev.values(_net(ev, high, True), TRAIN_ERR),
                        ev.values(_net(ev, low, True), TRAIN_ERR),
                        'training error', f'plain-{high}', f'plain-{low}')


def _residual_fixes(ev: claims.Evidence) -> claims.Verdict:
  _, high = _depths(ev)
  return claims.compare(ev.values(_net(ev, high, True), TRAIN_ERR),
                        ev.values(_net(ev, high, False), TRAIN_ERR),
                        'training error', f'plain-{high}',
                        f'residual-{high}')


def _deeper_residual_better(ev: claims.Evidence) -> claims.Verdict:
  low, high = _depths(ev)
  return claims.compare(ev.values(_net(ev, low, False), TEST_ERR),
                        ev.values(_net(ev, high, False), TEST_ERR),
                        'test error', f'residual-{low}', f'residual-{high}')


CLAIMS = (
    claims.Claim('002 Q7', 'after specific deep/depth ConvNets starts '
                 'performing worse', _plain_degrades),
    claims.Claim('002 Q7', 'ResNets came to solve this issue by making '
                 'learning the identity functions with high depth models '
                 'easy', _residual_fixes),
    claims.Claim('002 Q7', 'now deeper models again behaves as expected '
                 '(better than shallower models)', _deeper_residual_better),
)


def main(_):
  depths = cli.list_flag(_DEPTHS.value, int, 'depths')
  bad = [d for d in depths if d < 8 or (d - 2) % 6]
  if bad:
    raise ConfigError(f'--depths: {bad[0]} is not 6n+2 with n >= 1 (8, '
                         '14, 20, 32, 44, 56, 110, ...)')
  cli.run_ablation(
      {'model.variant': [f'resnet{d}' for d in depths],
       'model.plain': [True, False]},
      COLUMNS, title='Plain vs residual networks by depth',
      final_hooks=[analysis.model_cost_hook()],
      axis_flags={'model.variant': 'depths', 'model.plain': 'depths'},
      claims=CLAIMS, plots=('train_loss', 'train_accuracy', 'val_accuracy'))


if __name__ == '__main__':
  cli.run_main(main)
