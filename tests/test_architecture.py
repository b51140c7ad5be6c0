"""docs/ARCHITECTURE.md names only what exists, and the code keeps the
shape it describes: short functions, flags read by the command line only."""
import ast
import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = (ROOT / 'docs' / 'ARCHITECTURE.md').read_text()
NAMES = sorted(set(re.findall(r'`(dlexp(?:\.\w+)+)`', DOC)))


def _resolve(dotted: str):
  """The object `dotted` names: the longest importable module prefix, then
  attributes."""
  parts = dotted.split('.')
  for cut in range(len(parts), 0, -1):
    try:
      obj = importlib.import_module('.'.join(parts[:cut]))
    except ModuleNotFoundError:
      continue
    for attr in parts[cut:]:
      obj = getattr(obj, attr)
    return obj
  raise ModuleNotFoundError(dotted)


def test_the_page_names_enough_of_the_loop():
  assert len(NAMES) >= 30, NAMES


@pytest.mark.parametrize('name', NAMES)
def test_every_name_on_the_page_exists(name):
  _resolve(name)  # AttributeError / ModuleNotFoundError: the page is stale


def _functions(path: pathlib.Path):
  tree = ast.parse(path.read_text())
  for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_in_dlexp_is_over_60_lines():
  long = [f'{p.relative_to(ROOT)}:{line} {name} ({n} lines)'
          for p in sorted((ROOT / 'dlexp').rglob('*.py'))
          for name, line, n in _functions(p) if n > 60]
  assert not long, '\n'.join(long)


def test_only_the_command_line_reads_flags():
  readers = [str(p.relative_to(ROOT))
             for p in sorted((ROOT / 'dlexp').rglob('*.py'))
             if re.search(r'\bFLAGS\b', p.read_text())
             and p.name != 'cli.py']
  assert not readers, readers
