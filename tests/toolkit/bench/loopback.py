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

"""The plain loopback mode: plugin, in-tree, curl and plugin@REV.

Each contender copies each size's source image --runs times, in an
order that rotates from one run to the next; a run that other work on the
machine disturbed is made again.
"""

import os
import time

from tests.toolkit.bench import base
from tests.toolkit.bench import machine
from tests.toolkit.bench import measure
from tests.toolkit.bench import options
from tests.toolkit.bench import report


class Loopback:
    """The runs of one bench: the options, the cloud, the tiny source.

    against: the Revision of plugin@REV, or None.
    """

    def __init__(self, args, cloud, state, against):
        self.args = args
        self.cloud = cloud
        self.state = state
        self.against = against
        self.tiny_source = None

    def measure(self, contender, size, source, n):
        """One run; again while other work disturbed it."""
        args, cloud = self.args, self.cloud
        tried = []
        while True:
            if contender == 'curl':
                result = measure.measure_curl(cloud, source,
                                              args.tools['curl'],
                                              args.idle_wait)
            elif self.against and contender == self.against.name:
                result = measure.measure_import(
                    cloud, 'plugin', source, size, self.tiny_source,
                    args.idle_wait, code=self.against)
            elif contender == 'plugin-staged':
                result = measure.measure_import(
                    cloud, 'plugin', source, size, self.tiny_source,
                    args.idle_wait, settings=[options.STAGED])
            else:
                result = measure.measure_import(
                    cloud, contender, source, size, self.tiny_source,
                    args.idle_wait)
            result['other'] = measure.other_cpu(result)
            report.describe_run(size, contender, n + 1, result)
            tried.append(result)
            load = result['other'] / max(result['elapsed'], 1.0)
            if load <= args.max_other:
                return result
            if len(tried) > args.retries:
                base.say(f'       kept the least disturbed of {len(tried)} '
                         'attempts')
                return min(tried, key=lambda r: r['other'] / max(
                    r['elapsed'], 1.0))
            base.say(f'       again: other work took {load:.2f} CPUs '
                     'meanwhile')

    def tiny(self):
        """{contender: runs} of the 1 MiB imports; {} without two."""
        imports = [c for c in self.args.contenders if c != 'curl']
        if not self.args.tiny_runs or len(imports) < 2:
            return {}
        tiny = {contender: [] for contender in imports}
        for n in range(self.args.tiny_runs):
            for contender in base.rotated(imports, n):
                tiny[contender].append(
                    self.measure(contender, base.TINY, self.tiny_source, n))
        return tiny

    def sizes(self):
        """{size: {contender: runs}}, each size's source deleted after."""
        contenders = self.args.contenders
        results = {}
        for size in self.args.sizes:
            base.say(f'Uploading the {base.label(size)} source image ...')
            source, seconds = measure.upload_source(self.cloud, size,
                                                    self.state)
            base.say(f'  uploaded in {seconds:.1f} s '
                     f'({size / base.MIB / seconds:.0f} MiB/s)')
            results[size] = {c: [] for c in contenders}
            for n in range(self.args.runs):
                for contender in base.rotated(contenders, n):
                    results[size][contender].append(
                        self.measure(contender, size, source, n))
            self.cloud.region1.delete(source['id'])
            os.sync()
        return results


def run(args, cloud, state, info, command, started, against):
    """The plain loopback mode, then its report."""
    info.update(machine.hash_rates())
    info['disk_rate'] = machine.disk_write_rate(cloud.region2.staging)
    bench = Loopback(args, cloud, state, against)
    bench.tiny_source, _ = measure.upload_source(cloud, base.TINY, state)
    tiny = bench.tiny()
    results = bench.sizes()
    cloud.region1.delete(bench.tiny_source['id'])
    info['load_after'] = f'{os.getloadavg()[0]:.2f}'
    report.report(args.sizes, args.contenders, results, tiny, info, command,
                  started, time.time(), against)
