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

from dlexp import cli, report

_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu'],
    'Activations to compare (config.model.activation).')

cli.define_flags('elu_vs_relu', model='mlp', epochs=10, seeds=3)



def _at_end(key: str, header: str) -> report.Column:
  return report.Column(
      header, lambda r: r.at_epoch(key, r.final('epochs_run') or 0), '.3f')


COLUMNS = report.DEFAULT_COLUMNS[:3] + (
    _at_end('diag/dead_fraction', 'dead @end'),
    _at_end('diag/never_positive_fraction', 'never-positive @end'),
    report.DEFAULT_COLUMNS[3],
)


def main(_):
  cli.run_ablation({'model.activation': _ACTIVATIONS.value}, COLUMNS,
                   title='ELU/SELU vs ReLU',
                   axis_flags={'model.activation': 'activations'})


if __name__ == '__main__':
  cli.run_main(main)
