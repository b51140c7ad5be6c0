r"""What happens when the momentum coefficient is set too close to 1?

The notes (seed 003, question 5: "What may happen if you set the momentum
hyperparameter too close to 1 (e.g., 0.99999) when using a
MomentumOptimizer?") answer that the optimizer "will tend to accumulate
gradients from previous steps for a long time, resulting in a very slow
convergence to the minimum of the loss function. This can lead to
overshooting the minimum and bouncing back and forth around it. In extreme
cases, it can also lead to the optimizer failing to converge altogether,
resulting in a divergence of the optimization process. Therefore, it is
important to choose an appropriate momentum value (typically in the range of
0.9 to 0.99)".

This trains one MLP (2 hidden ReLU layers of 100 units, on 10,000
Fashion-MNIST training images, SGD at learning rate 0.01, batch 128) with
momentum 0, 0.5, 0.9, 0.99, 0.999 and 0.99999, heavy-ball and Nesterov,
5 seeds each. Momentum is traced, so every coefficient and seed is one
vmapped program (Nesterov, a static field, is a second). A second pass
(--matched_step, on by default) trains each heavy-ball momentum but 0.9
again at the learning rate that gives it 0.9's asymptotic step lr/(1-m)
= 0.1 (1e-6 for 0.99999, 0.1 for 0): one rate for every momentum confounds
the momentum with the step it gives. Where --config.optimizer.learning_rate
is given, the pass is left out (it would set the rate) and the claims that
need it say "not in this grid". Columns:

- lr/(1-m): the step a constant gradient reaches in the limit (v = g + m v
  sums a geometric series); it takes ~1/(1-m) steps to get there (100,000
  for 0.99999: far longer than this run);
- gain @end: lr (1 - m^T) / (1 - m), the step a constant gradient has
  reached after the run's T steps (what the run really saw);
- train loss @ep1 / @end: mean training loss of the first and the last
  epoch (the last one, not the restored best);
- lowest @ep: the epoch with the lowest training loss (the last epoch when
  the loss keeps falling);
- ups: fraction of epoch-to-epoch changes of the training loss that are
  increases; reversals: fraction of consecutive changes that flip direction
  (bouncing back and forth; a steady climb has many ups, few reversals).
  Both at epoch resolution: oscillations within an epoch average out;
- loss/uniform: the last epoch's training loss over ln(classes), the loss of
  the uniform guess (what a network with a zero last layer predicts): > 1
  means the model ends worse than knowing nothing;
- climbed: share of seeds that stopped converging: the loss went
  non-finite, or the last epoch's is over 1.5x the lowest it had reached;
- val acc @last: validation accuracy after the last epoch; test acc: of the
  restored best epoch (lowest validation loss), as everywhere in dlexp, so
  a run that climbed away shows the test accuracy of an early epoch: the
  claims read the last epoch's values, never that one;
- NaN @ep: the epoch in which the loss or the weights stopped being finite
  (status.json final diverged_epoch); n/a where no seed diverged. The
  status column says 'collapsed' for seeds whose last epoch is at chance.

  python experiments/momentum.py                      # defaults below
  python experiments/momentum.py --momenta=0.9,0.99999 --nesterov=false \
      --config.optimizer.learning_rate=0.001         # the notes' 002 rate
  python experiments/momentum.py --smoke              # seconds (CI)
  python experiments/momentum.py --full               # GPU: all data, 30 ep

From Python: `run(size='smoke')`, or `run(config, workdir, momenta=[0.9])`.

The claims are decided on the heavy-ball trials (Nesterov rows are shown for
comparison), on the last epoch, never the restored best:

- "very slow convergence": momentum 0.99999 against 0.9 at one rate, the
  last epoch's training loss (after the same number of steps), Welch test
  with a 0.05-nat margin, judged only where every 0.99999 seed keeps
  converging (slow convergence presupposes convergence); otherwise
  "inconclusive: regime not reached", and the divergence claim counts
  them. The matched-step arm (rate 1e-6) is shown, not judged: there the
  slowness follows from arithmetic (its step after T steps is about lr T);
- "overshooting ... bouncing back and forth around it" (an existence
  claim): the share of loss changes that reverse direction, 0.99999 against
  0.9, in the same regime (near the minimum, not climbing away);
- "failing to converge altogether ... divergence" (an existence claim):
  the number of seeds that diverged, and that collapsed to chance, 0.99999
  against 0.9, Fisher's exact test on the counts (Holm over the two);
- "typically in the range of 0.9 to 0.99": every heavy-ball momentum of the
  grid inside the range is no worse (non-inferiority, 0.01 margin) than
  every one outside it, by the last epoch's validation accuracy with
  collapsed seeds kept at their chance accuracy (what that choice gives);
  Holm over the pairs, every momentum at the matched step (not a rate
  tuned per momentum).
"""
import math
from typing import Optional, Sequence

