"""Fabricated tables for experiments/early_stopping.py (5 seeds a trial)."""
from dlexp import claims

H = ('epochs run', 'stop epoch', 'val loss rise', 'test acc (restore)',
     'test acc (no restore)', 'test loss (restore)', 'test loss (no restore)')


def _row(run, stop, rise, acc, acc_last, loss, loss_last):
  return dict(zip(H, (run, stop, rise, acc, acc_last, loss, loss_last)))


# Training all 40 epochs: the validation loss climbs 0.16 above its lowest;
# the last epoch's accuracy is still the highest, its loss the worst.
END = _row([40.0] * 5, [None] * 5, [0.16, 0.15, 0.17, 0.16, 0.18],
           [0.823, 0.820, 0.826, 0.822, 0.824],
           [0.839, 0.837, 0.842, 0.838, 0.840],
           [0.512, 0.508, 0.515, 0.510, 0.513],
           [0.674, 0.665, 0.685, 0.670, 0.679])
END_FLAT = _row([40.0] * 5, [None] * 5, [0.004, 0.0, 0.01, 0.002, 0.006],
                [0.823, 0.820, 0.826, 0.822, 0.824],
                [0.824, 0.821, 0.827, 0.823, 0.825],
                [0.512, 0.508, 0.515, 0.510, 0.513],
                [0.514, 0.509, 0.517, 0.512, 0.515])
# Early stopping better in loss and accuracy, restored or not
P5_GOOD = _row([9.0, 7.0, 12.0, 9.0, 10.0], [9.0, 7.0, 12.0, 9.0, 10.0],
               [0.03, 0.02, 0.05, 0.03, 0.04],
               [0.851, 0.848, 0.855, 0.850, 0.853],
               [0.849, 0.846, 0.852, 0.848, 0.851],
               [0.470, 0.466, 0.475, 0.468, 0.472],
               [0.481, 0.476, 0.487, 0.479, 0.484])
# Early stopping no better in either: the same test loss and accuracy
P5_SAME = _row([38.0, 40.0, 39.0, 40.0, 37.0], [38.0, None, 39.0, None, 37.0],
               [0.15, 0.16, 0.17, 0.16, 0.15],
               [0.8395, 0.8378, 0.8410, 0.8386, 0.8401],
               [0.8392, 0.8369, 0.8421, 0.8380, 0.8398],
               [0.6745, 0.6660, 0.6840, 0.6705, 0.6785],
               [0.6738, 0.6649, 0.6851, 0.6699, 0.6791])
# Patience never runs out: every seed trains all 40 epochs
P5_NEVER = dict(P5_SAME, **{'epochs run': [40.0] * 5,
                            'stop epoch': [None] * 5})
P2 = _row([6.0, 5.0, 8.0, 6.0, 7.0], [6.0, 5.0, 8.0, 6.0, 7.0],
          [0.02, 0.01, 0.03, 0.02, 0.02],
          [0.814, 0.801, 0.826, 0.809, 0.818],
          [0.814, 0.796, 0.833, 0.806, 0.819],
          [0.528, 0.510, 0.545, 0.521, 0.534],
          [0.542, 0.521, 0.563, 0.533, 0.549])
P2_SAME = _row([14.0, 12.0, 17.0, 15.0, 13.0],
               [14.0, 12.0, 17.0, 15.0, 13.0],
               [0.03, 0.02, 0.05, 0.03, 0.04],
               [0.8512, 0.8476, 0.8553, 0.8497, 0.8531],
               [0.849, 0.846, 0.852, 0.848, 0.851],
               [0.470, 0.466, 0.475, 0.468, 0.472],
               [0.481, 0.476, 0.487, 0.479, 0.484])


def _table(end=END, p2=P2, p5=P5_GOOD, p10=P5_GOOD):
  return claims.fabricate({
      'patience=0': end,
      'patience=2,min_delta=0': p2,
      'patience=5,min_delta=0': p5,
      'patience=10,min_delta=0': p10,
      'monitor=val_accuracy,patience=5,min_delta=0': P5_SAME,
  })


REGIME = _table(end=END_FLAT)
CASES = {
    0: {'supported': _table(),
        'contradicted': _table(p5=P5_SAME),
        'regime': REGIME},
    1: {'supported': _table(),
        'contradicted': _table(p5=P5_NEVER),
        'regime': REGIME},
    2: {'supported': _table(),
        'contradicted': _table(p2=P2_SAME),
        'regime': REGIME},
    3: {'supported': _table(),
        'contradicted': _table(p5=P5_SAME),
        'regime': REGIME},
}
