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
several seeds each. Momentum is traced, so every coefficient and seed is one
vmapped program (Nesterov, a static field, is a second). Columns:

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
- val acc @end: validation accuracy after the last epoch; test acc: of the
  restored best epoch (lowest validation loss), as everywhere in dlexp;
- NaN @ep: the epoch in which the loss or the weights stopped being finite
  (status.json final diverged_epoch); n/a where no seed diverged.

  python experiments/momentum.py                      # defaults below
  python experiments/momentum.py --momenta=0.9,0.99999 --nesterov=false \
      --config.optimizer.learning_rate=0.001         # the notes' 002 rate
  python experiments/momentum.py --smoke              # seconds (CI)
  python experiments/momentum.py --full               # GPU: all data, 30 ep

The claims are decided on the heavy-ball trials (Nesterov rows are shown for
comparison): momentum 0.99999 against 0.9.
"""
import math

from absl import flags

from dlexp import claims, cli, report
from dlexp import data as data_lib
from dlexp.errors import ConfigError

_MOMENTA = flags.DEFINE_list(
    'momenta', ['0', '0.5', '0.9', '0.99', '0.999', '0.99999'],
    'Momentum coefficients (config.optimizer.momentum).')
_NESTEROV = flags.DEFINE_list(
    'nesterov', ['false', 'true'],
    'Nesterov momentum off and/or on (config.optimizer.nesterov).')

cli.define_flags(
    'momentum', model='mlp', epochs=15, seeds=3,
    config={'model.depth': 2, 'model.width': 100,
            'optimizer.name': 'sgd', 'optimizer.learning_rate': 0.01,
            'data.train_limit': 10000},
    smoke={'epochs': 3, 'seeds': 2, 'momenta': ['0.9', '0.99999'],
           'nesterov': ['false'], 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'config.data.train_limit': 0})

HIGH, USUAL = 0.99999, 0.9  # the notes' value and the usual one


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


_LOSS_END = report.last('train_loss', 'train loss @end')
_LOWEST = report.epoch_of_best('train_loss', 'lowest @ep')
_UPS = report.rises('train_loss', 'ups')
_REVERSALS = report.reversals('train_loss', 'reversals')
_WORSE = report.Column('loss/uniform', _over_uniform, '.2f')
_VAL_END = report.last('val_accuracy', 'val acc @end')
COLUMNS = (
    report.Column('lr/(1-m)', _asymptotic_step, '.3g', spread=False),
    report.Column('gain @end', _gain_at_end, '.3g', spread=False),
    report.at_epoch('train_loss', 1, 'train loss @ep1'),
    _LOSS_END, _LOWEST, _UPS, _REVERSALS, _WORSE,
    _VAL_END, report.final('test_accuracy', 'test acc'),
    report.final('diverged_epoch', 'NaN @ep', '.1f'),
    report.DEFAULT_COLUMNS[3],
)


def _trial(ev: claims.Evidence, m: float) -> str:
  trial = ev.trial(momentum=m, nesterov=False)
  if trial is None:
    raise KeyError(f'momentum {m:g} without Nesterov is not in the grid')
  return trial


def _nan_seeds(ev: claims.Evidence, trial: str) -> int:
  return sum(r.status.get('status') == 'diverged' for r in ev.groups[trial])


def _failed(ev: claims.Evidence, trial: str) -> int:
  """Seeds that stopped converging: the loss went non-finite, or the last
  epoch's training loss is over 1.5 x the lowest it had reached."""
  bad = _nan_seeds(ev, trial)
  for r in ev.groups[trial]:
    curve = report.trained_curve(r, 'train_loss')
    if (r.status.get('status') != 'diverged' and curve.size
        and curve[-1] > 1.5 * curve.min()):
      bad += 1
  return bad


def _profile(ev: claims.Evidence, trial: str) -> str:
  d = lambda col, fmt='.3f': claims.describe(ev.values(trial, col), fmt)
  return (f'train loss lowest at epoch {d(_LOWEST, ".1f")}, {d(_LOSS_END)} '
          f'at the end (loss/uniform {d(_WORSE, ".2f")}); val acc at the end '
          f'{d(_VAL_END, ".3f")}')


def _slow(ev: claims.Evidence) -> claims.Verdict:
  """Slow convergence means the loss keeps falling, only more slowly: if it
  stops falling and climbs instead, the run is not converging slowly."""
  high, usual = _trial(ev, HIGH), _trial(ev, USUAL)
  n, failed = ev.seeds(high), _failed(ev, high)
  if n and failed * 2 > n:
    return claims.Verdict(claims.CONTRADICTED, (
        f'momentum {HIGH:g} does not converge slowly: in {failed}/{n} seeds '
        f'the loss stops falling and climbs ({_profile(ev, high)}); momentum '
        f'{USUAL:g}: {_profile(ev, usual)}'))
  return claims.compare(ev.values(high, _LOSS_END), ev.values(usual, _LOSS_END),
                        'final training loss', f'momentum {HIGH:g}',
                        f'momentum {USUAL:g}', fmt='.3f')


