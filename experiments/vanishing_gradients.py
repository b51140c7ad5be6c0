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
  below 1% of its maximum on every probe example (n/a for the others);
- layers: hidden layers (the claims need a deep net: at least 10).

Claims, on the plain nets, 5 seeds (each with its margin and precondition
in the code): the notes' vanishing gradient "can slow down or hinder
training" (an existence claim) holds for an activation whose first-layer
gradient is under 1% of the last one's at init AND whose seeds collapse to
chance more often than ReLU's (Fisher's exact test on the counts, not a mean
over collapsed and learning seeds); ReLU's first/last gradient-norm ratio
is closer to 1 (smaller |log10|) than sigmoid's and than tanh's; ELU, where sigmoid's gradients
vanish (a precondition), is not worse than ReLU by more than a point of
test accuracy (its gradient share and collapsed seeds stated). Gradient
ratios at init keep the seeds that later collapsed (they are measured
before training).

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

From Python: `run(size='smoke')` (keywords as the flags above).
"""
import dataclasses
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report
from dlexp.errors import ConfigError

# Each fix: the config fields it sets.
FIXES = {'batch_norm': {'model.norm': ['batch']},
         'residual': {'model.residual': [True]},
         'residual_batch_norm': {'model.norm': ['batch'],
                                 'model.residual': [True]}}

SCRIPT = cli.define_flags(
    'vanishing_gradients', model='mlp', epochs=3, seeds=5,
    smoke={'epochs': 1, 'seeds': 2,
           'activations': ['sigmoid', 'tanh', 'relu', 'elu'],
           'fix_activations': ['sigmoid'], 'fixes': ['batch_norm'],
           'config.model.depth': 10, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.model.depth': 50,
          'config.data.train_limit': 0,
          'fix_activations': ['sigmoid', 'tanh', 'relu', 'elu', 'selu'],
          'fixes': ['batch_norm', 'residual', 'residual_batch_norm']},
    config={'data.train_limit': 10000})
_ACTIVATIONS = SCRIPT.list_flag(
    'activations', ['sigmoid', 'tanh', 'relu', 'elu', 'selu'],
    'Activations trained as plain stacks (model.activation).')
_FIX_ACTIVATIONS = SCRIPT.list_flag(
    'fix_activations', ['sigmoid', 'tanh', 'relu'],
    'Activations trained again with each of --fixes.')
_FIXES = SCRIPT.list_flag('fixes', ['batch_norm', 'residual'],
                          f'Fixes to add: {", ".join(FIXES)}; empty = none.')

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
    report.default_column('test acc'), RATIO_INIT, RATIO_END,
    report.Column('L1 grad @init', _grad('first'), '.1e'),
    report.Column('Ln grad @init', _grad('last'), '.1e'),
    report.at_epoch('diag/saturated_fraction', 0, 'saturated @init'),
    report.default_column('wall s'),
)

def _depth(run):
  """The run's hidden layers (config model.depth)."""
  try:
    return float(run.config.get('config', {}).get('model.depth'))
  except (TypeError, ValueError):
    return None


LAYERS = report.Column('layers', _depth, '.0f', spread=False)
COLUMNS = COLUMNS[:-1] + (LAYERS, COLUMNS[-1])


# -- claims --------------------------------------------------------------------
TEST = report.default_column('test acc')
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TRAINS = CHANCE + 0.1  # "trains above chance": mean test accuracy at least
DEEP = 10  # "deep networks": at least this many hidden layers
# Smallest effects that matter, fixed before any run:
VANISHED = -2.0  # log10 L1/Ln: the first layer gets < 1% of the last's
FLOWS = -1.0  # log10 L1/Ln: the first layer gets at least a tenth
RATIO_MARGIN = 0.5  # log10 L1/Ln: a factor of 3 in the first layer's share
GOOD_MARGIN = 0.01  # "a good choice": at most one point of accuracy worse
# Measured on the untrained network: a seed that later collapsed to chance
# is as good a measurement there as any other, so it is kept.
AT_INIT = ('log10 L1/Ln @init',)


def _plain(ev: claims.Evidence, activation: str) -> str:
  return ev.exact_trial(activation=activation)


def _arm(ev, activation: str, column, name: str = '') -> claims.Sample:
  return ev.sample(_plain(ev, activation), column, name or activation,
                   keep_collapsed=column.header in AT_INIT)


