#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The project's own flake8 checks (``[flake8:local-plugins]`` in setup.cfg).

GD901: one way of formatting strings.  Strings are formatted with
f-strings; logging calls take lazy ``%s`` arguments, formatted only when
the record is emitted.  The ``%`` operator on a string literal and
``'...'.format()`` are the two other ways, so they are flagged.

GD902: Glance is imported in glance_download/boundary/ only.  Everything
the plugin and its console scripts need from Glance goes through that
package's modules, so that a Glance upgrade touches it alone.  The unit
tests (tests/unit/) may import Glance too: they build their fakes from
Glance's own objects.  The tools and the functional tests may not: they
drive the test cloud from outside, as a user does.
"""

import ast
import os

GD901 = ('GD901: format strings with an f-string; logging calls take lazy '
         '%s arguments')
GD902 = ('GD902: import glance or glance_store in glance_download/boundary/ '
         'only; elsewhere use that package\'s modules')

# Glance's own packages (not glanceclient, nor this project's).
GLANCE_PACKAGES = ('glance', 'glance_store')
# Where they may be imported, as paths from the top of the repository.
GLANCE_ALLOWED = (('glance_download', 'boundary'), ('tests', 'unit'))


def _is_str_literal(node):
    # Implicitly concatenated literals are a single Constant in the AST.
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class FormatStringCheck:
    """GD901: ``'...' % args`` and ``'...'.format(...)``.

    Only a string literal on the left is formatting for certain: ``%`` on
    a number is modulo, and on a name could be either, so neither is
    flagged.  Bytes have no f-string, so ``b'...' % args`` is not flagged.
    """

    name = 'glance_download.hacking'
    version = '1.0'

    def __init__(self, tree):
        self.tree = tree

    def run(self):
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.BinOp)
                    and isinstance(node.op, ast.Mod)
                    and _is_str_literal(node.left)):
                yield (node.lineno, node.col_offset, GD901, type(self))
            elif (isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == 'format'
                    and _is_str_literal(node.func.value)):
                yield (node.lineno, node.col_offset, GD901, type(self))


def _is_glance(module):
    return any(module == name or module.startswith(name + '.')
               for name in GLANCE_PACKAGES)


def glance_allowed(filename):
    """Whether ``filename`` (from the top of the repository) may import Glance.

    flake8 runs from there (its configuration is setup.cfg's), and names
    files relative to it or absolutely.
    """
    parts = tuple(os.path.relpath(filename).split(os.sep))
    return any(parts[:len(allowed)] == allowed for allowed in GLANCE_ALLOWED)


class GlanceImportCheck:
    """GD902: ``import glance...`` or ``from glance... import`` elsewhere.

    Import statements only: a module named in a string, for importlib, is
    not followed.  Relative imports are this project's own.
    """

    name = 'glance_download.hacking'
    version = '1.0'

    def __init__(self, tree, filename):
        self.tree = tree
        self.filename = filename

    def run(self):
        if glance_allowed(self.filename):
            return
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            if any(_is_glance(module) for module in modules):
                yield (node.lineno, node.col_offset, GD902, type(self))