def _bouncing(ev: claims.Evidence) -> claims.Verdict:
  """Overshooting shows as epochs whose loss goes up; bouncing back and forth
  around the minimum as ups and downs alternating (reversals) while the
  loss stays near its lowest, compared with momentum 0.9."""
  high, usual = _trial(ev, HIGH), _trial(ev, USUAL)
  ups = claims.difference(ev.values(high, _UPS), ev.values(usual, _UPS))
  rev = claims.difference(ev.values(high, _REVERSALS),
                          ev.values(usual, _REVERSALS))
  d = lambda t, c: claims.describe(ev.values(t, c), '.2f')
  text = (f'at epoch resolution, momentum {HIGH:g} vs {USUAL:g}: loss went up '
          f'in {d(high, _UPS)} vs {d(usual, _UPS)} of epochs; direction '
          f'reversed in {d(high, _REVERSALS)} vs {d(usual, _REVERSALS)}')
  if not (ups.decided and rev.decided):
    return claims.Verdict(claims.INCONCLUSIVE,
                          text + ' (too few seeds or epochs to decide)')
  n, failed = ev.seeds(high), _failed(ev, high)
  if ups.sign > 0 and n and failed * 2 > n:
    return claims.Verdict(claims.CONTRADICTED, (
        f'{text}; but in {failed}/{n} seeds the loss leaves the minimum for '
        f'good ({_profile(ev, high)}): it overshoots and climbs away, its ups '
        'and downs are noise far above the minimum, not bouncing around it'))
  if ups.sign > 0 and rev.sign > 0:
    return claims.Verdict(claims.SUPPORTED, text)
  if ups.sign == 0 and rev.sign == 0:
    return claims.Verdict(claims.INCONCLUSIVE, text + ' (within the spread)')
  return claims.Verdict(claims.CONTRADICTED, text)


def _diverges(ev: claims.Evidence) -> claims.Verdict:
  """Failing to converge altogether: the loss becomes non-finite, or ends
  above the uniform guess's (the model ends worse than knowing nothing)."""
  high = _trial(ev, HIGH)
  worse = ev.values(high, _WORSE)
  n, nan = ev.seeds(high), _nan_seeds(ev, high)
  bad = nan + int((worse > 1.0).sum())
  text = (f'momentum {HIGH:g}: non-finite loss in {nan}/{n} seeds, final '
          f'loss above the uniform guess\'s in {bad - nan}/{n}; '
          f'{_profile(ev, high)}')
  if n and bad * 2 > n:
    return claims.Verdict(claims.SUPPORTED, text)
  if bad == 0 and _failed(ev, high) == 0:
    return claims.Verdict(claims.CONTRADICTED, text)
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _usual_range(ev: claims.Evidence) -> claims.Verdict:
  """The best heavy-ball momentum by test accuracy, against the best one in
  [0.9, 0.99]."""
  acc = {m: ev.values(_trial(ev, m), 'test_accuracy')
         for m in _momenta(ev)}
  acc = {m: v for m, v in acc.items() if v.size}
  best = max(acc, key=lambda m: acc[m].mean())
  inside = [m for m in acc if 0.9 <= m <= 0.99]
  if not inside:
    raise KeyError('no momentum in [0.9, 0.99] in the grid')
  best_in = max(inside, key=lambda m: acc[m].mean())
  lr = ev.groups[_trial(ev, best)][0].config['config'][
      'optimizer.learning_rate']
  if best == best_in:
    return claims.Verdict(claims.SUPPORTED, (
        f'at learning rate {lr:g} the best test accuracy is momentum '
        f'{best:g}: {claims.describe(acc[best])}; ' + ', '.join(
            f'{m:g}: {acc[m].mean():.4f}' for m in acc if m != best)))
  verdict = claims.compare(acc[best], acc[best_in], 'test accuracy',
                           f'momentum {best:g}', f'momentum {best_in:g}')
  if verdict.verdict == claims.SUPPORTED:  # significantly better outside
    return claims.Verdict(claims.CONTRADICTED,
                          f'at learning rate {lr:g}, {verdict.evidence}')
  return claims.Verdict(claims.SUPPORTED, f'at learning rate {lr:g}, '
                        f'{verdict.evidence}: the range holds a value as good '
                        'as the best')


def _momenta(ev: claims.Evidence):
  out = []
  for name in ev.trials:
    o = ev.groups[name][0].config.get('overrides') or {}
    if not o.get('optimizer.nesterov'):
      out.append(float(o['optimizer.momentum']))
  return out


CLAIMS = (
    claims.Claim('003 Q5', 'momentum too close to 1 (e.g., 0.99999) ... '
                 'resulting in a very slow convergence', _slow),
    claims.Claim('003 Q5', 'This can lead to overshooting the minimum and '
                 'bouncing back and forth around it', _bouncing),
    claims.Claim('003 Q5', 'In extreme cases ... the optimizer failing to '
                 'converge altogether, resulting in a divergence',
                 _diverges),
    claims.Claim('003 Q5', 'choose an appropriate momentum value (typically '
                 'in the range of 0.9 to 0.99)', _usual_range),
)


def _bools(values, name: str):
  out = []
  for v in values or []:
    if v.lower() not in ('true', 'false'):
      raise ConfigError(f'--{name}: {v!r} is not true or false')
    out.append(v.lower() == 'true')
  if not out:
    raise ConfigError(f'--{name} needs at least one value')
  return out


def main(_):
  config = cli.resolved_config()
  if config.optimizer.name not in ('sgd', 'momentum'):
    # Other optimizers ignore optimizer.momentum and 'nesterov' ignores the
    # --nesterov axis: the grid would not be what it says.
    raise ConfigError(f'optimizer.name={config.optimizer.name!r} not allowed '
                      "here; need 'sgd' or 'momentum' (Nesterov is the "
                      '--nesterov axis)')
  cli.run_ablation(
      {'optimizer.momentum': cli.list_flag(_MOMENTA.value, float, 'momenta'),
       'optimizer.nesterov': _bools(_NESTEROV.value, 'nesterov')},
      COLUMNS, config=config, title='Momentum too close to 1',
      axis_flags={'optimizer.momentum': 'momenta',
                  'optimizer.nesterov': 'nesterov'},
      claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
