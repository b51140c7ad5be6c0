r"""Does early stopping save time and overfitting, and how much does its
setting (patience, min_delta, restoring the best weights) matter?

The notes (seed 000, question 4) say early stopping "reduces overfitting",
"saves time", "prevents model degradation", and that its drawback is the
"difficulty in choosing stopping criteria"; seed 004's Keras Group 6
(label 004 K6, not the theory groups' G6) describes Keras' EarlyStopping as
"monitoring the validation loss ... and stopping training when the
validation loss starts increasing", implemented with the `EarlyStopping`
callback, a `monitor` and a `patience`, and says nothing of restoring the
best weights, which Keras does not do by default
(restore_best_weights=False): the model kept is the one of the stopping
epoch, `patience` epochs past the best.

This trains a model that overfits (a wide MLP, one hidden layer of 512
ReLU units, Adam, on 3,000 Fashion-MNIST training images for up to 40
epochs, 5 seeds), watching the validation loss at each patience x
min_delta, and the validation accuracy at each patience (--monitors);
patience 0 trains to the end (the reference). Every run keeps both models:
the best epoch's parameters (restore_best, the runner's default) and the
last epoch's (Keras' default), measured on the same test set, so restore
on/off is a paired comparison within each seed. Columns:

- epochs run, saved: epochs trained, and epochs left of the 40 (the
  time early stopping saves; the whole run stops with its last member);
- stop epoch: the epoch at which patience ran out (n/a: never stopped);
- best epoch: the epoch of the best monitored value seen (improvements
  smaller than min_delta do not count);
- stop - best: epochs from the best to the stop (n/a: never stopped);
- val loss rise: the last epoch's validation loss minus the lowest one
  seen (for patience 0: how much the net overfits within the budget);
- test acc / test loss (restore): the best epoch's parameters;
- test acc / test loss (no restore): the last epoch's parameters, what
  Keras' EarlyStopping keeps by default;
- restore gain: test accuracy restored minus not restored (per seed);
- train-test gap (restore / no restore): the kept epoch's logged training
  accuracy (the running mean over its batches) minus its test accuracy.

  python experiments/early_stopping.py                    # defaults below
  python experiments/early_stopping.py --patiences=0,3,8 --min_deltas=0
  python experiments/early_stopping.py --config.early_stopping.monitor=val_accuracy

From Python: `run(size='smoke')`, or `run(config, workdir, patiences=[0, 3])`.

The patience 0 row ignores --min_deltas (it never stops; min_delta would
only change which epoch counts as best), so it is run once.

The 000 Q4 claims are judged only where the reference overfits (its
validation loss ends >= 0.05 above its lowest): early stopping has nothing
to do on a net that does not. Each contrast is fixed in advance (never the
best or worst trial picked from the table); "early stopping" is the grid's
middle patience, watching val_loss at min_delta 0, and "all epochs" is
patience 0 with the last epoch's parameters (the no-restore columns):

- 000 Q4 "Reduces overfitting": early stopping (best epoch restored)
  against all epochs: a smaller train - test accuracy gap (0.01 margin)
  AND a test accuracy no worse (non-inferiority, 0.005): a conjunction,
  since a gap shrunk by losing accuracy is underfitting;
- 000 Q4 "saves time": epochs trained, against all 40 (1-epoch margin):
  a saving relative to the budget, which a referee should read as such;
- 000 Q4 "Prevents model degradation: prevent model from becoming worse
  if continued training": the same seeds trained on past the early stop
  to the last epoch are worse: test loss higher AND test accuracy lower
  (Welch, Holm over the two); one significantly each way is "depends";
- 000 Q4 "Difficulty in choosing stopping criteria", an existence claim
  that the choice matters: some pair of the grid's criteria (monitor x
  patience x min_delta, patience > 0) differs in test accuracy (0.005
  margin), each pair tested both ways, Holm over all of them;
- 004 K6 the Keras recipe's testable content (proxy: dlexp's early
  stopping): training stops `patience` epochs after the best monitored
  value, in every stopping trial and every seed that stopped (an exact
  count). Whether early stopping helps is the other 004 K6 quote's claim,
  in keras_workflow.
"""
from typing import Optional, Sequence

