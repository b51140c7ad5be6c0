"""The package's import structure: no cycle (counting imports inside
functions too: a cycle hidden in a function is still one), config.py below
the engine, and no import inside a function without a stated reason.

Read from the source with `ast` (no module is imported), so it takes
milliseconds and sees every import, wherever it is written.
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'dlexp'


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _targets(node: ast.AST, here: str):
  """dlexp modules an import statement loads (a `from x import y` counts y
  when y is itself a module)."""
  if isinstance(node, ast.Import):
    return [a.name for a in node.names if a.name.startswith('dlexp')]
  if not isinstance(node, ast.ImportFrom):
    return []
  base = node.module or ''
  if node.level:  # relative: resolve against this module's package
    package = here.split('.')[:-node.level + (here in _PACKAGES)]
    base = '.'.join(package + ([base] if base else []))
  if not base.startswith('dlexp'):
    return []
  out = [base]
  out += [f'{base}.{a.name}' for a in node.names
          if f'{base}.{a.name}' in MODULES]
  return out


_PACKAGES = {_module_name(p) for p in PACKAGE.rglob('__init__.py')}


def _imports(name: str):
  """(target, line, inside a function, the line's text) of every dlexp
  import in module `name`."""
  source = MODULES[name].read_text()
  tree = ast.parse(source)
  lines = source.splitlines()
  found = []

  def visit(node, in_function):
    for child in ast.iter_child_nodes(node):
      inner = in_function or isinstance(
          child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
      for target in _targets(child, name):
        found.append((target, child.lineno, in_function,
                      lines[child.lineno - 1]))
      visit(child, inner)
  visit(tree, False)
  return found


def _graph():
  """module -> the dlexp modules it imports; a package's import of its
  own submodule (dlexp.x importing dlexp) counts only as that submodule."""
  graph = {}
  for name in MODULES:
    graph[name] = {t for t, *_ in _imports(name)
                   if t in MODULES and t != name and not name.startswith(
                       t + '.')}
  return graph


def _cycle(graph):
  """One import cycle as a list of modules, or None (depth-first search)."""
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        found = visit(nxt)
        if found:
          return found
    state[node] = 'done'
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_the_cycle_finder_finds_a_cycle():
  assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None


def test_no_import_cycle_in_dlexp():
  assert len(MODULES) > 40  # the walk found the package
  cycle = _cycle(_graph())
  assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_config_imports_nothing_of_the_engine():
  engine = [t for t, *_ in _imports('dlexp.config')
            if t.startswith('dlexp.train')]
  assert not engine, engine


def _function_imports(path: pathlib.Path):
  """(line, text) of every import statement written inside a function."""
  source = path.read_text()
  lines = source.splitlines()
  found = []

  def visit(node, in_function):
    for child in ast.iter_child_nodes(node):
      if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
        found.append((child.lineno, lines[child.lineno - 1]))
      visit(child, in_function or isinstance(
          child, (ast.FunctionDef, ast.AsyncFunctionDef)))
  visit(ast.parse(source), False)
  return found, lines


def test_every_import_inside_a_function_says_why():
  """An import written inside a function keeps a heavy or optional module
  off a light path; it must say which: a comment on its line beyond the
  pylint marker, or on the line above."""
  silent = []
  for path in MODULES.values():
    found, lines = _function_imports(path)
    for line, text in found:
      comment = text.split('#', 1)[1] if '#' in text else ''
      reason = comment.replace('pylint: disable=g-import-not-at-top', '')
      above = line - 2  # a comment may head a run of such imports
      while above >= 0 and lines[above].strip().startswith(('import ',
                                                            'from ')):
        above -= 1
      headed = above >= 0 and lines[above].strip().startswith('#')
      if not reason.strip(' ;') and not headed:
        silent.append(f'{path.relative_to(ROOT)}:{line}: {text.strip()}')
  assert not silent, f'{len(silent)} silent:\n' + '\n'.join(silent)
