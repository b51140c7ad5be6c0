"""Fabricated tables for experiments/momentum.py (5 seeds a trial)."""
from dlexp import claims

DONE, COLLAPSED, DIVERGED = claims.DONE, claims.COLLAPSED, claims.DIVERGED
HI, USUAL = 'momentum=0.99999,nesterov=False', 'momentum=0.9,nesterov=False'
# The matched-step pass: 0.99999 at the rate giving 0.9's lr/(1-m).
HI_MATCHED = 'momentum=0.99999,nesterov=False,learning_rate=1e-06'


def _row(loss_end, val_last, climbed=(0.0,) * 5, reversals=(0.1,) * 5,
         ups=(0.05,) * 5, lowest=(15.0,) * 5, worse=None):
  return {'train loss @end': loss_end, 'val acc @last': val_last,
          'climbed': climbed, 'reversals': reversals, 'ups': ups,
          'lowest @ep': lowest, 'gain @end': [0.0012] * 5,
          'loss/uniform': worse or [x / 2.3026 for x in loss_end]}


# momentum 0.9 as measured: converging, lowest at the last epoch
USUAL_ROW = _row([0.192, 0.185, 0.201, 0.188, 0.196],
                 [0.857, 0.861, 0.852, 0.858, 0.855],
                 reversals=[0.0, 0.08, 0.0, 0.0, 0.08],
                 ups=[0.0, 0.07, 0.0, 0.0, 0.07])
# 0.99999 converging, slowly (and bouncing near its minimum)
SLOW_ROW = _row([0.412, 0.398, 0.431, 0.405, 0.420],
                [0.832, 0.829, 0.836, 0.827, 0.834],
                reversals=[0.38, 0.46, 0.31, 0.54, 0.42],
                ups=[0.29, 0.36, 0.21, 0.43, 0.36], lowest=[14, 15, 13, 15, 14])
# 0.99999 converging about as fast and as smoothly as 0.9
SAME_ROW = _row([0.1925, 0.1930, 0.1920, 0.1928, 0.1922],
                [0.856, 0.859, 0.853, 0.857, 0.856],
                reversals=[0.0, 0.0, 0.08, 0.0, 0.0],
                ups=[0.0, 0.0, 0.07, 0.0, 0.0])
# 0.99999 as measured at lr 0.01: climbs above the uniform guess, at chance
CLIMBED_ROW = _row([2.69, 2.45, 2.93, 2.61, 2.77],
                   [0.102, 0.098, 0.106, 0.100, 0.103],
                   climbed=[1.0] * 5, lowest=[2.0] * 5,
                   reversals=[0.41, 0.15, 0.69, 0.38, 0.46])


def _two(high, status_high=(DONE,) * 5, usual=USUAL_ROW,
         status_usual=(DONE,) * 5, matched=None, status_matched=(DONE,) * 5):
  """0.9 and 0.99999 at the configured rate; 0.99999 at the matched step
  as `matched` (default: like `high`)."""
  return claims.fabricate(
      {USUAL: usual, HI: high, HI_MATCHED: matched or high},
      status={USUAL: list(status_usual), HI: list(status_high),
              HI_MATCHED: list(status_matched if matched else status_high)})


def _grid(accs, collapsed=()):
  """Heavy-ball momenta with the given last-epoch val accuracies, each at
  the matched step (0.9 at the configured rate), and the same at the
  configured rate."""
  table, status = {}, {}
  for m, acc in accs.items():
    names = [f'momentum={m},nesterov=False']
    if m != 0.9:
      names.append(f'momentum={m},nesterov=False,'
                   f'learning_rate={0.1 * (1 - m):.6g}')
    for name in names:
      table[name] = _row([0.3] * 5, acc)
      status[name] = [COLLAPSED] * 5 if m in collapsed else [DONE] * 5
  return claims.fabricate(table, status=status)


BASE = {0: [0.833, 0.831, 0.836, 0.830, 0.834],
        0.5: [0.843, 0.845, 0.841, 0.846, 0.842],
        0.9: [0.857, 0.861, 0.852, 0.858, 0.855],
        0.99: [0.848, 0.852, 0.845, 0.849, 0.851],
        0.999: [0.104, 0.103, 0.104, 0.104, 0.103],
        0.99999: [0.102, 0.098, 0.106, 0.100, 0.103]}

CASES = {
    # Slow convergence at one rate: slower than 0.9, or as fast; regime:
    # 0.99999 climbed away (the matched-step arm is not judged).
    0: {'supported': _two(SLOW_ROW, matched=CLIMBED_ROW),
        'contradicted': _two(SAME_ROW, matched=CLIMBED_ROW),
        'regime': _two(CLIMBED_ROW, status_high=[COLLAPSED] * 5,
                       matched=SLOW_ROW)},
    1: {'supported': _two(SLOW_ROW),
        'contradicted': _two(SAME_ROW),
        'regime': _two(CLIMBED_ROW, status_high=[COLLAPSED] * 5)},
    2: {'supported': _two(CLIMBED_ROW, status_high=[COLLAPSED] * 5),
        'contradicted': _two(SAME_ROW),
        'regime': _two(CLIMBED_ROW, status_high=[COLLAPSED] * 5,
                       usual=CLIMBED_ROW, status_usual=[COLLAPSED] * 5)},
    3: {'supported': _grid(BASE, collapsed=(0.999, 0.99999)),
        # a grid of 0.5, 0.9, 0.99 where 0.5 is two points better than both
        # (with the whole grid it would be 'depends': the range still beats
        # 0, 0.999 and 0.99999)
        'contradicted': _grid({0.5: [0.871, 0.874, 0.869, 0.873, 0.872],
                               0.9: BASE[0.9], 0.99: BASE[0.99]}),
        'regime': _grid({m: [0.1, 0.1, 0.1, 0.1, 0.1] for m in BASE},
                        collapsed=tuple(BASE))},
}
