"""docs/COVERAGE.md: every question of the notes has a claim or a reason,
every claim's label is a question, and the file is current."""
import os
import re

from dlexp import coverage, findings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_coverage_is_current_and_complete():
  found = coverage.claims_by_label(findings.EXPERIMENTS_DIR)
  assert coverage.problems(found) == []
  with open(os.path.join(ROOT, 'docs', 'COVERAGE.md')) as f:
    assert f.read() == coverage.build(found), (
        'run: python -m dlexp.coverage --write docs/COVERAGE.md')


def test_no_claim_text_has_an_unfilled_placeholder():
  # A '{_PROXY}' in a literal without its f prefix reached FINDINGS once.
  found = coverage.claims_by_label(findings.EXPERIMENTS_DIR)
  for label, cs in found.items():
    for script, c in cs:
      for field in ('quote', 'tested_as'):
        hole = re.search(r'\{[A-Za-z_][A-Za-z0-9_.]*(:[^}]*)?\}', c[field])
        assert not hole, (script, label, field, hole.group(0))


def test_problems_names_a_stray_label_and_an_uncovered_question():
  found = {'000 Q9': [('s', dict(quote='q', tested_as='t', outside='',
                                 existence=False))]}
  got = coverage.problems(found)
  assert "s: label '000 Q9' is no question of the notes" in got
  assert '000 Q1: no claim and no reason in WHY_NOT' in got
