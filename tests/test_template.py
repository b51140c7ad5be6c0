"""The guide's template (docs/WRITING_AN_ABLATION.md) runs: its smoke size
trains from Python and gives its table and verdicts, a bad list value is one
line, its rules reach their verdicts, and the guide shows the file as it is."""
import os
import re

import pytest

from conftest import assert_one_line_error, run_cli
from dlexp import claims, findings
from dlexp.errors import DlexpError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, 'docs', 'examples')
TEMPLATE = os.path.join(EXAMPLES, 'label_smoothing.py')
GUIDE = os.path.join(ROOT, 'docs', 'WRITING_AN_ABLATION.md')
NONE, SMOOTHED = 'label_smoothing=0', 'label_smoothing=0.1'


@pytest.fixture(scope='module')
def template():
  return findings.load_script('label_smoothing', EXAMPLES)


def test_template_runs_at_smoke_size(template, tmp_path, capsys):
  result = template.run(workdir=str(tmp_path / 'runs'), size='smoke')
  assert result.evidence.trials == [NONE, SMOOTHED]
  # 0.0 finds the trial named label_smoothing=0, as the guide says.
  assert result.evidence.trial(label_smoothing=0.0) == NONE
  lines = result.table.splitlines()
  assert lines[0] == '| trial | seeds | val acc | test acc | ECE | status |'
  for trial in (NONE, SMOOTHED):
    assert re.search(rf'^\| {re.escape(trial)} \| 2 \| .* \| '
                     r'\d\.\d{3} ± \d\.\d{3} \| done \|$', result.table, re.M)
    ece = result.evidence.column(trial, 'ECE')  # the final hook's numbers
    assert len(ece) == 2 and all(0 <= v <= 1 for v in ece), ece
  assert len(result.verdicts) == len(template.CLAIMS) == 2
  for v in result.verdicts:  # the rule ran (regime reached) and gave one
    assert v['verdict'] in claims.VERDICTS and v['regime_ok'], v
    assert v['form'].startswith('smoothing 0.1 '), v
    assert v['outside'] == 'your hypothesis'
  out = capsys.readouterr().out
  assert 'Claims from outside the notes, decided' in out
  assert "The notes' claims" not in out
  assert os.path.isfile(result.record)


def test_a_bad_smoothing_is_refused_before_training(template, tmp_path):
  with pytest.raises(DlexpError, match=r"--smoothings: 'abc' is not a float"):
    template.run(workdir=str(tmp_path / 'py'), smoothings=['0', 'abc'])
  with pytest.raises(DlexpError, match='--smoothings needs at least one'):
    template.run(workdir=str(tmp_path / 'py'), smoothings=[])
  assert not (tmp_path / 'py').exists()
  proc = run_cli([TEMPLATE, '--smoothings=0,abc',
                  f'--workdir={tmp_path / "cli"}'], timeout=120)
  assert_one_line_error(proc, r"--smoothings: 'abc' is not a float")


def _table(ece_smoothed, test_smoothed, val_none=(0.85,) * 5):
  return claims.fabricate({
      NONE: {'val acc': val_none, 'test acc': [0.851, 0.853, 0.849, 0.852,
                                               0.850],
             'ECE': [0.040, 0.042, 0.038, 0.041, 0.039]},
      SMOOTHED: {'val acc': [0.85] * 5, 'test acc': test_smoothed,
                 'ECE': ece_smoothed}})


CALIBRATED = [0.012, 0.014, 0.010, 0.013, 0.011]  # 0.028 below: beyond 0.01
WORSE = [0.060, 0.062, 0.058, 0.061, 0.059]
SAME_ACC = [0.852, 0.850, 0.851, 0.849, 0.853]
LOST_ACC = [0.821, 0.823, 0.819, 0.822, 0.820]


@pytest.mark.parametrize('index,table,want', [
    (0, _table(CALIBRATED, SAME_ACC), claims.SUPPORTED),
    (0, _table(WORSE, SAME_ACC), claims.CONTRADICTED),
    (1, _table(CALIBRATED, SAME_ACC), claims.SUPPORTED),
    (1, _table(CALIBRATED, LOST_ACC), claims.CONTRADICTED),
    (0, _table(CALIBRATED, SAME_ACC, val_none=[0.1] * 5), 'regime'),
    (1, _table(CALIBRATED, SAME_ACC, val_none=[0.1] * 5), 'regime'),
])
def test_the_rules_reach_their_verdicts(template, index, table, want):
  (got,) = claims.evaluate([template.CLAIMS[index]], table)
  if want == 'regime':
    assert got['verdict'] == claims.INCONCLUSIVE, got
    assert got['evidence'].startswith('regime not reached'), got
  else:
    assert got['verdict'] == want, got


def test_the_guide_shows_the_template_as_it_is():
  with open(GUIDE) as f:
    guide = f.read()
  with open(TEMPLATE) as f:
    code = f.read()
  shown = re.search(r'<!-- template: docs/examples/label_smoothing\.py[^\n]*'
                    r'\n```python\n(.*?)```\n', guide, re.S)
  assert shown, 'the guide lost its template block'
  assert shown.group(1) == code, (
      'docs/WRITING_AN_ABLATION.md and docs/examples/label_smoothing.py '
      'differ: paste the file into the guide')
  with open(os.path.join(ROOT, 'README.md')) as f:
    assert '(docs/WRITING_AN_ABLATION.md)' in f.read()
