"""Fabricated tables for experiments/init_schemes.py: the default grid (four
random initializers and 'constant', bias 0 and 0.1), 5 seeds."""
from dlexp import claims

NOISE = (-0.004, 0.002, 0.0, 0.003, -0.001)
INITS = ('he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal')


def _seeds(x, scale=1.0):
  if isinstance(x, (list, tuple)):
    return list(x)
  return [x + scale * d for d in NOISE]


def _row(val=0.85, test=0.84, dead=0.05, distinct=100.0, gain=0.004):
  return {'val acc': _seeds(val), 'test acc': _seeds(test),
          'dead @end': _seeds(dead), 'distinct units L1': _seeds(distinct, 0),
          'val gain last 3': _seeds(gain)}


def _name(init, bias):
  return f'kernel_init={init},bias_init={bias:g}'


def table(changes=None, collapsed=('constant',)):
  """The grid; `changes` = {(init, bias): dict of _row's fields}; the inits
  in `collapsed` end every seed at chance."""
  rows, status = {}, {}
  for init in INITS + ('constant',):
    for bias in (0.0, 0.1):
      fields = dict(val=0.094, test=0.10, dead=0.5, distinct=1.0) if (
          init == 'constant') else {}
      fields.update((changes or {}).get((init, bias), {}))
      rows[_name(init, bias)] = _row(**fields)
      if init in collapsed:
        status[_name(init, bias)] = ['collapsed'] * 5
  return claims.fabricate(rows, status=status, exact=('distinct units L1',))


# Bias 0.1 cuts the dead units for three initializers, not for He.
FEWER_DEAD = {(i, 0.1): dict(dead=0.08) for i in INITS[1:]}
FEWER_DEAD.update({(i, 0.0): dict(dead=0.13) for i in INITS[1:]})
CASES = {
    # one shared value: copies of one unit, and stuck at chance
    0: {'supported': table(),
        'contradicted': table(
            {('constant', b): dict(val=0.80, test=0.79, dead=0.1,
                                   distinct=100.0) for b in (0.0, 0.1)},
            collapsed=()),
        'regime': table({('he_normal', 0.0): dict(val=0.10, test=0.10)})},
    # bias 0.1: fewer dead units for some random initializer
    1: {'supported': table(FEWER_DEAD),
        'contradicted': table(),
        'regime': table({(i, b): dict(gain=0.03) for i in INITS
                         for b in (0.0, 0.1)})},
    # bias 0: not worse than bias 0.1 by more than 1 point, every init
    2: {'supported': table(),
        'contradicted': table({(i, 0.0): dict(test=0.79) for i in INITS}),
        'regime': table({(i, 0.0): dict(val=0.10, test=0.10)
                         for i in INITS})},
}
