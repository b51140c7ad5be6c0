r"""Do gradients vanish in deep networks, for which activations, and do batch
norm and skip connections fix it?

Seed 004, group 8: "The vanishing gradient problem occurs when gradients
during backpropagation become very small as they are propagated backward
through deep networks. This can slow down or hinder training", and
"Activation functions like ReLU ... help mitigate the vanishing gradient
problem by allowing gradients to flow more easily through the network
compared to sigmoid and tanh functions"; seed 003, question 4: ELU is "a good
choice ... especially for deeper networks where the vanishing gradients
problem can be a concern".

The notes' deep MLP (20 hidden layers of 100 units; each activation with its
default initializer: Glorot uniform for sigmoid and tanh, He normal for ReLU
and ELU, LeCun normal for SELU), SGD with momentum 0.9, on the first 10,000
Fashion-MNIST training images by default, trains in passes: every
--activations as it is, then every --fix_activations with each of --fixes:
batch_norm (model.norm=batch: dense -> BatchNorm -> activation) and residual
(model.residual: an identity skip around hidden layers 2-20, added after the
activation; no normalization, so nothing rescales the sum: with ReLU and He
weights each layer adds a branch as large as its input and the activations
double in variance per layer, with sigmoid each adds a positive mean).
Each is its own compiled program (seeds vmapped). Columns:

- test acc: test accuracy of the restored best epoch after --epochs;
- log10 L1/Ln @init, @end: log10 of the first hidden layer's gradient norm
  over the last hidden layer's (diag/dense1/grad_norm / diag/dense20/
  grad_norm: the loss gradient of each dense layer's kernel and bias on a
  fixed probe of 512 validation images), before training and at the last
  epoch; 0 = equal, -3 = the first layer gets a thousandth of the last one's.
  The first layer has 784 inputs and the others 100, which alone makes its
  norm about sqrt(7.84) = 2.8 times larger (+0.45) when every weight gets
  gradients of one size;
- L1 grad @init, Ln grad @init: the two norms themselves;
- saturated @init: fraction of sigmoid or tanh units whose derivative stays
  below 1% of its maximum on every probe example (n/a for the others).

The probe runs as a training step does (config diagnostics.train_mode, set
unless given): BatchNorm normalizes with the probe's statistics, as in
training; in inference mode at initialization its running averages are the
identity and the batch_norm rows would repeat the plain ones.

The findings include the gradient norm of every dense layer against depth,
before training and after the last epoch (report.plot_layers).

  python experiments/vanishing_gradients.py                  # defaults below
  python experiments/vanishing_gradients.py --config.model.depth=50 \
      --config.model.width=64 --fixes=batch_norm --fix_activations=sigmoid
  python experiments/vanishing_gradients.py --fixes= --plot  # plain nets only
"""
import os
from typing import Dict, List

import numpy as np
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import ConfigError

_ACTIVATIONS = flags.DEFINE_list(
    'activations', ['sigmoid', 'tanh', 'relu', 'elu', 'selu'],
    'Activations trained as plain stacks (model.activation).')
_FIX_ACTIVATIONS = flags.DEFINE_list(
    'fix_activations', ['sigmoid', 'tanh', 'relu'],
    'Activations trained again with each of --fixes.')
# Each fix: the config fields it sets.
FIXES = {'batch_norm': {'model.norm': ['batch']},
         'residual': {'model.residual': [True]},
         'residual_batch_norm': {'model.norm': ['batch'],
                                 'model.residual': [True]}}
_FIXES = flags.DEFINE_list('fixes', ['batch_norm', 'residual'],
                           f'Fixes to add: {", ".join(FIXES)}; empty = none.')

cli.define_flags(
    'vanishing_gradients', model='mlp', epochs=3, seeds=3,
    smoke={'epochs': 1, 'seeds': 2,
           'activations': ['sigmoid', 'tanh', 'relu', 'elu'],
           'fix_activations': ['sigmoid'], 'fixes': ['batch_norm'],
           'config.model.depth': 6, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.model.depth': 50,
          'config.data.train_limit': 0,
          'fix_activations': ['sigmoid', 'tanh', 'relu', 'elu', 'selu'],
          'fixes': ['batch_norm', 'residual', 'residual_batch_norm']},
    config={'data.train_limit': 10000})

DENSE = r'dense\d+'  # the hidden layers' kernels (and the logits excluded)


def _log_ratio(epoch_of):
  def value(run):
    ratio = analysis.layer_ratio(run, 'grad_norm', epoch_of(run), DENSE)
    return None if ratio is None or ratio <= 0 else float(np.log10(ratio))
  return value


def _last_epoch(run) -> int:
  return int(run.final('epochs_run') or 0)


def _grad(position: str):
  return lambda run: analysis.layer_stat(run, 'grad_norm', position, 0, DENSE)


RATIO_INIT = report.Column('log10 L1/Ln @init', _log_ratio(lambda r: 0), '.2f')
RATIO_END = report.Column('log10 L1/Ln @end', _log_ratio(_last_epoch), '.2f')
COLUMNS = (
    report.DEFAULT_COLUMNS[1], RATIO_INIT, RATIO_END,
    report.Column('L1 grad @init', _grad('first'), '.1e'),
    report.Column('Ln grad @init', _grad('last'), '.1e'),
    report.at_epoch('diag/saturated_fraction', 0, 'saturated @init'),
    report.DEFAULT_COLUMNS[3],
)

