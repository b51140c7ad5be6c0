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

Per-layer dead-unit fractions and activation statistics are in each run's
metrics.jsonl (keys diag/...); `python -m dlexp.report runs/elu_vs_relu --plot`
draws the learning curves.
"""
from absl import flags

from dlexp import cli, report

_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu'],
    'Activations to compare (config.model.activation).')

cli.define_flags('elu_vs_relu', model='mlp', epochs=10, seeds=3)

COLUMNS = report.DEFAULT_COLUMNS[:3] + (
    report.Column('dead units @end',
                  lambda r: r.at_epoch('diag/dead_fraction',
                                       r.final('epochs_run') or 0), '.3f'),
    report.DEFAULT_COLUMNS[3],
)


def main(_):
  cli.run_ablation({'model.activation': _ACTIVATIONS.value}, COLUMNS,
                   title='ELU/SELU vs ReLU')


if __name__ == '__main__':
  cli.run_main(main)
