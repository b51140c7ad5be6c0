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
- best epoch: the epoch of the lowest validation loss seen (improvements
  smaller than min_delta do not count);
- val loss rise: the last epoch's validation loss minus the lowest one
  seen (for patience 0: how much the net overfits within the budget);
- test acc / test loss (restore): the best epoch's parameters;
- test acc / test loss (no restore): the last epoch's parameters, what
  Keras' EarlyStopping keeps by default;
- restore gain: test accuracy restored minus not restored (per seed).

  python experiments/early_stopping.py                    # defaults below
  python experiments/early_stopping.py --patiences=0,3,8 --min_deltas=0
  python experiments/early_stopping.py --config.early_stopping.monitor=val_accuracy

The patience 0 row ignores --min_deltas (it never stops; min_delta would
only change which epoch counts as best), so it is run once.

Every claim is judged only where the reference overfits (its validation
loss ends >= 0.05 above its lowest): early stopping has nothing to do on
a net that does not. Each contrast is fixed in advance (never the best or
worst trial picked from the table); "early stopping" is the grid's middle
patience, watching val_loss at min_delta 0:

- 000 Q4 "Reduces overfitting ... Prevents model degradation": early
  stopping (best epoch restored) against all epochs (last kept): test loss
  lower AND test accuracy higher (Welch, Holm over the two); one
  significantly better and the other significantly worse is "depends";
- 000 Q4 "saves time": epochs trained, against all 40 (1-epoch margin):
  a saving relative to the budget, which a referee should read as such;
- 000 Q4 "Difficulty in choosing stopping criteria": the largest patience
  against the smallest, by test accuracy (0.005 margin), in the direction
  expected in advance (a small patience stops on a noisy bump); equal
  within the margin contradicts it;
- 004 K6 the notes' recipe as Keras runs it by default (no
  restore_best_weights: the stopping epoch's weights) against all epochs,
  as for 000 Q4.
"""
from absl import flags

from dlexp import analysis, claims, cli, report
from dlexp.errors import DlexpError

_PATIENCES = flags.DEFINE_list(
    'patiences', ['0', '2', '5', '10'],
    'Early-stopping patiences (config.early_stopping.patience); 0 = train '
    'to the end.')
_MONITORS = flags.DEFINE_list(
    'monitors', ['val_loss', 'val_accuracy'],
    'Monitored metrics (config.early_stopping.monitor): the first with every '
    'patience x min_delta, the others with every patience at min_delta 0.')
_MIN_DELTAS = flags.DEFINE_list(
    'min_deltas', ['0', '0.01'],
    'Smallest improvement that counts (config.early_stopping.min_delta).')

cli.define_flags(
    'early_stopping', model='mlp', epochs=40, seeds=5,
    config={'model.hidden': (512,), 'optimizer.name': 'adam',
            'optimizer.learning_rate': 1e-3, 'diagnostics.every_epochs': 0,
            'data.train_limit': 3000, 'data.val_size': 2000},
    smoke={'epochs': 8, 'seeds': 2, 'patiences': ['0', '2'],
           'min_deltas': ['0'], 'monitors': ['val_loss'],
           'config.model.hidden': (128,), 'config.data.train_limit': 256,
           'config.data.val_size': 500, 'config.data.test_limit': 1000},
    full={'epochs': 100, 'seeds': 5})


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


_GAIN = report.Column('restore gain', _restore_gain, '+.4f')
_RISE = report.Column('val loss rise', _val_loss_rise, '.3f')
_RUN = report.final('epochs_run', 'epochs run', '.1f')
_ACC = report.final('test_accuracy', 'test acc (restore)')
_ACC_LAST = report.final('last_test_accuracy', 'test acc (no restore)')
_LOSS = report.final('test_loss', 'test loss (restore)')
_LOSS_LAST = report.final('last_test_loss', 'test loss (no restore)')
COLUMNS = (
    _RUN,
    report.Column('saved', _epochs_saved, '.1f'),
    report.final('stopped_epoch', 'stop epoch', '.1f'),
    report.DEFAULT_COLUMNS[2],  # best epoch
    _RISE,
    _ACC, _ACC_LAST, _GAIN, _LOSS, _LOSS_LAST,
    report.DEFAULT_COLUMNS[3],
)

# Margins: the smallest effect that matters, fixed before any number is seen.
LOSS_MARGIN = 0.02  # nats of test loss
ACC_MARGIN = 0.005  # test accuracy: half a point
EPOCH_MARGIN = 1.0  # epochs trained: one epoch saved is the least that counts
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
  keeping the last: lower test loss and higher test accuracy, both (Holm);
  one significantly better and the other significantly worse is DEPENDS
  (on the metric)."""
  p, trial = _middle(ev)
  return claims.across(_better(
      ev, trial, (_LOSS, _ACC), f'patience {p:g} (best restored)',
      _end(ev), (_LOSS_LAST, _ACC_LAST), 'all epochs (last kept)'), 'all')