from dlexp import ablation, claims, cli, report
from dlexp import data as data_lib
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'momentum', model='mlp', epochs=15, seeds=5,
    config={'model.depth': 2, 'model.width': 100,
            'optimizer.name': 'sgd', 'optimizer.learning_rate': 0.01,
            'data.train_limit': 10000},
    smoke={'epochs': 3, 'seeds': 2, 'momenta': ['0.9', '0.99999'],
           'nesterov': ['false'], 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'config.data.train_limit': 0})
_MOMENTA = SCRIPT.list_flag(
    'momenta', ['0', '0.5', '0.9', '0.99', '0.999', '0.99999'],
    'Momentum coefficients (config.optimizer.momentum).')
_NESTEROV = SCRIPT.list_flag(
    'nesterov', ['false', 'true'],
    'Nesterov momentum off and/or on (config.optimizer.nesterov).')
_MATCHED = SCRIPT.flag(
    'bool', 'matched_step', True, 'Also train each heavy-ball momentum but '
    '0.9 at the learning rate that gives it the asymptotic step lr/(1-m) of '
    'momentum 0.9 at the configured rate (a second pass; off where '
    'config.optimizer.learning_rate is given, since the pass sets it).')

HIGH, USUAL = 0.99999, 0.9  # the notes' value and the usual one
RANGE = (0.9, 0.99)  # the notes' "typically in the range of 0.9 to 0.99"
CHANCE = 0.1  # Fashion-MNIST's 10 classes
CLIMB = 1.5  # a last-epoch loss over 1.5 x its lowest: it left the minimum
# Margins: the smallest effect that matters, fixed before any number is seen.
SLOW_MARGIN = 0.05  # nats of training loss after the same steps: less is
# not "very slow" convergence
BOUNCE_MARGIN = 0.1  # share of reversals: about one more in ten changes
RANGE_MARGIN = 0.01  # validation accuracy: one point is a worse choice


def _config(run: report.Run, key: str) -> float:
  return float(run.config['config'][key])


def _asymptotic_step(run: report.Run) -> float:
  m = _config(run, 'optimizer.momentum')
  return _config(run, 'optimizer.learning_rate') / (1.0 - m)


def _gain_at_end(run: report.Run):
  steps = max((row.get('step', 0) for row in run.metrics), default=0)
  m = _config(run, 'optimizer.momentum')
  lr = _config(run, 'optimizer.learning_rate')
  return lr * (1.0 - m ** steps) / (1.0 - m)


def _over_uniform(run: report.Run):
  """Last-epoch training loss over ln(classes), the uniform guess's."""
  flat = run.config['config']
  classes = len(flat.get('data.classes') or ()) or data_lib.DATASETS.get(
      flat['data.name']).num_classes
  end = _LOSS_END.value(run)
  return None if end is None else end / math.log(classes)


def _climbed(run: report.Run) -> float:
  """1 if the run stopped converging: its loss or weights went non-finite,
  or its last epoch's training loss is over CLIMB x the lowest it had
  reached; else 0 (the column's mean is the share of such seeds)."""
  curve = report.trained_curve(run, 'train_loss')
  if run.status.get('status') == 'diverged' or not curve.size:
    return 1.0
  return float(curve[-1] > CLIMB * curve.min())


_LOSS_END = report.last('train_loss', 'train loss @end')
_LOWEST = report.epoch_of_best('train_loss', 'lowest @ep')
_UPS = report.rises('train_loss', 'ups')
_REVERSALS = report.reversals('train_loss', 'reversals')
_WORSE = report.Column('loss/uniform', _over_uniform, '.2f')
_CLIMBED = report.Column('climbed', _climbed, '.2f')
_VAL_LAST = report.LAST_VAL  # the last epoch's, beside the restored test acc
_GAIN = report.Column('gain @end', _gain_at_end, '.3g', spread=False)
COLUMNS = (
    report.Column('lr/(1-m)', _asymptotic_step, '.3g', spread=False),
    _GAIN,
    report.at_epoch('train_loss', 1, 'train loss @ep1'),
    _LOSS_END, _LOWEST, _UPS, _REVERSALS, _WORSE, _CLIMBED,
    _VAL_LAST, report.final('test_accuracy', 'test acc'),
    report.final('diverged_epoch', 'NaN @ep', '.1f'),
    report.default_column('wall s'),
)


