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
"""

import ast

GD901 = ('GD901: format strings with an f-string; logging calls take lazy '
         '%s arguments')


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