def _saves_time(ev: claims.Evidence) -> claims.Verdict:
  p, trial = _middle(ev)
  return claims.less(ev.sample(trial, _RUN, f'patience {p:g}'),
                     ev.sample(_end(ev), _RUN, 'patience 0'),
                     EPOCH_MARGIN, 'epochs trained', fmt='.1f')


def _hard_to_choose(ev: claims.Evidence) -> claims.Verdict:
  """A stopping criterion that matters: the largest patience of the grid
  against the smallest (val_loss, min_delta 0), by test accuracy with the
  best epoch restored. The expected direction, fixed in advance: a small
  patience stops on a noisy bump of the validation loss."""
  ps = _patiences(ev)
  if len(ps) < 2:
    raise claims.MissingTrial('two patiences > 0 are needed')
  lo, hi = ps[0], ps[-1]
  stop = lambda p: claims.describe(
      ev.sample(_stopping(ev, p), 'stop epoch').values, '.1f')
  return claims.greater(
      ev.sample(_stopping(ev, hi), _ACC, f'patience {hi:g}'),
      ev.sample(_stopping(ev, lo), _ACC, f'patience {lo:g}'), ACC_MARGIN,
      'test accuracy (best restored)').with_note(
          f'stopping epochs: patience {lo:g} {stop(lo)}, patience {hi:g} '
          f'{stop(hi)}')


def _keras_default(ev: claims.Evidence) -> claims.Verdict:
  """The notes' recipe as Keras runs it (restore_best_weights=False: the
  stopping epoch's weights, `patience` epochs past the best) against
  training all epochs: lower test loss and higher test accuracy, both."""
  p, trial = _middle(ev)
  return claims.across(_better(
      ev, trial, (_LOSS_LAST, _ACC_LAST), f'patience {p:g} (no restore)',
      _end(ev), (_LOSS_LAST, _ACC_LAST), 'all epochs (last kept)'), 'all')


SETTING = ('1 x 512 ReLU MLP, Adam 1e-3, 3,000 Fashion-MNIST training '
           'images, up to 40 epochs')
CLAIMS = (
    claims.Claim(
        '000 Q4', 'Reduces overfitting ... Prevents model degradation',
        tested_as='test loss (lower) and test accuracy (higher), both, of '
        'early stopping at the grid\'s middle patience (val_loss, best '
        'epoch restored) against training all epochs and keeping the last; '
        'Welch tests, Holm over the two; on a net whose validation loss '
        f'rises by >= {OVERFITS:g} ({SETTING})',
        rule=_less_overfitting, regime=(_OVERFITS,)),
    claims.Claim(
        '000 Q4', 'computational efficiency: saves time!',
        tested_as='epochs trained at the middle patience against all '
        f'epochs (margin {EPOCH_MARGIN:g} epoch; every epoch costs the same '
        'steps), on a net that overfits within the budget: the saving is '
        f'relative to that budget ({SETTING})',
        rule=_saves_time, regime=(_OVERFITS,)),
    claims.Claim(
        '000 Q4', 'Difficulty in choosing stopping criteria',
        tested_as='test accuracy (best restored) at the largest patience '
        'against the smallest (val_loss, min_delta 0): the criterion '
        f'matters (margin {ACC_MARGIN:g}), in the direction expected in '
        'advance (a small patience stops on noise); equal accuracy within '
        f'the margin contradicts it ({SETTING})',
        rule=_hard_to_choose, regime=(_OVERFITS,)),
    claims.Claim(
        '004 K6', 'implement early stopping using the `EarlyStopping` '
        "callback. Specify the `monitor` (e.g., 'val_loss') and conditions "
        'for stopping (e.g., `patience` for the number of epochs with no '
        'improvement)',
        tested_as="the notes' recipe as Keras runs it by default "
        '(restore_best_weights=False: the stopping epoch\'s weights, '
        '`patience` epochs past the best), at the middle patience, against '
        'training all epochs: test loss lower and test accuracy higher, '
        f'both (Holm), on a net that overfits ({SETTING})',
        rule=_keras_default, regime=(_OVERFITS,)),
)


def main(_):
  patiences = cli.list_flag(_PATIENCES.value, int, 'patiences')
  deltas = cli.list_flag(_MIN_DELTAS.value, float, 'min_deltas')
  grids = []
  if 0 in patiences:
    grids.append({'early_stopping.patience': [0]})
  rest = [p for p in patiences if p != 0]
  monitors = _MONITORS.value
  if not monitors:
    raise DlexpError('--monitors needs at least one metric')
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
  cli.run_ablation(grids, COLUMNS, title='Early stopping',
                   final_hooks=[analysis.last_epoch_hook],
                   axis_flags={'early_stopping.patience': 'patiences',
                               'early_stopping.min_delta': 'min_deltas',
                               'early_stopping.monitor': 'monitors'},
                   claims=CLAIMS, plots=('val_loss', 'val_accuracy'))


if __name__ == '__main__':
  cli.run_main(main)
