"""Plots a reader trusts: each figure is drawn from fabricated runs (no
training) and its artists are read back: one style per (trial, setting),
failed seeds marked, integer epoch and layer ticks, a title naming the
workdir (or script) and what varies, axis labels with units."""
import math
import os

import pytest

from dlexp import records, report

pytest.importorskip('matplotlib')
NAN = math.nan


def _run(trial, seed, train_loss=(), val_accuracy=(), status='done',
         lr=0.1, cid='aaaaaaaaaa', root='/w/demo', diverged_epoch=None,
         **diag):
  """A run of WORKDIR `root`: train_loss at epochs 1.., val_accuracy at
  epochs 0.., `diag` {key: [value at epoch 0, 1, ...]}."""
  epochs = max(len(train_loss) + 1, len(val_accuracy),
               *(len(v) for v in diag.values()))
  metrics = []
  for e in range(epochs):
    row = {'epoch': e}
    if 1 <= e <= len(train_loss):
      row['train_loss'] = train_loss[e - 1]
    if e < len(val_accuracy):
      row['val_accuracy'] = val_accuracy[e]
    row.update({k: v[e] for k, v in diag.items() if e < len(v)})
    metrics.append(row)
  config = {'optimizer.learning_rate': lr, 'data.name': 'mnist',
            'loss.name': 'cross_entropy'}
  return report.Run(
      os.path.join(root, trial, cid, f'seed_{seed}'),
      {'trial': trial, 'seed': seed, 'config_id': cid, 'config': config,
       'overrides': {'optimizer.learning_rate': lr}},
      {'status': status, 'final': {'diverged_epoch': diverged_epoch}},
      _metrics=metrics)


def _by_label(ax):
  return {line.get_label(): line for line in ax.lines}


def _legend(ax):
  return [t.get_text() for t in ax.get_legend().get_texts()]


def _marks(ax, marker):
  """(x, y, colour) of every lone mark drawn with `marker`."""
  return [(float(l.get_xdata()[0]), float(l.get_ydata()[0]), l.get_color())
          for l in ax.lines
          if l.get_marker() == marker and len(l.get_xdata()) == 1]


def test_two_settings_of_one_trial_share_a_colour_not_a_style():
  runs = [_run('relu', s, [2.0, 1.0], lr=0.1, cid='aaaaaaaaaa')
          for s in (0, 1)]
  runs += [_run('relu', s, [2.5, 2.0], lr=0.01, cid='bbbbbbbbbb')
           for s in (0, 1)]
  runs += [_run('tanh', s, [2.2, 1.2], cid='cccccccccc') for s in (0, 1)]
  ax = report.curve_figure(runs, 'train_loss').axes[0]
  lines = _by_label(ax)
  fast = lines['relu [optimizer.learning_rate=0.1] (n=2)']
  slow = lines['relu [optimizer.learning_rate=0.01] (n=2)']
  tanh = lines['tanh (n=2)']
  assert fast.get_color() == slow.get_color() != tanh.get_color()
  assert fast.get_linestyle() != slow.get_linestyle()
  # each setting its own mean: not one band over both
  assert list(fast.get_ydata()) == [2.0, 1.0]
  assert list(slow.get_ydata()) == [2.5, 2.0]
  assert len(ax.collections) == 3  # a min-max band per setting
  assert 'relu [optimizer.learning_rate=0.01] (n=2)' in _legend(ax)


def test_line_styles_never_repeat_a_colour_and_style():
  keys = [(f't{i}', s) for i in range(25) for s in ('a', 'b', 'c')]
  styles = report.line_styles(keys)
  pairs = {(s['color'], repr(s['linestyle'])) for s in styles.values()}
  assert len(pairs) == len(keys)
  assert len({styles[('t3', s)]['color'] for s in 'abc'}) == 1


