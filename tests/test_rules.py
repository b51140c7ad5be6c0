"""Every claim of every experiment script can fail: fabricated tables
(tests/fabricated/<script>.py) drive each rule to SUPPORTED and to
CONTRADICTED (an existence claim to INCONCLUSIVE), and a failed precondition
to 'regime not reached'. No training: seconds for all scripts."""
import glob
import importlib
import os

import pytest

from dlexp import claims, findings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(ROOT, 'experiments', '*.py')))


def _cases(script):
  try:
    return importlib.import_module(f'fabricated.{script}').CASES
  except ModuleNotFoundError:
    return {}


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_claim_reaches_both_verdicts(script):
  module = findings.load_script(script)
  cases = _cases(script)
  missing = [i for i in range(len(module.CLAIMS)) if i not in cases]
  assert not missing, (f'{script}: claims {missing} have no fabricated '
                       'tables in tests/fabricated/')
  for i, claim in enumerate(module.CLAIMS):
    case = cases[i]
    want = {'supported': claims.SUPPORTED,
            'contradicted': (claims.INCONCLUSIVE if claim.existence
                             else claims.CONTRADICTED)}
    for name, verdict in want.items():
      (got,) = claims.evaluate([claim], case[name])
      assert got['verdict'] == verdict, (script, i, claim.quote, name, got)
    # A table named for another verdict ('depends', ...) reaches it too.
    for name in set(case) & set(claims.VERDICTS) - set(want):
      (got,) = claims.evaluate([claim], case[name])
      assert got['verdict'] == name, (script, i, claim.quote, name, got)
    if 'regime' in case:
      (got,) = claims.evaluate([claim], case['regime'])
      assert got['verdict'] == claims.INCONCLUSIVE, (script, i, got)
      assert got['evidence'].startswith('regime not reached'), got
    else:
      assert not claim.regime, (f'{script} claim {i} has a regime but no '
                                'fabricated table that fails it')