# -- the claims ----------------------------------------------------------------
def _heavy(ev: claims.Evidence, m: float) -> str:
  """The heavy-ball (not Nesterov) trial with momentum `m` at the
  configured learning rate."""
  return ev.exact_trial(momentum=m, nesterov=False)


def _matched(ev: claims.Evidence, m: float) -> str:
  """The heavy-ball trial with momentum `m` of the matched-step pass (its
  learning rate gives lr/(1-m) of momentum 0.9); 0.9's own is _heavy."""
  if claims.same(m, USUAL):
    return _heavy(ev, m)
  for name in ev.trials:
    given = ev.axes(name)
    if ('learning_rate' in given and not given.get('nesterov', False)
        and claims.same(given.get('momentum'), m)):
      return name
  raise claims.MissingTrial(f'no matched-step trial for momentum {m:g} '
                            '(--matched_step)')


def _name(m: float) -> str:
  return f'momentum {m:g}'


def _heavy_momenta(ev: claims.Evidence):
  """The heavy-ball momenta of the grid, in table order."""
  out = []
  for name in ev.trials:
    given = ev.axes(name)
    if ('momentum' in given and not given.get('nesterov', False)
        and 'learning_rate' not in given):
      out.append(float(given['momentum']))
  return out


def _share(count: claims.Count) -> float:
  return count.k / count.n if count.n else math.nan


def _trains(m: float) -> claims.Requirement:
  return claims.requires(
      f'{_name(m)} trains above chance (val acc @last, mean over seeds)',
      lambda ev: ev.sample(_heavy(ev, m), _VAL_LAST, _name(m)), '>=',
      CHANCE + 0.1)


def _converges(m: float):
  """Preconditions of "slow convergence" and of bouncing "around" the
  minimum: every seed keeps converging (none collapsed to chance, none
  whose loss climbed away from its lowest or went non-finite)."""
  return (
      claims.requires(
          f'{_name(m)} keeps converging: share of seeds whose training loss '
          f'climbed over {CLIMB:g}x its lowest or went non-finite (climbed)',
          lambda ev: [1.0 if v is None else v
                      for v in ev.column(_heavy(ev, m), _CLIMBED)],
          '<=', 0.0),
      claims.requires(
          f'{_name(m)}: share of seeds collapsed to chance',
          lambda ev: _share(ev.count(_heavy(ev, m), claims.COLLAPSED)),
          '<=', 0.0),
  )


def _last_epoch(ev: claims.Evidence, m: float) -> str:
  """The last epoch's values of one arm, every seed (collapsed ones too)."""
  t = _heavy(ev, m)
  d = lambda col, fmt: claims.describe(
      ev.sample(t, col, keep_collapsed=True).values, fmt)
  return (f'{_name(m)} at the last epoch: train loss {d(_LOSS_END, ".3f")} '
          f'(loss/uniform {d(_WORSE, ".2f")}), lowest at epoch '
          f'{d(_LOWEST, ".1f")}, val acc {d(_VAL_LAST, ".3f")}; '
          f'{ev.count(t, claims.DIVERGED).k} diverged, '
          f'{ev.count(t, claims.COLLAPSED).k} collapsed of {ev.seeds(t)}')


def _slow(ev: claims.Evidence) -> claims.Verdict:
  """With both arms converging at one learning rate (the regime), slower
  convergence is a higher training loss after the same number of steps
  (the last epoch). The matched-step arm is not judged here: there its
  slowness follows from arithmetic (its step after T steps is about lr T,
  a hundredth of 0.9's), so that test could not fail."""
  return claims.greater(
      ev.sample(_heavy(ev, HIGH), _LOSS_END, _name(HIGH)),
      ev.sample(_heavy(ev, USUAL), _LOSS_END, _name(USUAL)),
      margin=SLOW_MARGIN, fmt='.3f',
      what='training loss of the last epoch (the same number of steps)')


