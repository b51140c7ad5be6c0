"""Does label smoothing lower the calibration error, at no cost in accuracy?

The template of docs/WRITING_AN_ABLATION.md: a hypothesis of your own, not
the notes', tested as the scripts in experiments/ test the notes. Trains the
same 2x128 MLP on Fashion-MNIST with each label smoothing
(config.loss.label_smoothing), 5 seeds each, and tabulates test accuracy
and the expected calibration error (ECE, 15 bins) of the test predictions.

  python docs/examples/label_smoothing.py --smoothings=0,0.1,0.2
  python docs/examples/label_smoothing.py --smoke         # seconds (CI)
"""
from typing import Optional, Sequence

from dlexp import ablation, analysis, claims, cli, report

# [1] Sizes. The default runs on a CPU in minutes; --smoke in seconds.
SCRIPT = cli.define_flags(
    'label_smoothing', model='mlp', epochs=5, seeds=5,
    config={'model.depth': 2, 'model.width': 128},
    smoke={'epochs': 1, 'seeds': 2, 'smoothings': ['0', '0.1'],
           'config.model.width': 16, 'config.data.train_limit': 2048,
           'config.data.test_limit': 1000},
    full={'epochs': 30})
# [2] The axis flag: strings on the command line, parsed in run().
_SMOOTHINGS = SCRIPT.list_flag(
    'smoothings', ['0', '0.1', '0.2'], 'Label smoothings to compare '
    '(config.loss.label_smoothing).')

# [3] Columns by header: two defaults, and the ECE the final hook writes.
VAL = report.default_column('val acc')
TEST = report.default_column('test acc')
ECE = report.final('ece', 'ECE', fmt='.3f')
COLUMNS = (VAL, TEST, ECE)

# [4] The smallest effects that matter, fixed before any number is seen:
# one point of ECE (a visible gap in a reliability diagram), half a point
# of accuracy (what would change the choice of a setting).
ECE_MARGIN, ACC_MARGIN = 0.01, 0.005


def _arm(ev: claims.Evidence, smoothing: float, column) -> claims.Sample:
  # Matched by value: smoothing 0.0 finds the trial label_smoothing=0.
  return ev.sample(ev.trial(label_smoothing=smoothing), column,
                   f'smoothing {smoothing:g}')


# [5] The claims: a rule in a declared form, the regime it needs, and
# outside= for a claim that is not the notes'.
_TRAINS = claims.requires('no smoothing trains above chance (val acc)',
                          lambda ev: _arm(ev, 0.0, VAL), '>=', 0.2)
CLAIMS = (
    claims.Claim(
        'H1', 'label smoothing 0.1 lowers the calibration error',
        tested_as='test ECE (15 bins), smoothing 0.1 against none, two '
        'one-sided Welch tests at a margin of 0.01',
        rule=lambda ev: claims.less(_arm(ev, 0.1, ECE), _arm(ev, 0.0, ECE),
                                    ECE_MARGIN, 'test ECE', fmt='.3f'),
        regime=(_TRAINS,), outside='your hypothesis'),
    claims.Claim(
        'H2', 'label smoothing 0.1 costs no test accuracy',
        tested_as='test accuracy, smoothing 0.1 against none, '
        'non-inferiority (one-sided Welch) at a margin of 0.005',
        rule=lambda ev: claims.not_worse(
            _arm(ev, 0.1, TEST), _arm(ev, 0.0, TEST), ACC_MARGIN,
            'test accuracy'),
        regime=(_TRAINS,), outside='your hypothesis'),
)


# [6] run(): the same grid from Python and from the command line.
def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        smoothings: Optional[Sequence] = None,
        session=None) -> ablation.Result:
  """From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  smoothings=[0, 0.05])`; the command line's flags give the same."""
  session, config = SCRIPT.start(config, workdir, size, session)
  if smoothings is None:
    smoothings = SCRIPT.axis('smoothings', session.size)
  values = cli.list_flag(smoothings, float, 'smoothings')  # one-line errors
  return ablation.run_ablation(
      session, {'loss.label_smoothing': values}, config, COLUMNS,
      title='Label smoothing: accuracy and calibration',
      axis_flags={'loss.label_smoothing': 'smoothings'},
      final_hooks=[analysis.calibration_hook()], claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), smoothings=_SMOOTHINGS.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
