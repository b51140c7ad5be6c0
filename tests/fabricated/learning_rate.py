"""Fabricated tables for experiments/learning_rate.py (5 seeds a rate)."""
from dlexp import claims

DONE, DIVERGED, COLLAPSED = claims.DONE, claims.DIVERGED, claims.COLLAPSED
STEPS = 'steps to 0.8'
N = None  # never reached the target / no finite value


def _row(val, steps, loss_end, drop):
  return {'val acc @last': val, STEPS: steps, 'train loss @end': loss_end,
          'last-epoch drop': drop}


# As measured at the default size (79 steps an epoch), 5 seeds.
SMALL = _row([0.747, 0.741, 0.752, 0.744, 0.749], [N] * 5,
             [0.715, 0.731, 0.702, 0.722, 0.709],
             [0.021, 0.019, 0.023, 0.020, 0.022])
SMALL_FAST = _row([0.834, 0.831, 0.836, 0.830, 0.833],
                  [395, 316, 395, 474, 395],
                  [0.392, 0.394, 0.389, 0.395, 0.391],
                  [0.012, 0.011, 0.013, 0.012, 0.012])
# converged: the loss stopped falling, well above 0.01's
SMALL_STUCK = _row([0.747, 0.741, 0.752, 0.744, 0.749], [N] * 5,
                   [0.715, 0.731, 0.702, 0.722, 0.709],
                   [0.0011, 0.0008, 0.0014, 0.0009, 0.0012])
# converged at the same loss as 0.01
SMALL_SETTLED = _row([0.834, 0.831, 0.836, 0.830, 0.833],
                     [395, 316, 395, 474, 395],
                     [0.394, 0.389, 0.396, 0.391, 0.393],
                     [0.0011, 0.0008, 0.0014, 0.0009, 0.0012])
REF = _row([0.833, 0.835, 0.831, 0.834, 0.832], [395, 316, 474, 395, 395],
           [0.392, 0.390, 0.395, 0.393, 0.391],
           [0.012, 0.011, 0.013, 0.012, 0.012])
LARGE = _row([0.856, 0.858, 0.853, 0.857, 0.855], [158] * 5,
             [0.209, 0.205, 0.214, 0.207, 0.211],
             [0.008, 0.009, 0.007, 0.008, 0.008])
LARGE_SLOW = _row([0.833, 0.835, 0.831, 0.834, 0.832],
                  [395, 474, 316, 395, 316],
                  [0.392, 0.390, 0.395, 0.393, 0.391],
                  [0.012, 0.011, 0.013, 0.012, 0.012])
DEAD = _row([0.1052] * 5, [N] * 5, [N] * 5, [N] * 5)
REF_DEAD = _row([0.1] * 5, [N] * 5, [2.31] * 5, [0.0] * 5)


def _table(small=SMALL, ref=REF, large=LARGE, huge=DEAD,
           huge_status=(DIVERGED,) * 5, ref_status=(DONE,) * 5):
  rows = {'learning_rate=0.001': small, 'learning_rate=0.01': ref,
          'learning_rate=0.1': large, 'learning_rate=1': huge}
  status = {'learning_rate=1': list(huge_status),
            'learning_rate=0.01': list(ref_status)}
  return claims.fabricate(rows, status=status)


REGIME_REF = _table(ref=REF_DEAD, ref_status=(COLLAPSED,) * 5)
CASES = {
    0: {'supported': _table(),
        'contradicted': _table(large=LARGE_SLOW),
        'regime': REGIME_REF},
    1: {'supported': _table(),
        'contradicted': _table(huge=LARGE_SLOW, huge_status=(DONE,) * 5),
        'regime': REGIME_REF},
    2: {'supported': _table(),
        'contradicted': _table(small=SMALL_FAST),
        'regime': _table(small=SMALL_STUCK)},
    3: {'supported': _table(small=SMALL_STUCK),
        'contradicted': _table(small=SMALL_SETTLED),
        'regime': _table(small=SMALL)},
}