def _bouncing(ev: claims.Evidence) -> claims.Verdict:
  """Bouncing back and forth: the epoch-to-epoch changes of the training
  loss flip direction more often than with momentum 0.9, while the run
  stays near its minimum (the regime)."""
  high, usual = _heavy(ev, HIGH), _heavy(ev, USUAL)
  d = lambda t: claims.describe(ev.sample(t, _UPS).values, '.2f')
  return claims.across([(f'{_name(HIGH)} vs {USUAL:g}', claims.greater(
      ev.sample(high, _REVERSALS, _name(HIGH)),
      ev.sample(usual, _REVERSALS, _name(USUAL)), margin=BOUNCE_MARGIN,
      fmt='.2f', what='share of consecutive epoch-to-epoch changes of the '
      'training loss that reverse direction'))], 'any').with_note(
          f'share of epochs whose loss went up (overshooting): {d(high)} vs '
          f'{d(usual)}; at epoch resolution, oscillations within an epoch '
          'average out')


def _diverges(ev: claims.Evidence) -> claims.Verdict:
  """Failing to converge altogether, counted per seed: the loss went
  non-finite (diverged), or the run ended at chance (collapsed), against
  momentum 0.9 (Fisher's exact test on the counts)."""
  high, usual = _heavy(ev, HIGH), _heavy(ev, USUAL)
  cases = [(what, claims.rate_greater(
      ev.count(high, what, name=_name(HIGH)),
      ev.count(usual, what, name=_name(USUAL)), f'seeds that {text}'))
           for what, text in ((claims.DIVERGED, 'diverged (non-finite loss '
                               'or weights)'),
                              (claims.COLLAPSED, 'ended at chance '
                               '(collapsed, val acc @last)'))]
  return claims.across(cases, 'any').with_note(_last_epoch(ev, HIGH))


def _usual_range(ev: claims.Evidence) -> claims.Verdict:
  """Each heavy-ball momentum of the grid inside [0.9, 0.99] is no worse
  than each outside it, by the last epoch's validation accuracy (what the
  choice gives: collapsed seeds are kept, at their chance accuracy), every
  momentum at the matched step: one learning rate for all would confound
  the momentum with the step lr/(1-m) it gives."""
  momenta = _heavy_momenta(ev)
  inside = [m for m in momenta if RANGE[0] <= m <= RANGE[1]]
  outside = [m for m in momenta if not RANGE[0] <= m <= RANGE[1]]
  if not inside or not outside:
    raise claims.MissingTrial('the grid needs heavy-ball momenta inside and '
                              f'outside [{RANGE[0]:g}, {RANGE[1]:g}]')
  arm = lambda m: ev.sample(_matched(ev, m), _VAL_LAST, _name(m),
                            keep_collapsed=True)
  cases = [(f'{a:g} vs {b:g}', claims.not_worse(
      arm(a), arm(b), margin=RANGE_MARGIN,
      what='validation accuracy after the last epoch'))
           for a in inside for b in outside]
  collapsed = ', '.join(
      f'{m:g}: {ev.count(_matched(ev, m), claims.COLLAPSED).k}/'
      f'{ev.seeds(_matched(ev, m))}' for m in momenta)
  return claims.across(cases, 'all').with_note(
      f'collapsed seeds (kept, at chance) by momentum: {collapsed}')


def _some_trains(ev: claims.Evidence) -> float:
  means = [ev.sample(_heavy(ev, m), _VAL_LAST).values.mean()
           for m in _heavy_momenta(ev)
           if ev.sample(_heavy(ev, m), _VAL_LAST).values.size]
  return max(means) if means else math.nan


SETTING = ('2 x 100 ReLU MLP, SGD at learning rate 0.01, heavy ball, '
           'Fashion-MNIST (10,000 training images)')
