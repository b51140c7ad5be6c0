"""Fabricated tables for experiments/init_schemes.py: the default grid (four
random initializers and 'constant' at bias 0 and 0.1; 'normal:0.01',
'normal:0.1' and 'constant:0.01' at bias 0; the shallow arm's He normal and
small normals), 8 seeds."""
from dlexp import claims

NOISE = (-0.004, 0.002, 0.0, 0.003, -0.001, 0.001, -0.002, 0.001)
INITS = ('he_normal', 'glorot_uniform', 'lecun_normal', 'orthogonal')
SMALL = ('normal', 0.01), ('normal', 0.1)
NUMBERED = SMALL + (('constant', 0.01),)
FIELD = {'normal': 'init_gain', 'constant': 'init_value'}
SHALLOW = 'hidden=100-100,'  # the shallow arm's trials set model.hidden


def _seeds(x, scale=1.0):
  if isinstance(x, (list, tuple)):
    return list(x)
  return [x + scale * d for d in NOISE]


def _row(val=0.85, test=0.84, dead=0.05, distinct=100.0, gain=0.004,
         spread=0.99, act=0.8):
  return {'val acc': _seeds(val), 'test acc': _seeds(test),
          'dead @end': _seeds(dead), 'distinct units L1': _seeds(distinct, 0),
          'spread L1': _seeds(spread, 0.1), 'val gain last 3': _seeds(gain),
          'act std first @init': _seeds(0.8), 'act std mid @init': _seeds(act),
          'act std last @init': _seeds(act)}


def _name(init, bias, number=None, arm=''):
  given = f',{FIELD[init]}={number:g}' if number is not None else ''
  return f'{arm}kernel_init={init}{given},bias_init={bias:g}'


# What each trial is unless a table changes it: 'constant' (one He draw)
# collapses; N(0, 0.01^2) collapses in the deep net (its signal vanishes)
# and trains in the shallow one; constant 0.01 learns a little.
COLLAPSED = 'collapsed'
AT_CHANCE = dict(val=0.094, test=0.10, dead=0.5, act=0.0)
DEFAULTS = {
    _name('constant', 0.0): dict(AT_CHANCE, distinct=1.0, spread=0.0),
    _name('constant', 0.1): dict(AT_CHANCE, distinct=1.0, spread=0.0),
    _name('normal', 0.0, 0.01): dict(AT_CHANCE, dead=0.0, act=1e-20),
    _name('normal', 0.0, 0.1): dict(act=0.002),
    _name('constant', 0.0, 0.01): dict(val=0.35, test=0.34, distinct=1.0,
                                       spread=0.0, act=0.5),
    _name('he_normal', 0.0, arm=SHALLOW): dict(val=0.86, test=0.85),
    _name('normal', 0.0, 0.01, SHALLOW): dict(val=0.86, test=0.85,
                                              act=0.006),
    _name('normal', 0.0, 0.1, SHALLOW): dict(val=0.86, test=0.85, act=0.5),
}
AT_CHANCE_BY_DEFAULT = (_name('constant', 0.0), _name('constant', 0.1),
                        _name('normal', 0.0, 0.01))


def _names():
  deep = [_name(i, b) for i in INITS + ('constant',) for b in (0.0, 0.1)]
  deep += [_name(i, 0.0, x) for i, x in NUMBERED]
  shallow = [_name('he_normal', 0.0, arm=SHALLOW)] + [
      _name(i, 0.0, x, SHALLOW) for i, x in SMALL]
  return deep + shallow


def table(changes=None, collapsed=AT_CHANCE_BY_DEFAULT):
  """The grid; `changes` = {trial name: dict of _row's fields}; the trials
  in `collapsed` end every seed at chance."""
  rows, status = {}, {}
  for name in _names():
    fields = dict(DEFAULTS.get(name, {}))
    fields.update((changes or {}).get(name, {}))
    rows[name] = _row(**fields)
    if name in collapsed:
      status[name] = [COLLAPSED] * len(NOISE)
  return claims.fabricate(rows, status=status, exact=('distinct units L1',))


def _bias(changes):
  """{(init, bias): fields} as {trial name: fields} (the deep arm)."""
  return {_name(i, b): f for (i, b), f in changes.items()}


# Bias 0.1 cuts the dead units for three initializers, not for He.
FEWER_DEAD = {(i, 0.1): dict(dead=0.08) for i in INITS[1:]}
FEWER_DEAD.update({(i, 0.0): dict(dead=0.13) for i in INITS[1:]})
KEEP_CONSTANT = (_name('constant', 0.0), _name('constant', 0.1))
# No std trains at either depth: every small-normal seed ends at chance.
SMALL_TRIALS = [_name('normal', 0.0, x, arm) for x in (0.01, 0.1)
                for arm in ('', SHALLOW)]
NONE_TRAIN = {t: dict(AT_CHANCE) for t in SMALL_TRIALS}
COPIES = {t: dict(distinct=1.0, spread=0.001) for t in SMALL_TRIALS}
# Every small std trains at both depths, but units stay copies: symmetry.
COPIES[_name('normal', 0.0, 0.01)].update(val=0.85, test=0.84, act=0.002)
CONST_001 = _name('constant', 0.0, 0.01)
CASES = {
    # one shared value (0.01, scale kept): copies of one unit, and stuck
    # far below He normal
    0: {'supported': table(),
        # copies, but it learns as well as He normal: not stuck
        'contradicted': table({CONST_001: dict(val=0.84, test=0.83)}),
        # as far below He, but the units are distinct: not symmetry
        'inconclusive': table({CONST_001: dict(distinct=100.0,
                                               spread=0.99)}),
        'regime': table({_name('he_normal', 0.0): dict(val=0.10, test=0.10)})},
    # small random values: symmetry broken AND the network trains, any case
    1: {'supported': table(),  # deep 0.01 fails; the other cases train
        'contradicted': table(NONE_TRAIN, collapsed=KEEP_CONSTANT + tuple(
            SMALL_TRIALS)),
        # every case trains but its units stay copies
        'inconclusive': table(COPIES, collapsed=KEEP_CONSTANT),
        'regime': table({_name('he_normal', 0.0, arm=SHALLOW):
                         dict(val=0.10, test=0.10)})},
    # bias 0.1: fewer dead units for some random initializer
    2: {'supported': table(_bias(FEWER_DEAD)),
        'contradicted': table(),
        'regime': table(_bias({(i, b): dict(gain=0.03) for i in INITS
                               for b in (0.0, 0.1)}))},
    # bias 0: not worse than bias 0.1 by more than 1 point, every init
    3: {'supported': table(),
        'contradicted': table(_bias({(i, 0.0): dict(test=0.79)
                                     for i in INITS})),
        'regime': table(_bias({(i, 0.0): dict(val=0.10, test=0.10)
                               for i in INITS}))},
}