# -- claims --------------------------------------------------------------------
VANISHED = -2.0  # log10 ratio: the first layer gets < 1% of the last's


def _plain(ev: claims.Evidence, activation: str) -> str:
  trial = ev.exact_trial(activation=activation)
  if trial is None:
    raise KeyError(f'{activation} is not in --activations')
  return trial


def _flow(ev: claims.Evidence, trial: str):
  """Distance from equal first and last gradient norms, |log10 ratio|."""
  return np.abs(ev.values(trial, RATIO_INIT))


def _vanish(ev: claims.Evidence) -> claims.Verdict:
  sigmoid, relu = _plain(ev, 'sigmoid'), _plain(ev, 'relu')
  ratio = ev.values(sigmoid, RATIO_INIT)
  acc = claims.compare(ev.values(sigmoid, 'test_accuracy'),
                       ev.values(relu, 'test_accuracy'), 'test accuracy',
                       'sigmoid', 'ReLU', expect=-1)
  text = (f'sigmoid, log10 first/last hidden-layer gradient norm at init: '
          f'{claims.describe(ratio, ".2f")} (vanished below {VANISHED:g}); '
          f'{acc.evidence}')
  if not ratio.size:
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if ratio.max() < VANISHED:
    verdict = (claims.SUPPORTED if acc.verdict == claims.SUPPORTED
               else claims.DEPENDS)
  elif ratio.min() > VANISHED:
    verdict = claims.CONTRADICTED
  else:
    verdict = claims.INCONCLUSIVE
  return claims.Verdict(verdict, text)


def _flows_better(activation: str, others=('sigmoid', 'tanh')):
  """`activation`'s first and last gradient norms are closer (|log10
  ratio| smaller) than each of `others`'."""
  def check(ev: claims.Evidence) -> claims.Verdict:
    mine = _plain(ev, activation)
    verdicts = [claims.compare(
        _flow(ev, _plain(ev, other)), _flow(ev, mine),
        '|log10 first/last gradient norm| at init', other, activation,
        fmt='.2f') for other in others]
    kinds = {v.verdict for v in verdicts}
    if kinds == {claims.SUPPORTED}:
      verdict = claims.SUPPORTED
    elif claims.CONTRADICTED in kinds:
      verdict = (claims.DEPENDS if claims.SUPPORTED in kinds
                 else claims.CONTRADICTED)
    else:
      verdict = (claims.DEPENDS if claims.SUPPORTED in kinds
                 else claims.INCONCLUSIVE)
    return claims.Verdict(verdict, '; '.join(v.evidence for v in verdicts))
  return check


CLAIMS = (
    claims.Claim('004 G8', 'gradients ... become very small as they are '
                 'propagated backward through deep networks. This can slow '
                 'down or hinder training', _vanish),
    claims.Claim('004 G8', 'ReLU ... [helps] mitigate the vanishing gradient '
                 'problem by allowing gradients to flow more easily through '
                 'the network compared to sigmoid and tanh',
                 _flows_better('relu')),
    claims.Claim('003 Q4', 'ELU is a good choice ... especially for deeper '
                 'networks where the vanishing gradients problem can be a '
                 'concern', _flows_better('elu')),
)


# -- the grid ------------------------------------------------------------------
def passes(activations: List[str], fix_activations: List[str],
           fixes: List[str]) -> List[Dict]:
  unknown = [f for f in fixes if f not in FIXES]
  if unknown:
    raise ConfigError(f'--fixes={",".join(unknown)} not allowed; allowed: '
                      f'{", ".join(FIXES)} (empty = none)')
  grids = [{'model.activation': activations}] if activations else []
  if fix_activations:
    grids += [{'model.activation': fix_activations, **FIXES[f]}
              for f in fixes]
  if not grids:
    raise ConfigError('--activations and --fix_activations are both empty: '
                      'nothing to train')
  return grids


def _layer_plots(epochs: int):
  """Gradient norm of each hidden dense layer against depth, before training
  and after the last epoch."""
  def plot_at(epoch: int, name: str):
    return lambda runs, folder: report.plot_layers(
        runs, 'grad_norm', [epoch], os.path.join(folder, name),
        layers=DENSE)
  return [plot_at(0, 'grad_norm_by_layer_init.png'),
          plot_at(epochs, f'grad_norm_by_layer_epoch{epochs}.png')]


def main(_):
  config = cli.resolved_config()
  if 'diagnostics.train_mode' not in cli.config_overrides():
    # The gradients a training step sees: BatchNorm with batch statistics
    # (its running averages are the identity at init).
    config.diagnostics.train_mode = True
  nonempty = lambda values: [v for v in values if v]
  grids = passes(nonempty(_ACTIVATIONS.value),
                 nonempty(_FIX_ACTIVATIONS.value), nonempty(_FIXES.value))
  cli.run_ablation(grids, COLUMNS, config=config,
                   title='Vanishing gradients by depth',
                   axis_flags={'model.activation': 'activations',
                               'model.norm': 'fixes',
                               'model.residual': 'fixes'},
                   claims=CLAIMS, plotters=_layer_plots(config.epochs))


if __name__ == '__main__':
  cli.run_main(main)
