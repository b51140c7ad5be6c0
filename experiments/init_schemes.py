r"""Which weight initialization trains a deep network, and does the bias start
matter?

The notes ask (1) whether all weights may share one value if that value is
drawn with He initialization, and (2) whether biases may start at 0, claiming
0.1 keeps ReLUs out of their zero region. This trains the same deep MLP (20
hidden ReLU layers of 100 units, the model default) or the small CNN with each
kernel initializer x bias start, several seeds each (vmapped), and prints:

- val acc, test acc, best epoch: the usual final metrics (restored best epoch);
- act std first/mid/last @init: standard deviation of the first, middle and
  last hidden layer's activations on a fixed probe batch of 512 validation
  images before any training (epoch-0 diagnostics): whether the signal keeps
  its scale through the depth;
- dead @ep1: fraction of hidden units that output exactly 0 with a zero
  derivative for every probe example after the first epoch (mean over
  layers): no gradient reaches them;
- never-positive @ep1: fraction that output <= 0 for every probe example
  (for ReLU nearly the same units; for other activations not death);
- distinct units L1: how many of the first hidden layer's units have distinct
  incoming weights after training. 'constant' draws ONE He-normal value for
  every weight: all units of a layer compute the same thing, get the same
  gradient and stay copies of one unit (1 distinct unit), so the network is
  as narrow as one unit per layer;
- spread L1: std across those units' weights relative to their RMS (0 =
  copies, about 1 = random).

  python experiments/init_schemes.py                      # defaults below
  python experiments/init_schemes.py --model=cnn --epochs=2 --seeds=1 \
      --config.data.train_limit=10000 \
      --config.model.conv_impl=im2col   # the native conv is slow on XLA-CPU
  python experiments/init_schemes.py --inits=he_normal,constant \
      --bias_inits=0,0.1,1 --config.model.activation=tanh

Each (init, bias) pair is its own compiled program (the initializer and the
bias value are static), so compile time dominates at small epoch counts. On
the CPU, a grid with 'orthogonal' loops over seeds instead of vmapping them
(jaxlib's batched QR deadlocks there; see _unbatched_qr).
Per-layer statistics for every epoch are in each run's metrics.jsonl
(diag/<layer>/act_std, dead_fraction, never_positive_fraction, grad_norm).
"""
import jax
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_INITS = flags.DEFINE_list(
    'inits', ['he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal',
              'constant'],
    'Kernel initializers to compare (config.model.kernel_init).')
_BIAS_INITS = flags.DEFINE_list(
    'bias_inits', ['0', '0.1'],
    'Bias starts to compare (config.model.bias_init).')

cli.define_flags(
    'init_schemes', model='mlp', epochs=3, seeds=3,
    smoke={'epochs': 1, 'seeds': 2, 'inits': ['he_normal', 'constant'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5})


def _act_std(position: str, label: str) -> report.Column:
  return report.Column(f'act std {label} @init',
                       lambda r: analysis.layer_stat(r, 'act_std', position),
                       '.3f')


_DEAD_EP1 = report.at_epoch('diag/dead_fraction', 1, 'dead @ep1')
COLUMNS = report.DEFAULT_COLUMNS[:3] + (
    _act_std('first', 'first'), _act_std('middle', 'mid'),
    _act_std('last', 'last'), _DEAD_EP1,
    report.at_epoch('diag/never_positive_fraction', 1, 'never-positive @ep1'),
    report.final('distinct_units', 'distinct units L1', '.0f'),
    report.final('unit_spread', 'spread L1', '.3f'),
    report.DEFAULT_COLUMNS[3],
)


def _trial(ev: claims.Evidence, init: str, bias: float) -> str:
  trial = ev.trial(kernel_init=init, bias_init=bias)
  if trial is None:
    raise KeyError(f'{init} with bias {bias:g} is not in the grid')
  return trial


def _same_value(ev: claims.Evidence) -> claims.Verdict:
  """The notes' answer: no, one shared value keeps the units symmetric."""
  trial = _trial(ev, 'constant', 0.0)
  units = ev.values(trial, 'distinct_units')
  acc = ev.values(trial, 'test_accuracy')
  he = ev.values(_trial(ev, 'he_normal', 0.0), 'test_accuracy')
  text = (f'first layer after training: {claims.describe(units, ".0f")} '
          f'distinct units; test accuracy {claims.describe(acc)} against '
          f'{claims.describe(he)} with He normal')
  stuck = units.size and units.max() <= 1 and acc.size and (
      acc.mean() < he.mean() - 0.1)
  return claims.Verdict(claims.SUPPORTED if stuck else claims.CONTRADICTED,
                        text)


def _positive_bias(ev: claims.Evidence) -> claims.Verdict:
  return claims.compare(
      ev.values(_trial(ev, 'he_normal', 0.0), _DEAD_EP1),
      ev.values(_trial(ev, 'he_normal', 0.1), _DEAD_EP1),
      'dead-unit fraction after epoch 1 (He normal)', 'bias 0', 'bias 0.1',
      fmt='.3f')


def _zero_bias_fine(ev: claims.Evidence) -> claims.Verdict:
  """'OK' unless bias 0 trains significantly worse than bias 0.1."""
  verdict = claims.compare(
      ev.values(_trial(ev, 'he_normal', 0.0), 'test_accuracy'),
      ev.values(_trial(ev, 'he_normal', 0.1), 'test_accuracy'),
      'test accuracy (He normal)', 'bias 0', 'bias 0.1')
  worse = verdict.verdict == claims.CONTRADICTED
  return claims.Verdict(claims.CONTRADICTED if worse else claims.SUPPORTED,
                        verdict.evidence)


CLAIMS = (
    claims.Claim('003 Q1', 'initializing all the weights to the same value '
                 '[even one drawn with He initialization] can lead to '
                 'symmetric gradients ... the network [gets] stuck',
                 _same_value),
    claims.Claim('003 Q2', 'initializing the bias terms to a small positive '
                 'value (e.g. 0.1) can help to prevent the neurons from '
                 'getting stuck in the zero region of the ReLU',
                 _positive_bias),
    claims.Claim('003 Q2', 'It is generally okay to initialize the bias terms '
                 'to 0', _zero_bias_fine),
)


def _unbatched_qr(config, inits) -> None:
  """Orthogonal init runs a QR per layer. jaxlib 0.10's CPU QR kernel,
  batched over vmapped members, waits on the thread pool it runs in and
  deadlocks once more QRs run at once than the pool has threads (21 layers,
  2 cores); looped members (a batch of 1 each) run it inline."""
  if 'orthogonal' not in inits or jax.default_backend() != 'cpu':
    return
  if config.members == 'vmap':
    raise ConfigError('--config.members=vmap with orthogonal init deadlocks '
                      "jaxlib's batched CPU QR; use 'auto' or 'loop'")
  config.members = 'loop'


def main(_):
  config = cli.resolved_config()
  _unbatched_qr(config, _INITS.value)
  cli.run_ablation(
      {'model.kernel_init': _INITS.value,
       'model.bias_init': cli.list_flag(_BIAS_INITS.value, float,
                                        'bias_inits')},
      COLUMNS, config=config, title='Initialization schemes',
      final_hooks=[analysis.distinct_units_hook],
      axis_flags={'model.kernel_init': 'inits',
                  'model.bias_init': 'bias_inits'},
      claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
