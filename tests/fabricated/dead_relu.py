"""Fabricated tables for experiments/dead_relu.py: the default grid (sweep
0.003..0.1, contrasts at 0.01 and 0.03), 5 seeds, realistic numbers."""
from dlexp import claims

NOISE = (-0.004, 0.002, 0.0, 0.003, -0.001)
SWEEP = (0.003, 0.01, 0.03, 0.1)
CONTRASTS = ('init_gain=1.1', 'bias_init=0.1', 'bias_init=-0.1',
             'activation=leaky_relu')


def _seeds(x, scale=1.0):
  """Five per-seed values around x (a list is taken as it is)."""
  if isinstance(x, (list, tuple)):
    return list(x)
  return [None if x is None else x + scale * d for d in NOISE]


def _row(test=0.81, init=0.13, ep1=0.09, val1=0.55, peak=0.13, end=0.05,
         never=None, gain=0.004, died=60.0, recovered=70.0, died1=0.0,
         recovered1=0.0):
  recovered = _seeds(recovered, 100)
  return {'test acc': _seeds(test), 'dead @init': _seeds(init),
          'dead @ep1': _seeds(ep1), 'val acc @ep1': _seeds(val1),
          'dead peak': _seeds(peak), 'dead @end': _seeds(end),
          'never-pos @end': _seeds(end if never is None else never),
          'val gain last 3': _seeds(gain),
          'died': _seeds(died, 1000), 'recovered %': recovered,
          'stayed dead %': [None if r is None else 100.0 - r
                            for r in recovered],
          'died L1': _seeds(died1), 'recovered L1': _seeds(recovered1)}


def table(**changes):
  """The grid with rows changed: changes = {trial name: dict of _row's
  fields}, and status={trial name: [per-seed status]}."""
  status = changes.pop('status', {})
  rows = {f'learning_rate={lr:g}': _row() for lr in SWEEP}
  for lr in (0.01, 0.03):
    for c in CONTRASTS:
      rows[f'{c},learning_rate={lr:g}'] = _row()
  for trial, fields in changes.items():
    rows[trial] = _row(**fields)
  return claims.fabricate(rows, status=status)


HIGH = {'test': 0.50, 'peak': 0.40, 'end': 0.30}  # lr 0.03: many died
DIVERGED = ['diverged'] * 5


def T(lr, contrast=''):
  """The trial name: the learning rate, after the contrast if any."""
  name = f'learning_rate={lr:g}'
  return f'{contrast},{name}' if contrast else name


CASES = {
    # negative input combined with a high learning rate: bias -0.1 against
    # 0, dead after epoch 1, at a high rate where no seed diverged by then
    0: {'supported': table(**{T(0.03): dict(HIGH, ep1=0.165),
                              T(0.03, 'bias_init=-0.1'): dict(
                                  ep1=0.32, val1=0.25, peak=0.37)}),
        'contradicted': table(**{T(0.03): dict(HIGH, ep1=0.165),
                                 T(0.03, 'bias_init=-0.1'): dict(
                                     HIGH, ep1=0.165)}),
        # diverged before epoch 1: no dead fraction after it to compare
        'regime': table(**{T(0.03): dict(HIGH, ep1=0.165),
                           T(0.03, 'bias_init=-0.1'): dict(
                               ep1=[None] * 5, val1=[None] * 5, peak=0.37),
                           'status': {T(0.03, 'bias_init=-0.1'): DIVERGED}})},
    # gain 1.1: dead after epoch 1
    1: {'supported': table(**{T(0.01, 'init_gain=1.1'): dict(ep1=0.29)}),
        'contradicted': table(),
        'regime': table(**{T(0.003): dict(test=0.10),
                           T(0.01, 'init_gain=1.1'): dict(ep1=0.29)})},
    # bias 0.1: fewer dead at the end, converged runs
    2: {'supported': table(**{T(0.01, 'bias_init=0.1'): dict(end=0.02)}),
        'contradicted': table(),
        'regime': table(**{T(0.01, 'bias_init=0.1'): dict(end=0.02,
                                                          gain=0.03),
                           T(0.01): dict(gain=0.04)})},
    # some units that died never recover: the share still dead at the end
    3: {'supported': table(),  # 30% of those that died stay dead
        'contradicted': table(**{T(lr): dict(recovered=99.0)
                                 for lr in SWEEP}),
        'regime': table(**{T(lr): dict(gain=0.03) for lr in SWEEP})},
    # leaky ReLU at the highest contrast rate
    4: {'supported': table(**{
            T(0.03): dict(HIGH, test=[None] * 5),
            T(0.03, 'activation=leaky_relu'): dict(test=0.60, end=0.0),
            'status': {T(0.03): DIVERGED}}),
        'contradicted': table(**{
            T(0.03): HIGH, T(0.03, 'activation=leaky_relu'): dict(test=0.50)}),
        'regime': table(**{
            T(0.03): dict(test=[None] * 5),
            T(0.03, 'activation=leaky_relu'): dict(test=0.60),
            'status': {T(0.03): DIVERGED}})},
}