CLAIMS = (
    claims.Claim(
        '003 Q5', 'If the momentum hyperparameter is set too close to 1 '
        '(e.g., 0.99999) ... resulting in a very slow convergence to the '
        'minimum of the loss function',
        tested_as='last-epoch training loss (after the same number of '
        f'steps), momentum {HIGH:g} against {USUAL:g} at one learning rate, '
        f'Welch test with a {SLOW_MARGIN:g}-nat margin, judged only where '
        f'every {HIGH:g} seed keeps converging (slow convergence presupposes '
        'convergence); at the learning rate matched to 0.9\'s asymptotic '
        'step (1e-6) the slowness follows from arithmetic (its step after '
        'T steps is about lr T), so that arm is shown in the table, not '
        f'judged ({SETTING})',
        rule=_slow, regime=_converges(HIGH) + (_trains(USUAL),)),
    claims.Claim(
        '003 Q5', 'This can lead to overshooting the minimum and bouncing '
        'back and forth around it',
        tested_as='share of consecutive epoch-to-epoch changes of the '
        f'training loss that reverse direction, momentum {HIGH:g} against '
        f'{USUAL:g}, where every {HIGH:g} seed stays near its minimum; '
        'epoch resolution; an existence claim ("can"), so one setting can '
        f'support it but not refute it ({SETTING})',
        rule=_bouncing, existence=True,
        regime=_converges(HIGH) + (_trains(USUAL),)),
    claims.Claim(
        '003 Q5', 'In extreme cases, it can also lead to the optimizer '
        'failing to converge altogether, resulting in a divergence of the '
        'optimization process',
        tested_as=f'counts of seeds that diverged (non-finite) or ended at '
        f'chance (collapsed) at momentum {HIGH:g} against {USUAL:g}, Fisher '
        'exact test, Holm over the two; an existence claim ("can") '
        f'({SETTING})',
        rule=_diverges, existence=True, regime=(_trains(USUAL),)),
    claims.Claim(
        '003 Q5', 'it is important to choose an appropriate momentum value '
        '(typically in the range of 0.9 to 0.99)',
        tested_as='last-epoch validation accuracy (collapsed seeds kept) of '
        'each heavy-ball momentum in [0.9, 0.99] against each outside it, '
        'every momentum at the learning rate that gives the asymptotic step '
        'lr/(1-m) of 0.9 at 0.01 (so the momentum is not confounded with '
        f'its step size), non-inferiority with a {RANGE_MARGIN:g} margin, '
        f'Holm over the pairs ({SETTING}; not a rate tuned per momentum)',
        rule=_usual_range,
        regime=(claims.requires(
            'some heavy-ball momentum trains above chance (best val acc '
            '@last, mean over seeds)', _some_trains, '>=', CHANCE + 0.1),)),
)


def _bools(values, name: str):
  """'true'/'false' items of a list flag (or bools, from Python)."""
  out = []
  for v in values or []:
    if isinstance(v, bool):
      out.append(v)
      continue
    if v.lower() not in ('true', 'false'):
      raise ConfigError(f'--{name}: {v!r} is not true or false')
    out.append(v.lower() == 'true')
  if not out:
    raise ConfigError(f'--{name} needs at least one value')
  return out


def _passes(config, momenta, nesterov, matched: bool):
  """The grid: every momentum x Nesterov at the configured rate; then,
  with `matched`, each heavy-ball momentum but 0.9 at the rate that gives
  it 0.9's asymptotic step lr/(1-m)."""
  grids = [{'optimizer.momentum': momenta, 'optimizer.nesterov': nesterov}]
  step = config.optimizer.learning_rate / (1.0 - USUAL)
  for m in momenta if matched and False in nesterov else ():
    if not math.isclose(m, USUAL):
      grids.append({'optimizer.momentum': [m], 'optimizer.nesterov': [False],
                    'optimizer.learning_rate': [float(f'{step * (1 - m):.6g}')]})
  return grids


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, momenta: Optional[Sequence] = None,
        nesterov: Optional[Sequence] = None,
        matched_step: Optional[bool] = None,
        session=None) -> ablation.Result:
  """Trains every momentum (x Nesterov off/on) and decides the claims. From
  Python: `run(size='smoke')`, or `run(config, 'runs/mine', momenta=[0.9,
  0.99999], nesterov=[False])`; the command line's flags give the same
  arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  momenta = SCRIPT.axis('momenta', session.size) if momenta is None else momenta
  nesterov = (SCRIPT.axis('nesterov', session.size) if nesterov is None
              else nesterov)
  if config.optimizer.name not in ('sgd', 'momentum'):
    # Other optimizers ignore optimizer.momentum and 'nesterov' ignores the
    # --nesterov axis: the grid would not be what it says.
    raise ConfigError(f'optimizer.name={config.optimizer.name!r} not allowed '
                      "here; need 'sgd' or 'momentum' (Nesterov is the "
                      '--nesterov axis)')
  if matched_step is None:
    matched_step = SCRIPT.axis('matched_step', session.size)
  # The pass sets the learning rate; a rate the user gave is kept instead
  # (the claims that need the pass then say 'not in this grid').
  matched_step = matched_step and 'optimizer.learning_rate' not in session.given
  grids = _passes(config, cli.list_flag(momenta, float, 'momenta'),
                  _bools(nesterov, 'nesterov'), matched_step)
  return ablation.run_ablation(
      session, grids, config, COLUMNS, title='Momentum too close to 1',
      axis_flags={'optimizer.momentum': 'momenta',
                  'optimizer.nesterov': 'nesterov',
                  'optimizer.learning_rate': 'matched_step'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), momenta=_MOMENTA.value, nesterov=_NESTEROV.value,
      matched_step=_MATCHED.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
