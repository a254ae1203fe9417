# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

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
