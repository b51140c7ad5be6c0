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
- inactive @end ("effectively inactive"): units whose derivative is at most
  1e-3 of the layer's largest on every probe example: next to no gradient
  reaches their weights. This is what "active" can fail to mean for ELU (its
  derivative exp(x) is below 1e-3 for inputs below -6.9), where "dead" cannot;
  for ReLU these are the dead units;
- never-positive @end: units whose output is <= 0 on every probe example,
  whatever the activation. For ReLU these are (nearly) the dead ones; an ELU
  unit there still passes gradient.

"ELU ... ensures that all neurons remain active" is decided on the inactive
share of ELU's hidden units, seeds that collapsed to chance kept in (a
collapsed network is where inactive units would show), against a bound of 1%;
the verdict also states ELU's never-positive share, ReLU's inactive share and
how many seeds of each collapsed.

Per-layer statistics are in each run's metrics.jsonl (keys diag/...);
`python -m dlexp.report runs/elu_vs_relu --plot` draws the learning curves.
"""
from typing import Optional, Sequence

from dlexp import ablation, claims, cli, report

SCRIPT = cli.define_flags(
    'elu_vs_relu', model='mlp', epochs=10, seeds=5,
    smoke={'epochs': 1, 'seeds': 2, 'activations': ['relu', 'elu'],
           'config.model.depth': 3, 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 40, 'seeds': 5})
_ACTIVATIONS = SCRIPT.list_flag(
    'activations', ['relu', 'leaky_relu', 'elu', 'selu'],
    'Activations to compare (config.model.activation).')


def _at_end(key: str, header: str) -> report.Column:
  return report.Column(
      header, lambda r: r.at_epoch(key, r.final('epochs_run') or 0), '.3f')


_DEAD = _at_end('diag/dead_fraction', 'dead @end')
_INACTIVE = _at_end('diag/inactive_fraction', 'inactive @end')
_NEVER_POSITIVE = _at_end('diag/never_positive_fraction', 'never-positive @end')
_USUAL = tuple(map(report.default_column,
                   ('val acc', 'test acc', 'best epoch')))
COLUMNS = _USUAL + (
    _DEAD, _INACTIVE, _NEVER_POSITIVE,
    report.default_column('wall s'),
)


VAL, TEST = report.default_column('val acc'), report.default_column('test acc')
CHANCE = 0.1  # Fashion-MNIST's 10 classes


def _arm(ev: claims.Evidence, activation: str, column, name: str
         ) -> claims.Sample:
  return ev.sample(ev.trial(activation=activation), column, name)


def _trains(activation: str, name: str) -> claims.Requirement:
  return claims.requires(
      f'{name} trains above chance (val acc, mean over seeds)',
      lambda ev: _arm(ev, activation, VAL, name), '>=', CHANCE + 0.1)


# "All" neurons: a share below 1% of the hidden units (one unit in a layer of
# 100) is the smallest that matters.
ALL_ACTIVE_BOUND = 0.01


def _all_active(ev: claims.Evidence) -> claims.Verdict:
  """"Active" as a unit that gradient still reaches: the effectively
  inactive share of ELU's hidden units (derivative <= 1e-3 of the layer's
  largest on every probe example) must stay below 1%. Seeds that collapsed
  to chance are kept: that is where inactive units would be."""
  elu, relu = ev.trial(activation='elu'), ev.find(activation='relu')
  inactive = ev.sample(elu, _INACTIVE, 'ELU', keep_collapsed=True)
  never = ev.sample(elu, _NEVER_POSITIVE, 'ELU', keep_collapsed=True)
  collapsed = ev.count(elu, claims.COLLAPSED, name='ELU')
  notes = [f'never-positive share (output <= 0 on every probe example, '
           f'still passing gradient) {never.describe(".3f")}',
           f'seeds collapsed to chance (kept): {collapsed.describe()}']
  if relu is not None:
    notes.append('ReLU inactive share ' + ev.sample(
        relu, _INACTIVE, 'ReLU', keep_collapsed=True).describe('.3f') + ', '
        + ev.count(relu, claims.COLLAPSED, name='ReLU').describe())
  return claims.below(
      inactive, ALL_ACTIVE_BOUND,
      'share of effectively inactive hidden units at the end', fmt='.3f'
  ).with_note('; '.join(notes))


def _generalizes(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([('this MLP', claims.greater(
      _arm(ev, 'elu', TEST, 'ELU'), _arm(ev, 'relu', TEST, 'ReLU'),
      margin=0.005, what='test accuracy'))], 'any')


CLAIMS = (
    claims.Claim(
        '003 Q3', 'ELU ... ensures that all neurons remain active',
        tested_as='share of ELU hidden units that are effectively inactive '
        '(derivative at most 1e-3 of the layer\'s largest on every one of '
        '512 validation probe examples) after the last epoch, collapsed '
        'seeds included, against a bound of 1% (20x100 MLP, Fashion-MNIST); '
        'the never-positive share and the collapsed seeds are stated beside '
        'it',
        rule=_all_active, regime=(_trains('elu', 'ELU'),)),
    claims.Claim(
        '003 Q3', 'ELU ... can lead to ... better generalization',
        tested_as='test accuracy after training, ELU against ReLU, Welch '
        'test with a 0.005 margin (20x100 MLP, Fashion-MNIST); an existence '
        'claim ("can"), so one setting can support it but not refute it',
        rule=_generalizes, existence=True,
        regime=(_trains('elu', 'ELU'), _trains('relu', 'ReLU'))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        activations: Optional[Sequence[str]] = None,
        session=None) -> ablation.Result:
  """Trains every activation and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', activations=['elu'])`;
  the command line's flags give the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if activations is None:
    activations = SCRIPT.axis('activations', session.size)
  activations = cli.list_flag(activations, str, 'activations')
  return ablation.run_ablation(
      session, {'model.activation': activations}, config, COLUMNS,
      title='ELU/SELU vs ReLU', axis_flags={'model.activation': 'activations'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), activations=_ACTIVATIONS.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
