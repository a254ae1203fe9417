"""glance-download-status, run with a region's real glance-api.conf."""

import json
import os
import subprocess

from tests.functional import base


class StatusCommandTest(base.FunctionalTest):

    def status(self, region):
        command = [os.path.join(self.env['venv'], 'bin',
                                'glance-download-status'), '--json',
                   '--config-file', self.env['regions'][region]['config']]
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
        report = json.loads(result.stdout)
        return result.returncode, {c['name']: c for c in report['checks']}

    def test_ready_region(self):
        code, checks = self.status('REGION2')
        self.assertEqual(0, code, checks)
        self.assertIn('glance_download.plugin:get_flow',
                      checks['implementation']['summary'])
        self.assertEqual('ok', checks['staging']['status'])
        self.assertIn(self.env['regions']['REGION2']['staging'],
                      checks['staging']['summary'])
        self.assertIn('REGION1, REGION2, REGION3',
                      checks['regions']['summary'])
        output = json.dumps(checks)
        for user in self.env['users'].values():
            self.assertNotIn(user['password'], output)

    def test_region_without_the_method(self):
        code, checks = self.status('REGION3')
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['enabled']['status'])
