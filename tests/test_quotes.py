"""Every claim quotes the notes verbatim ('...' elisions only), under the
notes' own labels: file, then Q<n> (questions), G<n> / K<n> (004's theory
and Keras groups), or for 002, whose first assignment copies 000's
questions, A6 Q<n> / A6 PA (its assignment 6 and practical assignment). Claims from outside
the notes say where they are from instead. Reads ../shared/seeds where
present; skips elsewhere."""
import glob
import os
import re

import pytest

from dlexp import findings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(os.path.dirname(ROOT), 'shared', 'seeds')
SCRIPTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(ROOT, 'experiments', '*.py')))
LABEL = re.compile(r'(00[0-4]) (A6 Q\d+|A6 PA|Q\d+|G\d+|K\d+)')
A6_START = 'Assignment No.: 6'
KERAS_START = 'Group 1: Building a Simple Neural Network'


def normalize(text: str) -> str:
  """Markdown emphasis, headings and escapes out; one space between words;
  typographic quotes as plain ones."""
  text = text.replace('\u2019', "'").replace('\u2018', "'")
  text = text.replace('\u201c', '"').replace('\u201d', '"')
  text = re.sub(r'[*#\\]', '', text)
  return re.sub(r'\s+', ' ', text).strip()


def notes(file_id: str) -> str:
  (path,) = glob.glob(os.path.join(SEEDS, f'{file_id}_*.txt'))
  with open(path, encoding='utf-8') as f:
    return normalize(f.read())


def in_order(quote: str, text: str) -> bool:
  at = 0
  for fragment in (normalize(f) for f in quote.split('...')):
    if not fragment:
      continue
    found = text.find(fragment, at)
    if found < 0:
      return False
    at = found + len(fragment)
  return True


def test_in_order_finds_elided_fragments_and_rejects_others():
  text = normalize('The **ELU** function ensures all\nneurons remain active.')
  assert in_order('ELU ... ensures all neurons remain active', text)
  assert not in_order('neurons remain active ... ELU', text)
  assert not in_order('ELU ... [always] active', text)


@pytest.mark.skipif(not os.path.isdir(SEEDS), reason='no ../shared/seeds')
@pytest.mark.parametrize('script', SCRIPTS)
def test_quotes_are_the_notes_words(script):
  for claim in findings.load_script(script).CLAIMS:
    if claim.outside:
      assert claim.tested_as, claim
      continue
    m = LABEL.fullmatch(claim.source)
    assert m, f'{script}: label {claim.source!r} is not the notes\' own'
    assert '[' not in claim.quote, f'{script}: bracketed words in a quote'
    assert claim.tested_as, f'{script}: {claim.quote!r} lacks tested_as'
    text = notes(m.group(1))
    assert (m.group(1) == '002') == m.group(2).startswith('A6'), (
        f'{script}: {claim.source!r}: 002\'s labels name assignment 6 (A6), '
        'and only 002\'s')
    if m.group(1) == '002':
      text = text[text.index(normalize(A6_START)):]
    if m.group(1) == '004':
      split = text.index(normalize(KERAS_START))
      text = text[:split] if m.group(2)[0] == 'G' else text[split:]
    assert in_order(claim.quote, text), (
        f'{script}: {claim.source} quote not found in the notes in this '
        f'order: {claim.quote!r}')
