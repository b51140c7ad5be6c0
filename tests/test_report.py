"""Reports and records: what the table says about seeds left out of a mean,
the layer-order file, and the one warning when TensorBoard files cannot be
written."""
import math
import os
import struct
import subprocess
import sys

import pytest

from conftest import ROOT
from dlexp import records, report


def _run(seed, status, **final):
  return report.Run(f'/runs/t/seed_{seed}', {'trial': 't', 'seed': seed},
                    {'status': status, 'final': final}, _metrics=[])


def test_mean_std_counts_the_seeds_it_covers():
  assert report.mean_std([0.8, 0.9], '.2f') == '0.85 ± 0.07'
  assert report.mean_std([0.8, math.nan, 0.9], '.2f') == '0.85 ± 0.07 (2/3)'
  assert report.mean_std([0.8, None, math.inf], '.2f') == '0.80 (1/3)'
  assert report.mean_std([None, math.nan], '.2f') == 'n/a'
  assert report.mean_std([1.0, None], '.0f', spread=False) == '1 (1/2)'


def test_table_marks_the_seeds_left_out_of_each_mean():
  runs = [_run(0, 'done', val_accuracy=0.8, test_accuracy=0.7, best_epoch=3),
          _run(1, 'done', val_accuracy=0.9, test_accuracy=0.8, best_epoch=5),
          _run(2, 'diverged', val_accuracy='nan', diverged_epoch=4)]
  text = report.table({'t': runs})
  row = [line for line in text.splitlines() if line.startswith('| t |')][0]
  cells = [c.strip() for c in row.strip('|').split('|')]
  assert cells[:5] == ['t', '3', '0.8500 ± 0.0707 (2/3)',
                       '0.7500 ± 0.0707 (2/3)', '4.0 ± 1.4 (2/3)']
  assert cells[-1] == 'diverged:1,done:2'
  notes = text.split('Seeds left out of means')[1].splitlines()[1:]
  assert notes == ['- t, seed 2 (diverged at epoch 4): no finite value, left '
                   'out of val acc, test acc, best epoch']


def test_table_without_missing_values_has_no_notes():
  runs = [_run(s, 'done', val_accuracy=0.8, test_accuracy=0.7, best_epoch=1)
          for s in (0, 1)]
  text = report.table({'t': runs})
  assert '(2/2)' not in text and 'left out' not in text


def test_layer_order_file_round_trip(tmp_path):
  assert records.read_layers(str(tmp_path)) is None
  records.write_layers(str(tmp_path), ['stem', 'stem_act', 'logits'])
  assert records.read_layers(str(tmp_path)) == ['stem', 'stem_act', 'logits']


def test_missing_tensorboardx_is_said_once(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, 'tensorboardX', None)  # import fails
  monkeypatch.setattr(records, '_warned', set())
  for i in range(2):
    writer = records.RunWriter(str(tmp_path / f'run{i}'), {}, {})
    writer.log({'epoch': 0, 'val_loss': 1.0})
    writer.close()
  err = capsys.readouterr().err.splitlines()
  assert len(err) == 1, err
  assert err[0].startswith('warning: tensorboardX could not be imported')
  assert err[0].endswith('TensorBoard event files will not be written')
  assert not (tmp_path / 'run0' / 'tb').exists()
  assert (tmp_path / 'run0' / 'metrics.jsonl').read_text().strip()