from dlexp import ablation, analysis, claims, cli, report

SCRIPT = cli.define_flags(
    'early_stopping', model='mlp', epochs=40, seeds=5,
    config={'model.hidden': (512,), 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'diagnostics.every_epochs': 0,
            'data.train_limit': 3000, 'data.val_size': 2000},
    smoke={'epochs': 8, 'seeds': 2, 'patiences': ['0', '2'],
           'min_deltas': ['0'], 'monitors': ['val_loss'],
           'config.model.hidden': (128,), 'config.data.train_limit': 256,
           'config.data.val_size': 500, 'config.data.test_limit': 1000},
    full={'epochs': 100, 'seeds': 5})
_PATIENCES = SCRIPT.list_flag(
    'patiences', ['0', '2', '5', '10'],
    'Early-stopping patiences (config.early_stopping.patience); 0 = train '
    'to the end.')
_MONITORS = SCRIPT.list_flag(
    'monitors', ['val_loss', 'val_accuracy'],
    'Monitored metrics (config.early_stopping.monitor): the first with every '
    'patience x min_delta, the others with every patience at min_delta 0.')
_MIN_DELTAS = SCRIPT.list_flag(
    'min_deltas', ['0', '0.01'],
    'Smallest improvement that counts (config.early_stopping.min_delta).')


def _epochs_saved(run):
  run_for = run.final('epochs_run')
  total = (run.config.get('config') or {}).get('epochs')
  return None if run_for is None or total is None else total - run_for


def _restore_gain(run):
  a, b = run.final('test_accuracy'), run.final('last_test_accuracy')
  return None if a is None or b is None else a - b


def _val_loss_rise(run):
  """The last epoch's validation loss minus the lowest one seen: how far
  the validation loss climbed again (overfitting) by the epoch the run
  ended at."""
  curve = report.trained_curve(run, 'val_loss')
  return None if not curve.size else float(curve[-1] - curve.min())


def _stop_gap(run):
  """Epochs from the best monitored value to the stop (None: never
  stopped): `patience` by the stopping rule."""
  stop, best = run.final('stopped_epoch'), run.final('best_epoch')
  return None if stop is None or best is None else stop - best


def _train_acc_kept(run, restored: bool):
  """The logged training accuracy (the epoch's running mean over its
  batches) of the epoch whose parameters are kept: the restored best
  epoch's, or the last epoch's."""
  if restored and report.restored_early(run):
    best = run.final('best_epoch')
    return None if best is None else run.at_epoch('train_accuracy',
                                                  int(best))
  return report.last_value(run, 'train_accuracy')


def _gap(restored: bool):
  test_key = 'test_accuracy' if restored else 'last_test_accuracy'

  def value(run):
    train, test = _train_acc_kept(run, restored), run.final(test_key)
    return None if train is None or test is None else train - test
  return value


_GAIN = report.Column('restore gain', _restore_gain, '+.4f')
_RISE = report.Column('val loss rise', _val_loss_rise, '.3f')
_RUN = report.final('epochs_run', 'epochs run', '.1f')
_STOP = report.final('stopped_epoch', 'stop epoch', '.1f')
_STOP_GAP = report.Column('stop - best', _stop_gap, '.1f', exact=True)
_ACC = report.final('test_accuracy', 'test acc (restore)')
# The last epoch's parameters: not restorable (a verdict names no restored
# epoch as their basis).
_ACC_LAST = report.Column('test acc (no restore)',
                          lambda r: r.final('last_test_accuracy'), '.4f')
_LOSS = report.final('test_loss', 'test loss (restore)')
_LOSS_LAST = report.Column('test loss (no restore)',
                           lambda r: r.final('last_test_loss'), '.4f')
_GAP = report.Column('train-test gap (restore)', _gap(True), '.4f',
                     restorable=True)
_GAP_LAST = report.Column('train-test gap (no restore)', _gap(False),
                          '.4f')
COLUMNS = (
    _RUN,
    report.Column('saved', _epochs_saved, '.1f'),
    _STOP,
    report.default_column('best epoch'),  # best epoch
    _STOP_GAP,
    _RISE,
    _ACC, _ACC_LAST, _GAIN, _LOSS, _LOSS_LAST, _GAP, _GAP_LAST,
    report.default_column('wall s'),
)

