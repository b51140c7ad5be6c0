"""Time-based report columns: training seconds per run (an epoch's time
shared by the members that trained in it), seconds to a target, the value
at a time budget."""
from dlexp import report


def _run(rows):
  return report.Run('d', {}, {}, _metrics=rows)


ROWS = [dict(epoch=0, val_accuracy=0.1),
        dict(epoch=1, val_accuracy=0.5, epoch_seconds=6.0, members=3),
        dict(epoch=2, val_accuracy=0.8, epoch_seconds=6.0, members=2),
        dict(epoch=3, val_accuracy=0.7, epoch_seconds=3.0, members=1)]


def test_timeline_shares_an_epoch_among_its_members():
  assert report.timeline(_run(ROWS), 'val_accuracy') == [
      (0.0, 0.1), (2.0, 0.5), (5.0, 0.8), (8.0, 0.7)]


def test_seconds_to_a_target():
  run = _run(ROWS)
  assert report.seconds_to('val_accuracy', 0.75, 'h').value(run) == 5.0
  assert report.seconds_to('val_accuracy', 0.9, 'h').value(run) is None
  assert report.seconds_to('val_accuracy', 0.1, 'h', mode='min').value(
      run) is None  # epoch 0 does not count
  assert report.epochs_to('val_accuracy', 0.75, 'h').value(run) == 2.0


def test_value_at_a_time_budget():
  run = _run(ROWS)
  at = lambda budget: report.at_seconds('val_accuracy', budget, 'h').value(
      run)
  assert (at(1.9), at(2.0), at(4.9), at(100.0)) == (0.1, 0.5, 0.5, 0.7)