def _collapsed(ev, activation: str) -> claims.Count:
  return ev.count(_plain(ev, activation), claims.COLLAPSED, name=activation)


def _deep(ev) -> claims.Sample:
  """The plain nets' hidden layers (every trial has the same depth)."""
  return ev.sample(ev.trials[0], LAYERS, 'layers', keep_collapsed=True)


_IS_DEEP = claims.requires(f'a deep network: at least {DEEP} hidden layers',
                           _deep, '>=', DEEP)


def _trains(activation: str) -> claims.Requirement:
  return claims.requires(
      f'{activation} trains above chance (mean test accuracy, seeds that '
      'collapsed left out)', lambda ev: _arm(ev, activation, TEST), '>=',
      TRAINS)


def _vanish(ev: claims.Evidence) -> claims.Verdict:
  """An existence claim, for sigmoid and for tanh: the first hidden
  layer's gradient is under 1% of the last one's at init, and training is
  hindered: more seeds collapse to chance than ReLU's."""
  cases = []
  for activation in ('sigmoid', 'tanh'):
    if ev.find(activation=activation) is None:
      continue
    cases.append((activation, claims.across([
        ('gradients vanish', claims.below(
            _arm(ev, activation, RATIO_INIT), VANISHED,
            'log10 first/last hidden-layer gradient norm at init',
            fmt='.2f')),
        ('training hindered', claims.rate_greater(
            _collapsed(ev, activation), _collapsed(ev, 'relu'),
            'seeds collapsed to chance after training')),
    ], 'all')))
  if not cases:
    raise claims.MissingTrial('needs sigmoid or tanh in --activations')
  return claims.across(cases, 'any')


def _distance(ev, activation: str) -> claims.Sample:
  """|log10 first/last gradient norm| at init, per seed: the distance from
  1 (equal norms), so that a first layer amplified beyond the last (as
  tanh's) is not counted as flowing better than one that gets as much."""
  arm = _arm(ev, activation, RATIO_INIT)
  return dataclasses.replace(arm, values=np.abs(arm.values))


def _flows_better(activation: str, others=('sigmoid', 'tanh')):
  """`activation`'s first/last hidden-layer gradient ratio at init is
  closer to 1 (smaller |log10|) than with each of `others`."""
  def check(ev: claims.Evidence) -> claims.Verdict:
    mine = _distance(ev, activation)
    return claims.across([(other, claims.less(
        mine, _distance(ev, other), RATIO_MARGIN,
        '|log10 first/last hidden-layer gradient norm| at init (0: equal '
        'norms)', fmt='.2f')) for other in others], 'all')
  return check


def _elu_good(ev: claims.Evidence) -> claims.Verdict:
  """Where sigmoid's gradients vanish (the precondition), ELU trains the deep
  net not worse than ReLU by more than a point of test accuracy; its
  first-layer gradient share and the collapsed seeds are stated beside."""
  elu, relu = _collapsed(ev, 'elu'), _collapsed(ev, 'relu')
  flow = _arm(ev, 'elu', RATIO_INIT, 'ELU')
  return claims.not_worse(
      _arm(ev, 'elu', TEST, 'ELU'), _arm(ev, 'relu', TEST, 'ReLU'),
      GOOD_MARGIN, 'test accuracy').with_note(
          f'log10 first/last gradient norm at init '
          f'{flow.describe(".2f")} (above {FLOWS:g}: the first layer gets '
          f'at least a tenth); collapsed to chance: {elu.describe()}, '
          f'{relu.describe()}')


def _relu_mitigates(ev: claims.Evidence) -> claims.Verdict:
  """004 G1's reason for ReLU in hidden layers, against the notes' other
  activation of that group (sigmoid): its gradient reaches the first layer
  (|log10| first/last closer to 0) AND training is not hindered as with
  sigmoid (fewer seeds collapsed to chance: Fisher on the counts)."""
  return claims.across([
      ('gradient flow', _flows_better('relu', others=('sigmoid',))(ev)),
      ('training not hindered', claims.rate_greater(
          _collapsed(ev, 'sigmoid'), _collapsed(ev, 'relu'),
          'seeds collapsed to chance after training')),
  ], 'all')


_SETTING = ('plain MLP of 100-unit hidden layers, SGD with momentum 0.9 on '
            '10,000 Fashion-MNIST training images, each activation with its '
            'default initializer; gradient norms on 512 validation probe '
            'images')