# Margins: the smallest effect that matters, fixed before any number is seen.
LOSS_MARGIN = 0.02  # nats of test loss
ACC_MARGIN = 0.005  # test accuracy: half a point
EPOCH_MARGIN = 1.0  # epochs trained: one epoch saved is the least that counts
GAP_MARGIN = 0.01  # train - test accuracy: a point of overfitting removed
STOP_MARGIN = 0.5  # epochs between best and stop: whole epochs, so within
# half an epoch of `patience` is equal to it
OVERFITS = 0.05  # the baseline overfits: its validation loss ends >= 0.05
# nats above its lowest


# -- the claims ----------------------------------------------------------------
def _axes(ev: claims.Evidence, trial: str):
  return {k.split('.')[-1]: v
          for k, v in ev.table[trial].get('overrides', {}).items()}


def _patiences(ev: claims.Evidence):
  """The patiences > 0 of the grid's val_loss trials at min_delta 0."""
  out = set()
  for t in ev.trials:
    a = _axes(ev, t)
    if (a.get('patience', 0) > 0 and a.get('monitor', 'val_loss') ==
        'val_loss' and not a.get('min_delta', 0.0)):
      out.add(a['patience'])
  if not out:
    raise claims.MissingTrial('no patience > 0 (val_loss, min_delta 0) in '
                              '--patiences')
  return sorted(out)


def _stopping(ev: claims.Evidence, patience) -> str:
  """The val_loss trial at `patience` and min_delta 0."""
  return ev.exact_trial(patience=patience, min_delta=0.0)


def _end(ev: claims.Evidence) -> str:
  """Patience 0: training to the end (the reference)."""
  return ev.exact_trial(patience=0)