def _failures():
  return [
      # diverged in epoch 3: its last finite train loss is epoch 2's
      _run('big', 0, [2.0, 1.5, NAN], [0.1, 0.5, 0.6, NAN], 'diverged',
           lr=3, cid='b1', diverged_epoch=3),
      _run('big', 1, [2.0, 1.0, 0.8], [0.1, 0.5, 0.7, 0.8], lr=3, cid='b1'),
      # both seeds diverged in epoch 1: no finite train loss at all
      *[_run('huge', s, [NAN], [0.1, NAN], 'diverged', lr=10, cid='h1',
             diverged_epoch=1) for s in (0, 1)],
      # seed 0 learned nothing: 10 classes, last accuracy at chance
      _run('tiny', 0, [2.3, 2.3, 2.3], [0.1, 0.1, 0.1, 0.105], lr=1e-4,
           cid='t1'),
      _run('tiny', 1, [2.3, 2.0, 1.8], [0.1, 0.3, 0.4, 0.5], lr=1e-4,
           cid='t1')]


def test_diverged_seeds_are_marked_at_their_last_finite_value():
  ax = report.curve_figure(_failures(), 'train_loss').axes[0]
  lines = _by_label(ax)
  big, huge = lines['big (n=2, 1 diverged)'], lines['huge (n=2, 2 diverged)']
  marks = _marks(ax, 'x')
  assert (2.0, 1.5, big.get_color()) in marks
  # no finite value: one x on the top edge at the epoch it diverged in
  top = ax.get_ylim()[1]
  assert (1.0, top, huge.get_color()) in marks
  assert len(marks) == 2
  assert 'x: a seed diverged' in _legend(ax)
  assert 'huge (n=2, 2 diverged)' in _legend(ax)  # listed, though no line
  assert 'failed seed' in ax.get_title()


def test_seeds_at_chance_are_marked_beside_the_chance_level():
  ax = report.curve_figure(_failures(), 'val_accuracy').axes[0]
  lines = _by_label(ax)
  tiny = lines['tiny (n=2, 1 at chance)']
  assert _marks(ax, 'v') == [(3.0, 0.105, tiny.get_color())]
  assert 'v: a seed at chance' in _legend(ax)
  assert list(lines['chance (1/10)'].get_ydata()) == [0.1, 0.1]
  # 'huge' logged only its untrained accuracy: the x marks epoch 0
  assert (0.0, 0.1, lines['huge (n=2, 2 diverged)'].get_color()) in (
      _marks(ax, 'x'))


def test_epoch_ticks_are_whole_and_title_and_labels_say_what():
  runs = [_run('a', s, [2.0, 1.6, 1.5], [0.1, 0.5, 0.6, 0.65], lr=lr,
               cid=f'c{lr}') for s in (0, 1) for lr in (0.1, 0.01)]
  loss = report.curve_figure(runs, 'train_loss').axes[0]
  ticks = [t for t in loss.get_xticks()
           if loss.get_xlim()[0] <= t <= loss.get_xlim()[1]]
  assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
  assert loss.get_title().startswith(
      'demo: train_loss per epoch; varies optimizer.learning_rate')
  assert (loss.get_xlabel(), loss.get_ylabel()) == ('epoch',
                                                    'train_loss (nats)')
  acc = report.curve_figure(runs, 'val_accuracy', source='my_script').axes[0]
  assert acc.get_title().startswith('my_script: val_accuracy per epoch')
  assert acc.get_xlabel() == 'epoch (0 = before training)'
  assert acc.get_ylabel() == 'val_accuracy (fraction)'
  assert report.curve_figure(runs, 'val_loss') is None  # never logged


def test_units_follow_the_loss_and_the_header():
  mse = _run('r', 0, [1.0])
  mse.config['config']['loss.name'] = 'mse'
  assert report.quantity('train_loss', [mse]) == (
      'train_loss (squared target units)')
  assert report.quantity('val acc @last') == 'val acc @last (fraction)'
  assert report.quantity('steps to 0.8') == 'steps to 0.8 (steps)'
  assert report.quantity('NaN @ep') == 'NaN @ep (epoch)'
  assert report.quantity('log10 L1/Ln') == 'log10 L1/Ln'


