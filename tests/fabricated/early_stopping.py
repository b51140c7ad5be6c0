"""Fabricated tables for experiments/early_stopping.py (5 seeds a trial)."""
from dlexp import claims

H = ('epochs run', 'stop epoch', 'val loss rise', 'test acc (restore)',
     'test acc (no restore)', 'test loss (restore)', 'test loss (no restore)',
     'train-test gap (restore)', 'train-test gap (no restore)')
STOP_GAP = 'stop - best'


def _row(run, stop, rise, acc, acc_last, loss, loss_last, gap, gap_last):
  return dict(zip(H, (run, stop, rise, acc, acc_last, loss, loss_last, gap,
                      gap_last)))


# Training all 40 epochs: the validation loss climbs 0.16 above its lowest;
# the last epoch's accuracy is still the highest, its loss the worst, and
# it fits the training set (train accuracy 1.0): a 0.16 gap.
END = _row([40.0] * 5, [None] * 5, [0.16, 0.15, 0.17, 0.16, 0.18],
           [0.823, 0.820, 0.826, 0.822, 0.824],
           [0.839, 0.837, 0.842, 0.838, 0.840],
           [0.512, 0.508, 0.515, 0.510, 0.513],
           [0.674, 0.665, 0.685, 0.670, 0.679],
           [0.061, 0.055, 0.066, 0.058, 0.063],
           [0.161, 0.163, 0.158, 0.162, 0.160])
END_FLAT = _row([40.0] * 5, [None] * 5, [0.004, 0.0, 0.01, 0.002, 0.006],
                [0.823, 0.820, 0.826, 0.822, 0.824],
                [0.824, 0.821, 0.827, 0.823, 0.825],
                [0.512, 0.508, 0.515, 0.510, 0.513],
                [0.514, 0.509, 0.517, 0.512, 0.515],
                [0.061, 0.055, 0.066, 0.058, 0.063],
                [0.063, 0.057, 0.067, 0.060, 0.064])
# Early stopping better in loss and accuracy, restored or not, with a
# small gap
P5_GOOD = _row([9.0, 7.0, 12.0, 9.0, 10.0], [9.0, 7.0, 12.0, 9.0, 10.0],
               [0.03, 0.02, 0.05, 0.03, 0.04],
               [0.851, 0.848, 0.855, 0.850, 0.853],
               [0.849, 0.846, 0.852, 0.848, 0.851],
               [0.470, 0.466, 0.475, 0.468, 0.472],
               [0.481, 0.476, 0.487, 0.479, 0.484],
               [0.041, 0.037, 0.046, 0.040, 0.043],
               [0.052, 0.047, 0.058, 0.050, 0.055])
# Early stopping shrinks the gap only by stopping before the model fits:
# train and test accuracy both lower (underfitting)
P5_UNDER = dict(P5_GOOD, **{
    'test acc (restore)': [0.811, 0.806, 0.816, 0.809, 0.813],
    'train-test gap (restore)': [0.021, 0.017, 0.026, 0.020, 0.023]})
# Early stopping no better in either: the same test loss and accuracy
P5_SAME = _row([38.0, 40.0, 39.0, 40.0, 37.0], [38.0, None, 39.0, None, 37.0],
               [0.15, 0.16, 0.17, 0.16, 0.15],
               [0.8395, 0.8378, 0.8410, 0.8386, 0.8401],
               [0.8392, 0.8369, 0.8421, 0.8380, 0.8398],
               [0.6745, 0.6660, 0.6840, 0.6705, 0.6785],
               [0.6738, 0.6649, 0.6851, 0.6699, 0.6791],
               [0.158, 0.161, 0.155, 0.160, 0.157],
               [0.159, 0.162, 0.156, 0.161, 0.158])
# Patience never runs out: every seed trains all 40 epochs
P5_NEVER = dict(P5_SAME, **{'epochs run': [40.0] * 5,
                            'stop epoch': [None] * 5})
P2 = _row([6.0, 5.0, 8.0, 6.0, 7.0], [6.0, 5.0, 8.0, 6.0, 7.0],
          [0.02, 0.01, 0.03, 0.02, 0.02],
          [0.814, 0.801, 0.826, 0.809, 0.818],
          [0.814, 0.796, 0.833, 0.806, 0.819],
          [0.528, 0.510, 0.545, 0.521, 0.534],
          [0.542, 0.521, 0.563, 0.533, 0.549],
          [0.031, 0.025, 0.036, 0.028, 0.033],
          [0.036, 0.029, 0.041, 0.033, 0.038])
# Every criterion ends at the same test accuracy (restored)
P2_SAME = dict(P2, **{
    'test acc (restore)': [0.8512, 0.8476, 0.8553, 0.8497, 0.8531]})
VA_SAME = dict(P5_SAME, **{
    'test acc (restore)': [0.8521, 0.8469, 0.8548, 0.8502, 0.8525]})
NONE = [None] * 5


def _stop_gap(row, patience, off=0.0):
  """'stop - best' of a trial: patience (+ off) where a seed stopped."""
  return dict(row, **{STOP_GAP: [None if s is None else patience + off
                                 for s in row['stop epoch']]})


def _table(end=END, p2=P2, p5=P5_GOOD, p10=P5_GOOD, va=P5_SAME, off=0.0,
           stopped=True):
  rows = {'patience=2,min_delta=0': (p2, 2),
          'patience=5,min_delta=0': (p5, 5),
          'patience=10,min_delta=0': (p10, 10),
          'monitor=val_accuracy,patience=5,min_delta=0': (va, 5)}
  table = {'patience=0': dict(end, **{STOP_GAP: NONE})}
  for name, (row, patience) in rows.items():
    if not stopped:
      row = dict(row, **{'stop epoch': NONE})
    table[name] = _stop_gap(row, patience, off)
  return claims.fabricate(table, exact=(STOP_GAP,))


REGIME = _table(end=END_FLAT)
CASES = {
    0: {'supported': _table(),
        'contradicted': _table(p5=P5_UNDER),
        'regime': REGIME},
    1: {'supported': _table(),
        'contradicted': _table(p5=P5_NEVER),
        'regime': REGIME},
    2: {'supported': _table(),
        'contradicted': _table(p5=P5_SAME),
        'regime': REGIME},
    3: {'supported': _table(),
        'contradicted': _table(p2=P2_SAME, va=VA_SAME),
        'regime': REGIME},
    4: {'supported': _table(),
        'contradicted': _table(off=1.0),
        'regime': _table(stopped=False)},
}
