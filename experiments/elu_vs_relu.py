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


def _all_active(ev: claims.Evidence) -> claims.Verdict:
  """ELU keeps every unit learning: no unit is dead (zero output and zero
  gradient on every probe example) at the end of training."""
  elu = ev.trial(activation='elu')
  verdict = claims.at_most(ev.values(elu, _DEAD), 0.0,
                           'dead-unit fraction with ELU')
  never = claims.describe(ev.values(elu, _NEVER_POSITIVE), '.3f')
  relu = claims.describe(ev.values(ev.trial(activation='relu'), _DEAD),
                         '.3f')
  return claims.Verdict(verdict.verdict, f'{verdict.evidence}; never-positive '
                        f'(still learning) {never}; ReLU dead {relu}')


def _better(ev: claims.Evidence) -> claims.Verdict:
  return claims.compare(ev.values(ev.trial(activation='elu'), 'test_accuracy'),
                        ev.values(ev.trial(activation='relu'), 'test_accuracy'),
                        'test accuracy', 'ELU', 'ReLU')


CLAIMS = (
    claims.Claim('003 Q3', 'ELU ... ensures all neurons remain active',
                  _all_active),
    claims.Claim('003 Q3', 'ELU ... can lead to faster convergence and better '
                 'generalization', _better),
)


def main(_):
  cli.run_ablation({'model.activation': _ACTIVATIONS.value}, COLUMNS,
                   title='ELU/SELU vs ReLU',
                   axis_flags={'model.activation': 'activations'},
                   claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