def _middle(ev: claims.Evidence):
  """The middle patience of the grid (val_loss, min_delta 0), its trial."""
  ps = _patiences(ev)
  p = ps[len(ps) // 2]
  return p, _stopping(ev, p)


_OVERFITS = claims.requires(
    'the reference (patience 0, all epochs) overfits: its validation loss '
    'ends above its lowest by (val loss rise)',
    lambda ev: ev.sample(_end(ev), _RISE, 'patience 0'), '>=', OVERFITS)


def _better(ev, a_trial, a_cols, a_name, b_trial, b_cols, b_name):
  """Cases: A's test loss below B's, A's test accuracy above B's."""
  return [
      ('test loss', claims.less(
          ev.sample(a_trial, a_cols[0], a_name),
          ev.sample(b_trial, b_cols[0], b_name), LOSS_MARGIN, 'test loss')),
      ('test accuracy', claims.greater(
          ev.sample(a_trial, a_cols[1], a_name),
          ev.sample(b_trial, b_cols[1], b_name), ACC_MARGIN,
          'test accuracy')),
  ]


def _less_overfitting(ev: claims.Evidence) -> claims.Verdict:
  """Early stopping (best epoch restored) against training all epochs and
  keeping the last: a smaller train - test accuracy gap AND a test accuracy
  no worse (a smaller gap bought with lower accuracy is underfitting, not
  less overfitting); a conjunction, Holm over the two."""
  p, trial = _middle(ev)
  name, end = f'patience {p:g} (best restored)', 'all epochs (last kept)'
  return claims.across([
      ('train-test gap', claims.less(
          ev.sample(trial, _GAP, name), ev.sample(_end(ev), _GAP_LAST, end),
          GAP_MARGIN, 'train - test accuracy gap')),
      ('test accuracy', claims.not_worse(
          ev.sample(trial, _ACC, name), ev.sample(_end(ev), _ACC_LAST, end),
          ACC_MARGIN, 'test accuracy')),
  ], 'and')


def _degradation(ev: claims.Evidence) -> claims.Verdict:
  """Continued training past the early stop makes the model worse: the
  early-stopped model (middle patience, best epoch restored) against the
  same seeds trained on to the last epoch: lower test loss and higher test
  accuracy, both (Holm); one significantly better and the other
  significantly worse is DEPENDS (on the metric)."""
  p, trial = _middle(ev)
  return claims.across(_better(
      ev, trial, (_LOSS, _ACC), f'patience {p:g} (best restored)',
      _end(ev), (_LOSS_LAST, _ACC_LAST), 'trained on to the last epoch'),
                       'all')


def _saves_time(ev: claims.Evidence) -> claims.Verdict:
  p, trial = _middle(ev)
  return claims.less(ev.sample(trial, _RUN, f'patience {p:g}'),
                     ev.sample(_end(ev), _RUN, 'patience 0'),
                     EPOCH_MARGIN, 'epochs trained', fmt='.1f')


def _criteria(ev: claims.Evidence):
  """Every stopping criterion of the grid (every trial with patience > 0:
  each monitor x patience x min_delta), in table order, with its name."""
  out = [(t, t) for t in ev.trials if _axes(ev, t).get('patience', 0) > 0]
  if len(out) < 2:
    raise claims.MissingTrial('two stopping criteria (patience > 0) are '
                              'needed')
  return out


def _hard_to_choose(ev: claims.Evidence) -> claims.Verdict:
  """The choice of stopping criterion matters: some pair of the grid's
  criteria differs in test accuracy (best epoch restored), in either
  direction (each pair tested both ways, Holm over all of them together:
  a two-sided test over every pair). An existence claim."""
  crit = _criteria(ev)
  cases = []
  for i, (a, a_name) in enumerate(crit):
    for b, b_name in crit[i + 1:]:
      sa, sb = ev.sample(a, _ACC, a_name), ev.sample(b, _ACC, b_name)
      for x, y in ((sa, sb), (sb, sa)):
        cases.append((f'{x.name} > {y.name}', claims.greater(
            x, y, ACC_MARGIN, 'test accuracy (best restored)')))
  return claims.across(cases, 'any')


def _stopped(ev: claims.Evidence):
  """The stopping trials in which >= 2 seeds stopped (fewer cannot be
  tested), and the others."""
  ok, few = [], []
  for t, _ in _criteria(ev):
    k = ev.count(t, key=_STOP_GAP, where=lambda v: v is not None).k
    (ok if k >= 2 else few).append(t)
  return ok, few


def _stops_after_patience(ev: claims.Evidence) -> claims.Verdict:
  """In every stopping trial of the grid where >= 2 seeds stopped, the
  stop comes `patience` epochs after the best monitored value, in every
  seed that stopped (a deterministic count: exact)."""
  ok, few = _stopped(ev)
  cases = []
  for t in ok:
    p = _axes(ev, t)['patience']
    cases.append((t, claims.within(
        ev.sample(t, _STOP_GAP, t), float(p), STOP_MARGIN,
        'epochs from the best monitored value to the stop', fmt='.1f')))
  verdict = claims.across(cases, 'all')
  return verdict.with_note('left out (fewer than 2 seeds stopped): '
                           + ', '.join(few)) if few else verdict


_STOPS = claims.requires(
    'early stopping triggers: stopping trials in which >= 2 seeds stopped',
    lambda ev: len(_stopped(ev)[0]), '>=', 1)


SETTING = ('1 x 512 ReLU MLP, Adam 1e-3, 3,000 Fashion-MNIST training '
           'images, up to 40 epochs')
CLAIMS = (
    claims.Claim(
        '000 Q4', 'Reduces overfitting',
        tested_as='early stopping at the grid\'s middle patience (val_loss, '
        'min_delta 0, best epoch restored) against training all epochs and '
        'keeping the last: a smaller train - test accuracy gap (train: the '
        'logged running accuracy of the kept epoch; margin '
        f'{GAP_MARGIN:g}) AND a test accuracy no worse (non-inferiority, '
        f'margin {ACC_MARGIN:g}): both must hold (Holm); on a net whose '
        f'validation loss rises by >= {OVERFITS:g} ({SETTING})',
        rule=_less_overfitting, regime=(_OVERFITS,)),
    claims.Claim(
        '000 Q4', 'computational efficiency: saves time!',
        tested_as='epochs trained at the middle patience against all '
        f'epochs (margin {EPOCH_MARGIN:g} epoch; every epoch costs the same '
        'steps), on a net that overfits within the budget: the saving is '
        f'relative to that budget ({SETTING})',
        rule=_saves_time, regime=(_OVERFITS,)),
    claims.Claim(
        '000 Q4', 'Prevents model degradation: prevent model from becoming '
        'worse if continued training',
        tested_as='the early-stopped model (middle patience, val_loss, '
        'best epoch restored) against the same seeds trained on to the '
        'last of the 40 epochs: continued training makes it worse, i.e. '
        f'higher test loss (margin {LOSS_MARGIN:g}) and lower test accuracy '
        f'(margin {ACC_MARGIN:g}), both (Holm; one each way is "depends"); '
        f'on a net whose validation loss rises by >= {OVERFITS:g} '
        f'({SETTING})',
        rule=_degradation, regime=(_OVERFITS,)),
    claims.Claim(
        '000 Q4', 'Difficulty in choosing stopping criteria',
        tested_as='an existence claim that the choice matters: some pair '
        'of the grid\'s stopping criteria (every monitor x patience x '
        'min_delta with patience > 0) differs in test accuracy (best '
        f'epoch restored) by more than {ACC_MARGIN:g}, in either direction: '
        'both one-sided Welch tests of every pair, Holm over all of them; '
        'never contradicted, only unshown '
        f'({SETTING})',
        rule=_hard_to_choose, existence=True, regime=(_OVERFITS,)),
    claims.Claim(
        '004 K6', 'implement early stopping using the `EarlyStopping` '
        "callback. Specify the `monitor` (e.g., 'val_loss') and conditions "
        'for stopping (e.g., `patience` for the number of epochs with no '
        'improvement)',
        tested_as="implementation check (a recipe: only a bug could fail "
        "it); proxy: dlexp's early stopping in place of Keras' "
        'callback; the recipe\'s testable content: training stops '
        '`patience` epochs after the best monitored value, in every '
        'stopping trial of the grid (each monitor, patience, min_delta) '
        'and every seed that stopped (stop epoch - best epoch, a '
        f'deterministic count, within {STOP_MARGIN:g} of the patience); '
        'efficacy is left to the other 004 K6 claim (keras_workflow) '
        f'({SETTING})',
        rule=_stops_after_patience, regime=(_STOPS,)),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, patiences: Optional[Sequence] = None,
        monitors: Optional[Sequence[str]] = None,
        min_deltas: Optional[Sequence] = None,
        session=None) -> ablation.Result:
  """Trains every patience (x min_delta, x monitor) and decides the claims.
  From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  patiences=[0, 3], monitors=['val_loss'])`; the command line's flags give
  the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  patiences = (SCRIPT.axis('patiences', session.size) if patiences is None
               else patiences)
  monitors = (SCRIPT.axis('monitors', session.size) if monitors is None
              else monitors)
  min_deltas = (SCRIPT.axis('min_deltas', session.size) if min_deltas is None
                else min_deltas)
  patiences = cli.list_flag(patiences, int, 'patiences')
  deltas = cli.list_flag(min_deltas, float, 'min_deltas')
  grids = []
  if 0 in patiences:
    grids.append({'early_stopping.patience': [0]})
  rest = [p for p in patiences if p != 0]
  monitors = cli.list_flag(monitors, str, 'monitors')
  if rest:
    first = {'early_stopping.patience': rest,
             'early_stopping.min_delta': deltas}
    if monitors[0] != 'val_loss':
      first = dict({'early_stopping.monitor': monitors[:1]}, **first)
    grids.append(first)
    if monitors[1:]:
      grids.append({'early_stopping.monitor': monitors[1:],
                    'early_stopping.patience': rest,
                    'early_stopping.min_delta': [0.0]})
  return ablation.run_ablation(
      session, grids, config, COLUMNS, title='Early stopping',
      final_hooks=[analysis.last_epoch_hook],
      axis_flags={'early_stopping.patience': 'patiences',
                  'early_stopping.min_delta': 'min_deltas',
                  'early_stopping.monitor': 'monitors'},
      claims=CLAIMS, plots=('val_loss', 'val_accuracy'))


def main(_):
  run(cli.resolved_config(), patiences=_PATIENCES.value,
      monitors=_MONITORS.value, min_deltas=_MIN_DELTAS.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
