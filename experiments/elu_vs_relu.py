r"""Do ELU and SELU train a deep network better than ReLU and leaky ReLU?

The notes claim ELU "ensures all neurons remain active", converges faster and
generalizes better than ReLU, and that SELU self-normalizes. This trains the
same deep MLP (the notes' exercise: 20 hidden layers of 100 units) or the small
CNN with each activation, several seeds each (vmapped), and prints final
validation and test accuracy as mean ± std over seeds.

  python experiments/elu_vs_relu.py                       # defaults below
  python experiments/elu_vs_relu.py --model=cnn --epochs=5
  python experiments/elu_vs_relu.py --activations=relu,selu \
      --config.model.kernel_init=lecun_normal --config.optimizer.learning_rate=0.01

Columns after the usual ones, at the last epoch, averaged over the hidden
layers, on a fixed probe of 512 validation examples:

- dead @end: units whose output is exactly 0 with a zero derivative on every
  probe example: no gradient reaches their weights (ReLU's dead units; an
  ELU, SELU or leaky ReLU unit is never in that state);
- never-positive @end: units whose output is <= 0 on every probe example,
  whatever the activation. For ReLU these are (nearly) the dead ones; an ELU
  unit there still passes gradient.

Per-layer statistics are in each run's metrics.jsonl (keys diag/...);
`python -m dlexp.report runs/elu_vs_relu --plot` draws the learning curves.
"""
from absl import flags

from dlexp import claims, cli, report

_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu'],
    'Activations to compare (config.model.activation).')

cli.define_flags(
    'elu_vs_relu', model='mlp', epochs=10, seeds=3,
    smoke={'epochs': 1, 'seeds': 2, 'activations': ['relu', 'elu'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 40, 'seeds': 5})


def _at_end(key: str, header: str) -> report.Column:
  return report.Column(
      header, lambda r: r.at_epoch(key, r.final('epochs_run') or 0), '.3f')


_DEAD = _at_end('diag/dead_fraction', 'dead @end')
_NEVER_POSITIVE = _at_end('diag/never_positive_fraction', 'never-positive @end')
COLUMNS = report.DEFAULT_COLUMNS[:3] + (
    _DEAD, _NEVER_POSITIVE,
    report.DEFAULT_COLUMNS[3],
)


VAL, TEST = report.DEFAULT_COLUMNS[0], report.DEFAULT_COLUMNS[1]
CHANCE = 0.1  # Fashion-MNIST's 10 classes


def _arm(ev: claims.Evidence, activation: str, column, name: str
         ) -> claims.Sample:
  return ev.sample(ev.trial(activation=activation), column, name)


def _trains(activation: str, name: str) -> claims.Requirement:
  return claims.requires(
      f'{name} trains above chance (val acc, mean over seeds)',
      lambda ev: _arm(ev, activation, VAL, name), '>=', CHANCE + 0.1)


def _all_active(ev: claims.Evidence) -> claims.Verdict:
  """"Active" as a unit with a positive output on some probe example: the
  never-positive share of ELU's hidden units must stay below 1%."""
  return claims.below(_arm(ev, 'elu', _NEVER_POSITIVE, 'ELU'), 0.01,
                      'share of never-positive hidden units at the end',
                      fmt='.3f')


def _generalizes(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([('this MLP', claims.greater(
      _arm(ev, 'elu', TEST, 'ELU'), _arm(ev, 'relu', TEST, 'ReLU'),
      margin=0.005, what='test accuracy'))], 'any')


CLAIMS = (
    claims.Claim(
        '003 Q3', 'ELU ... ensures that all neurons remain active',
        tested_as='share of hidden units whose output is <= 0 on every one '
        'of 512 validation probe examples after the last epoch, for ELU, '
        'against a bound of 1% (20x100 MLP, Fashion-MNIST)',
        rule=_all_active, regime=(_trains('elu', 'ELU'),)),
    claims.Claim(
        '003 Q3', 'ELU ... can lead to ... better generalization',
        tested_as='test accuracy after training, ELU against ReLU, Welch '
        'test with a 0.005 margin (20x100 MLP, Fashion-MNIST); an existence '
        'claim ("can"), so one setting can support it but not refute it',
        rule=_generalizes, existence=True,
        regime=(_trains('elu', 'ELU'), _trains('relu', 'ReLU'))),
)


def main(_):
  cli.run_ablation({'model.activation': _ACTIVATIONS.value}, COLUMNS,
                   title='ELU/SELU vs ReLU',
                   axis_flags={'model.activation': 'activations'},
                   claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