def test_sweep_marks_diverged_and_unreached_seeds_apart_and_keeps_zero():
  runs = [_run('s', seed, [1.0, v], lr=lr, cid=f'c{lr}')
          for lr, v in ((0.0, 0.9), (0.01, 0.6), (0.1, 0.4), (0.1, 0.5))
          for seed in (0,)]
  runs.append(_run('s', 0, [1.0, NAN], status='diverged', lr=3.0, cid='c3',
                   diverged_epoch=2))
  ax = report.sweep_figure(runs, 'optimizer.learning_rate',
                           report.last('train_loss', 'train loss @end'),
                           logy=True).axes[0]
  # lr 0 would vanish from a log axis: symlog keeps it
  assert ax.get_xscale() == 'symlog'
  line = [l for l in ax.lines if len(l.get_xdata()) > 1][0]
  assert list(line.get_xdata()) == [0.0, 0.01, 0.1]
  assert line.get_label() == 'mean over seeds (n=1-2 per point, 1 diverged)'
  assert _marks(ax, 'x') == [(3.0, ax.get_ylim()[1], line.get_color())]
  # ... inside the x range, though no line reaches lr 3 (it sat beside the
  # legend, outside the axes)
  assert ax.get_xlim()[0] <= 3.0 <= ax.get_xlim()[1]
  assert ax.get_ylabel() == 'train loss @end (nats)'
  assert 'train loss @end against optimizer.learning_rate' in (
      ax.get_title())
  # A seed that never reached a target has no value, but did not diverge.
  reach = report.epochs_to('train_loss', 0.5, 'epochs to 0.5', 'min')
  ax = report.sweep_figure(runs[:-1], 'optimizer.learning_rate', reach,
                           logx=False).axes[0]
  assert not _marks(ax, 'x')
  assert {x for x, _, _ in _marks(ax, '^')} == {0.0, 0.01}
  assert '^: a seed with no value' in _legend(ax)


def test_layer_plot_draws_every_epoch_with_whole_layer_ticks(tmp_path):
  root = str(tmp_path / 'deep')
  runs = []
  for trial, scale in (('sigmoid', 0.1), ('relu', 1.0)):
    for seed in (0, 1):
      r = _run(trial, seed, [1.0] * 5, root=root, cid='x' + trial,
               **{f'diag/dense{k}/grad_norm': [scale ** k * (e + 1)
                                               for e in range(6)]
                  for k in (1, 2, 3)})
      os.makedirs(r.directory)
      records.write_layers(r.directory, ['dense1', 'act1', 'dense2',
                                         'dense3', 'logits'])
      runs.append(r)
  ax = report.layers_figure(runs, 'grad_norm', [0, 1, 2, 3, 4],
                            layers=r'dense\d+').axes[0]
  labels = [l.get_label() for l in ax.lines]
  # five epochs (a zip with four line styles once dropped the fifth)
  assert len(labels) == 10 and 'relu, after epoch 4 (n=2)' in labels
  assert 'sigmoid, before training (n=2)' in labels
  lines = _by_label(ax)
  assert list(lines['relu, after epoch 4 (n=2)'].get_xdata()) == [1, 2, 3]
  assert len({(l.get_color(), l.get_linestyle()) for l in ax.lines}) >= 5
  ticks = [t for t in ax.get_xticks()
           if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
  assert ticks and all(float(t).is_integer() for t in ticks)
  assert ax.get_title().startswith('deep: grad_norm by layer, before '
                                   'training and after epoch 1')
  assert ax.get_ylabel() == 'gradient norm (L2, per layer)'
  assert ax.get_xlabel() == 'layer (1 = nearest the input)'


def test_plot_writes_one_png_per_metric_it_can_draw(tmp_path):
  paths = report.plot(_failures(), ['train_loss', 'val_loss'],
                      str(tmp_path))
  assert paths == [str(tmp_path / 'train_loss.png')]
  assert os.path.getsize(paths[0]) > 1000
