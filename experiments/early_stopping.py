r"""Does early stopping save time and overfitting, and how much does its
setting (patience, min_delta, restoring the best weights) matter?

The notes (seed 000, question 4) say early stopping "reduces overfitting",
"saves time", "prevents model degradation", and that its drawback is the
"difficulty in choosing stopping criteria"; seed 004, group 6 describes
Keras' EarlyStopping as "monitoring the validation loss ... and stopping
training when the validation loss starts increasing", with a monitor and a
patience, and says nothing of restoring the best weights, which Keras does
not do by default (restore_best_weights=False): the model kept is the one
of the stopping epoch, `patience` epochs past the best.

This trains a model that overfits (a wide MLP, one hidden layer of 512
ReLU units, Adam, on 3,000 Fashion-MNIST training images for up to 40
epochs), watching the validation loss at each patience x min_delta, and
the validation accuracy at each patience (--monitors); patience 0 trains
to the end (the reference). Every run keeps both models:
the best epoch's parameters (restore_best, the runner's default) and the
last epoch's (Keras' default), measured on the same test set, so restore
on/off is a paired comparison within each seed. Columns:

- epochs run, saved: epochs trained, and epochs left of the 40 (the
  time early stopping saves; the whole run stops with its last member);
- stop epoch: the epoch at which patience ran out (n/a: never stopped);
- best epoch: the epoch of the lowest validation loss seen (improvements
  smaller than min_delta do not count);
- test acc / test loss (restore): the best epoch's parameters;
- test acc / test loss (no restore): the last epoch's parameters, what
  Keras' EarlyStopping keeps by default;
- restore gain: test accuracy restored minus not restored (per seed).

  python experiments/early_stopping.py                    # defaults below
  python experiments/early_stopping.py --patiences=0,3,8 --min_deltas=0
  python experiments/early_stopping.py --config.early_stopping.monitor=val_accuracy

The patience 0 row ignores --min_deltas (it never stops; min_delta would
only change which epoch counts as best), so it is run once.
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
    'early_stopping', model='mlp', epochs=40, seeds=3,
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


_GAIN = report.Column('restore gain', _restore_gain, '+.4f')
COLUMNS = (
    report.final('epochs_run', 'epochs run', '.1f'),
    report.Column('saved', _epochs_saved, '.1f'),
    report.final('stopped_epoch', 'stop epoch', '.1f'),
    report.DEFAULT_COLUMNS[2],  # best epoch
    report.final('test_accuracy', 'test acc (restore)'),
    report.final('last_test_accuracy', 'test acc (no restore)'),
    _GAIN,
    report.final('test_loss', 'test loss (restore)'),
    report.final('last_test_loss', 'test loss (no restore)'),
    report.DEFAULT_COLUMNS[3],
)


def _stopping_trials(ev: claims.Evidence, monitor: str = 'val_loss'):
  """[(patience, min_delta, trial)] of the trials that can stop early and
  watch `monitor` ('' = any: then (patience, min_delta, monitor, trial))."""
  out = []
  for name in ev.trials:
    o = {k.split('.')[-1]: v for k, v in
         (ev.groups[name][0].config.get('overrides') or {}).items()}
    watched = o.get('monitor', 'val_loss')
    if o.get('patience', 0) > 0 and (not monitor or watched == monitor):
      key = (o['patience'], o.get('min_delta', 0.0))
      out.append(key + ((name,) if monitor else (watched, name)))
  if not out:
    raise KeyError('no trial with patience > 0 in --patiences')
  return sorted(out)


def _end(ev: claims.Evidence) -> str:
  trial = ev.trial(patience=0)
  if trial is None:
    raise KeyError('no patience 0 (train to the end) in --patiences')
  return trial


def _middle(ev: claims.Evidence):
  """The middle patience of the grid at min_delta 0 (or its smallest)."""
  trials = _stopping_trials(ev)
  patiences = sorted({p for p, _, _ in trials})
  p = patiences[len(patiences) // 2]
  return p, min((d, t) for q, d, t in trials if q == p)[1]


def _loss_and_accuracy(ev, a, a_keys, b, b_keys, a_name, b_name):
  """(sign of the loss gain, sign of the accuracy gain) of `a` over `b`
  (+1: a is better beyond the spread, -1: worse, 0: neither, None: fewer
  than 2 seeds), and the sentence with both comparisons."""
  loss_a, loss_b = ev.values(a, a_keys[0]), ev.values(b, b_keys[0])
  acc_a, acc_b = ev.values(a, a_keys[1]), ev.values(b, b_keys[1])
  loss = claims.compare(loss_b, loss_a, 'test loss', b_name, a_name)
  acc = claims.compare(acc_a, acc_b, 'test accuracy', a_name, b_name)
  d_loss = claims.difference(loss_b, loss_a)
  d_acc = claims.difference(acc_a, acc_b)
  signs = (d_loss.sign, d_acc.sign) if d_loss.decided and d_acc.decided else (
      None, None)
  return signs, f'{loss.evidence}; {acc.evidence}'


def _judge(signs, text, both_better=claims.SUPPORTED,
           neither=claims.CONTRADICTED) -> claims.Verdict:
  """Loss and accuracy agree (both better: `both_better`; neither: `neither`)
  or they disagree (DEPENDS: on the metric)."""
  loss, acc = signs
  if loss is None:
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if loss > 0 and acc >= 0 or acc > 0 and loss >= 0:
    return claims.Verdict(both_better, text)
  if loss > 0 > acc or acc > 0 > loss:
    return claims.Verdict(claims.DEPENDS, text + ' (the metric decides: '
                          'better in one, worse in the other)')
  if loss < 0 or acc < 0:
    return claims.Verdict(neither, text)
  return claims.Verdict(claims.INCONCLUSIVE, text + ' (within the spread)')


def _less_overfitting(ev: claims.Evidence) -> claims.Verdict:
  """Early stopping (best restored) against training all epochs and keeping
  the last: better test loss AND accuracy supports; one of them only
  depends on the metric."""
  p, trial = _middle(ev)
  signs, text = _loss_and_accuracy(
      ev, trial, ('test_loss', 'test_accuracy'), _end(ev),
      ('last_test_loss', 'last_test_accuracy'),
      f'early stopping at patience {p} (best restored)',
      'training all epochs (last epoch kept)')
  return _judge(signs, text)


def _saves_time(ev: claims.Evidence) -> claims.Verdict:
  p, trial = _middle(ev)
  return claims.compare(ev.values(_end(ev), 'epochs_run'),
                        ev.values(trial, 'epochs_run'), 'epochs trained',
                        'patience 0', f'patience {p}', fmt='.1f')


def _hard_to_choose(ev: claims.Evidence) -> claims.Verdict:
  """The criterion (monitored metric, patience, min_delta) matters when the
  settings' test accuracies differ beyond the spread; the stopping epoch's
  spread over seeds is shown beside."""
  trials = _stopping_trials(ev, monitor='')
  label = lambda p, d, m: f'{m}/patience {p:g}/min_delta {d:g}'
  means = sorted((ev.values(t, 'test_accuracy').mean(), label(p, d, m), t)
                 for p, d, m, t in trials
                 if ev.values(t, 'test_accuracy').size)
  spread = '; '.join(
      f'{label(p, d, m)} stops at epoch '
      f'{claims.describe(ev.values(t, "stopped_epoch"), ".1f")}'
      for p, d, m, t in trials)
  if len(means) < 2:
    return claims.Verdict(claims.INCONCLUSIVE, 'one early-stopping setting '
                          f'only; {spread}')
  (_, worst_name, worst), (_, best_name, best) = means[0], means[-1]
  a, b = ev.values(best, 'test_accuracy'), ev.values(worst, 'test_accuracy')
  verdict = claims.compare(a, b, 'test accuracy (restored)',
                           f'the best setting ({best_name})',
                           f'the worst ({worst_name})')
  text = f'{verdict.evidence}; stopping epochs: {spread}'
  if not claims.difference(a, b).decided:
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if verdict.verdict == claims.SUPPORTED:
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(claims.CONTRADICTED, text + '; every setting gives '
                        'the same test accuracy within the spread')


def _keras_default(ev: claims.Evidence) -> claims.Verdict:
  """Stopping without restoring keeps the weights `patience` epochs past the
  best. 'depends' (on restore_best_weights) when restoring is better in
  loss and accuracy, or on the metric when only in one; 'supported' when
  restoring makes no difference."""
  p, _, trial = max(_stopping_trials(ev))
  signs, text = _loss_and_accuracy(
      ev, trial, ('test_loss', 'test_accuracy'), trial,
      ('last_test_loss', 'last_test_accuracy'),
      f'patience {p:g} with the best epoch restored',
      'without restoring (Keras\' default)')
  verdict = _judge(signs, text, both_better=claims.DEPENDS,
                   neither=claims.SUPPORTED)
  if verdict.verdict == claims.INCONCLUSIVE and signs[0] == 0:
    return claims.Verdict(claims.SUPPORTED, text + ' (restoring changes '
                          'nothing beyond the spread)')
  if verdict.verdict == claims.DEPENDS and signs == (1, 1):
    return claims.Verdict(claims.DEPENDS, text + ' (restore_best_weights '
                          'decides: Keras\' default keeps the worse model)')
  return verdict


CLAIMS = (
    claims.Claim('000 Q4', 'Reduces overfitting ... Prevents model '
                 'degradation', _less_overfitting),
    claims.Claim('000 Q4', 'computational efficiency: saves time!',
                 _saves_time),
    claims.Claim('000 Q4', 'Difficulty in choosing stopping criteria',
                 _hard_to_choose),
    claims.Claim('004 G6', 'EarlyStopping callback. Specify the monitor '
                 "(e.g., 'val_loss') and conditions for stopping (e.g., "
                 'patience) [to prevent overfitting]', _keras_default),
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