CLAIMS = (
    claims.Claim(
        '004 G8', 'gradients ... become very small as they are propagated '
        'backward through deep networks. This can slow down or hinder '
        'training',
        tested_as='for sigmoid and for tanh: the first hidden layer\'s '
        'gradient norm under 1% of the last one\'s at initialization '
        f'(log10 ratio below {VANISHED:g}), and more seeds collapsed to '
        'chance after training than with ReLU (Fisher) '
        f'({_SETTING}); an existence claim ("can"): supported if one '
        'activation shows both',
        rule=_vanish, existence=True,
        regime=(_IS_DEEP, _trains('relu'))),
    claims.Claim(
        '004 G8', 'Activation functions like ReLU ... help mitigate the '
        'vanishing gradient problem by allowing gradients to flow more '
        'easily through the network compared to sigmoid and tanh functions',
        tested_as='|log10| of the first hidden layer\'s gradient norm over '
        'the last one\'s at initialization (the distance from equal norms: '
        'vanishing and amplifying both count against flow), ReLU\'s less '
        f'than sigmoid\'s and than tanh\'s ({_SETTING}); Welch test, margin '
        f'{RATIO_MARGIN} in log10, both contrasts (Holm)',
        rule=_flows_better('relu'), regime=(_IS_DEEP,)),
    claims.Claim(
        '003 Q4', 'ELU is a good choice ... especially for deeper networks '
        'where the vanishing gradients problem can be a concern',
        tested_as='in the deep net where sigmoid\'s gradients vanish (a '
        'precondition): ELU\'s test accuracy not worse than ReLU\'s by more '
        f'than {GOOD_MARGIN} (non-inferiority) ({_SETTING}); ELU\'s '
        'first-layer gradient share at init and the seeds that collapsed '
        'to chance (left out of the means) are stated beside it',
        rule=_elu_good,
        regime=(_IS_DEEP, _trains('relu'),
                claims.requires(
                    'the vanishing gradients problem is a concern here: '
                    'sigmoid\'s log10 first/last gradient norm at init',
                    lambda ev: _arm(ev, 'sigmoid', RATIO_INIT), '<=',
                    VANISHED))),
    claims.Claim(
        '004 G1', 'ReLU ... widely used in hidden layers due to its '
        'simplicity and ability to mitigate the vanishing gradient problem',
        tested_as='the "ability to mitigate" half, against sigmoid in the '
        'same hidden layers: ReLU\'s |log10| first/last hidden-layer '
        'gradient norm at initialization less than sigmoid\'s (Welch, '
        f'margin {RATIO_MARGIN} in log10) AND fewer seeds collapsed to '
        f'chance after training than with sigmoid (Fisher) ({_SETTING}); '
        'both required (Holm); "widely used" and "simplicity" are not '
        'measured',
        rule=_relu_mitigates, regime=(_IS_DEEP, _trains('relu'))),
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


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, activations: Optional[Sequence[str]] = None,
        fix_activations: Optional[Sequence[str]] = None,
        fixes: Optional[Sequence[str]] = None,
        session=None) -> ablation.Result:
  """Trains the plain stacks and the fixed ones and decides the claims.
  From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  activations=['sigmoid', 'relu'], fixes=[])`; the keywords are the flags
  of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if 'diagnostics.train_mode' not in session.given:
    # The gradients a training step sees: BatchNorm with batch statistics
    # (its running averages are the identity at init).
    config.diagnostics.train_mode = True
  # A None argument takes the size preset's value, else the flag's; empty
  # items are dropped as from an empty flag (--fixes=).
  nonempty = lambda name, values: [v for v in (
      SCRIPT.axis(name, session.size) if values is None else values) if v]
  grids = passes(nonempty('activations', activations),
                 nonempty('fix_activations', fix_activations),
                 nonempty('fixes', fixes))
  return ablation.run_ablation(
      session, grids, config, COLUMNS, title='Vanishing gradients by depth',
      axis_flags={'model.activation': 'activations', 'model.norm': 'fixes',
                  'model.residual': 'fixes'},
      claims=CLAIMS, plotters=_layer_plots(config.epochs))


def main(_):
  run(cli.resolved_config(), activations=_ACTIVATIONS.value,
      fix_activations=_FIX_ACTIVATIONS.value, fixes=_FIXES.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