def _tensorboard_scalars(folder):
  """{(step, tag): value} of every scalar in the event files (TFRecord
  framing: length, its crc, the Event proto, its crc)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  scalars = {}
  for path in folder.glob('events.out.tfevents.*'):
    data = path.read_bytes()
    at = 0
    while at < len(data):
      (size,) = struct.unpack('<Q', data[at:at + 8])
      event = event_pb2.Event.FromString(data[at + 12:at + 12 + size])
      at += 12 + size + 4
      for value in event.summary.value:
        scalars[(event.step, value.tag)] = value.simple_value
  return scalars


def test_tensorboard_files_hold_every_scalar_of_every_row(tmp_path):
  pytest.importorskip('tensorboardX')
  writer = records.RunWriter(str(tmp_path), {}, {})
  writer.log({'epoch': 1, 'step': 10, 'val_loss': 0.5, 'train_loss': 0.25,
              'diag/dense1/dead': 0.125, 'note': 'text is not a scalar'})
  writer.log({'epoch': 2, 'step': 20, 'val_loss': 0.375, 'train_loss': 0.0,
              'members': 3})
  writer.close()
  assert _tensorboard_scalars(tmp_path / 'tb') == {
      (10, 'val_loss'): 0.5, (10, 'train_loss'): 0.25,
      (10, 'diag/dense1/dead'): 0.125, (20, 'val_loss'): 0.375,
      (20, 'train_loss'): 0.0, (20, 'members'): 3.0}


def _curve_run(losses, status='done', **config):
  metrics = [{'epoch': 0, 'step': 0, 'val_loss': 2.5}] + [
      {'epoch': e, 'step': 10 * e, 'train_loss': v}
      for e, v in enumerate(losses, 1)]
  return report.Run('/runs/c/seed_0', {'trial': 'c', 'config': config,
                                       'overrides': config},
                    {'status': status, 'final': {}}, _metrics=metrics)


def test_curve_shape_columns():
  falls = _curve_run([2.0, 1.5, 1.2, 1.0])
  bounces = _curve_run([2.0, 1.0, 1.5, 0.9, 1.4])
  climbs = _curve_run([1.0, 0.8, 1.2, 1.6, 2.0])
  diverged = _curve_run([1.0, 0.5, 0.7, math.nan], status='diverged')
  rises = report.rises('train_loss', 'ups')
  flips = report.reversals('train_loss', 'reversals')
  lowest = report.epoch_of_best('train_loss', 'lowest')
  assert [rises.value(r) for r in (falls, bounces, climbs, diverged)] == [
      0.0, 0.5, 0.75, 0.5]
  assert [flips.value(r) for r in (falls, bounces, climbs, diverged)] == [
      0.0, 1.0, 1 / 3, 1.0]
  assert [lowest.value(r) for r in (falls, bounces, climbs)] == [4.0, 4.0, 2.0]
  assert report.epoch_of_best('train_loss', 'h', 'max').value(climbs) == 5.0
  # the last logged value, non-finite for the epoch a run diverged in
  assert report.last('train_loss').value(bounces) == 1.4
  assert math.isnan(report.last('train_loss').value(diverged))
  assert report.last('val_loss', 'v').value(falls) == 2.5
  assert report.trained_curve(diverged, 'train_loss').tolist() == [
      1.0, 0.5, 0.7]
  assert rises.value(_curve_run([1.0])) is None
  assert flips.value(_curve_run([1.0, 0.5])) is None


def test_plot_sweep_draws_one_line_and_marks_diverged_seeds(tmp_path):
  runs = [_curve_run([1.0, v], **{'optimizer.learning_rate': lr})
          for lr, v in ((0.01, 0.9), (0.1, 0.4), (0.1, 0.5))]
  runs.append(_curve_run([1.0, math.nan], status='diverged',
                         **{'optimizer.learning_rate': 3.0}))
  path = report.plot_sweep(runs, 'optimizer.learning_rate',
                           report.last('train_loss'), str(tmp_path / 'a.png'))
  assert path == str(tmp_path / 'a.png') and os.path.getsize(path) > 1000
  assert report.plot_sweep([_curve_run([1.0])], 'optimizer.learning_rate',
                           report.last('train_loss'),
                           str(tmp_path / 'b.png')) is None
  assert not os.path.exists(tmp_path / 'b.png')


def test_signed_format_signs_the_mean_not_the_spread():
  # sample std of (0.1, 0.3) = 0.1414
  assert report.mean_std([0.1, 0.3], '+.2f') == '+0.20 ± 0.14'
  assert report.mean_std([-0.1, -0.3], '+.2f') == '-0.20 ± 0.14'


def test_tensorboard_writer_does_not_import_torch(tmp_path):
  """tensorboardX imports torch when installed (1.4 s per process); the
  writer loads it without, and torch stays importable afterwards."""
  pytest.importorskip('tensorboardX')
  code = '\n'.join([
      'import importlib.util, sys',
      'from dlexp import records',
      'writer = records.RunWriter(sys.argv[1], {}, {})',
      "writer.log({'epoch': 1, 'step': 10, 'val_loss': 0.5})",
      'writer.close()',
      "assert 'tensorboardX' in sys.modules and 'torch' not in sys.modules",
      "if importlib.util.find_spec('torch') is not None:",
      '  import torch',
      '  assert torch.zeros(2).sum().item() == 0',
      "print('ok')"])
  proc = subprocess.run([sys.executable, '-c', code, str(tmp_path)],
                        capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, PYTHONPATH=ROOT))
  assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr
  assert list((tmp_path / 'tb').glob('events.out.tfevents.*'))
