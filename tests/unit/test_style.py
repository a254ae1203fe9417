"""The code follows pycodestyle and pyflakes (flake8, setup.cfg)."""

import os
import subprocess
import sys
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The Python scripts without a .py suffix, which flake8 would not find.
SCRIPTS = ('tools/cloud', 'tools/bench', 'tools/bench-copy', 'tools/demo')


class StyleTest(unittest.TestCase):

    def test_flake8_finds_nothing(self):
        result = subprocess.run(
            [sys.executable, '-m', 'flake8', '.'] + list(SCRIPTS),
            cwd=REPO, capture_output=True, text=True, timeout=300)
        self.assertEqual('', result.stdout + result.stderr)
        self.assertEqual(0, result.returncode)
