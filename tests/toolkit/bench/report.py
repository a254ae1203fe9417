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

"""The report: reStructuredText tables of medians and ratios, and verdicts.

The parts both modes print, and the plain loopback mode's report; the
WAN mode's is in wan_report.
"""

import time

from tests.toolkit.bench import base

MEASURES = ('wall', 'download', 'store', 'cpu', 'src_cpu', 'other', 'rss',
            'growth')


def mib(count):
    return None if count is None else count / base.MIB


def fmt(value, spec='.2f'):
    return '-' if value is None else format(value, spec)


def table(headers, rows):
    """A reStructuredText simple table."""
    widths = [max(len(str(cell)) for cell in column)
              for column in zip(headers, *rows)]
    rule = '  '.join('=' * width for width in widths)
    lines = [rule, '  '.join(h.ljust(w) for h, w in zip(headers, widths)),
             rule]
    for row in rows:
        lines.append('  '.join(str(c).ljust(w)
                               for c, w in zip(row, widths)).rstrip())
    lines.append(rule)
    return '\n'.join(lines)


def summarize(runs, size):
    """{measure: median} of one contender's runs."""
    out = {key: base.median([run.get(key) for run in runs])
           for key in MEASURES}
    for key in ('wall', 'download'):
        out[f'{key}_spread'] = base.spread([run.get(key) for run in runs])
    out['rate'] = (size / base.MIB / out['download'] if out['download']
                   else None)
    return out


def ratio(a, b, key):
    if not a or not b or not a.get(key) or not b.get(key):
        return '-'
    return f'{a[key] / b[key]:.2f}'


def verdict(value, limit, better='lower'):
    if value is None:
        return 'not measured'
    met = value <= limit if better == 'lower' else value >= limit
    return 'met' if met else 'missed'


def say_header(argv, info, started, finished, tools, extra=()):
    """The head of either report: the command, the machine, the load.

    tools: the versions of the download tools; extra: lines about the
    machine, printed before the load.
    """
    base.say()
    base.say(f"Command: {' '.join(argv)}")
    base.say(f"Machine: {info['nproc']} CPU(s) {info['cpu']}, "
             f"{info['memory'] / base.GIB:.1f} GiB memory, disk "
             f"{info['disk']}; "
             f"Linux {info['kernel']}, Python {info['python']}, Glance "
             f"{info['glance']}, {', '.join(tools)}")
    for line in extra:
        base.say(line)
    base.say(f"Load average before/after: {info['load_before']} / "
             f"{info['load_after']}; "
             f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))} to "
             f"{time.strftime('%H:%M', time.localtime(finished))}")


def describe_run(size, contender, n, result):
    """One line per run, printed as the runs go."""
    if contender == 'curl':
        text = (f"download {result['download']:.2f} s "
                f"({size / base.MIB / result['download']:.0f} MiB/s), curl "
                f"cpu {result['cpu']:.2f} s")
    else:
        text = (f"wall {result['wall']:.3f} s, download "
                f"{fmt(result['download'], '.3f')} s, store "
                f"{fmt(result['store'])} s, cpu {result['cpu']:.2f} s, rss "
                f"{mib(result.get('rss', 0)):.0f} MiB "
                f"(+{mib(result.get('growth', 0)):.1f})")
    cold = ('' if result.get('warm', True) else
            ' (in a worker that had not run an import yet)')
    base.say(f"{base.label(size)!s:<6} {contender!s:<8} run {n}: {text}, "
             f"src cpu {result['src_cpu']:.2f} s, other cpu "
             f"{result['other']:.2f} s{cold}")


def step_rows(tiny):
    """Rows of step medians, in flow order, until the image is active."""
    steps = []
    for runs in tiny.values():
        for run in runs:
            for i, step in enumerate(run['order']):
                if step not in steps:
                    # Right after the step it follows in its own flow.
                    at = steps.index(run['order'][i - 1]) + 1 if i else 0
                    steps.insert(at, step)
    rows = [['start'] + [
        fmt(base.median([run['start'] for run in runs]), '.3f')
        for runs in tiny.values()]]
    for step in steps:
        rows.append([step] + [
            fmt(base.median([run['phases'].get(step) for run in runs]), '.3f')
            for runs in tiny.values()])
    rows.append(['between'] + [fmt(base.median([
        run['wall'] - run['start'] - sum(run['phases'][step]
                                         for step in run['order'])
        for run in runs]), '.3f') for runs in tiny.values()])
    return rows


def regression_lines(medians, earlier):
    """The plain loopback target: the plugin at most 1.05x earlier's.

    medians: {size: {contender: medians}}.
    """
    lines = []
    for size, m in medians.items():
        ours, then = m.get('plugin'), m.get(earlier)
        for key in ('download', 'wall'):
            value = ratio(ours, then, key)
            result = verdict(None if value == '-' else float(value), 1.05)
            lines.append(f'* {base.label(size)} {key}: {result}. '
                         f"{fmt(ours and ours.get(key), '.3f')} s against "
                         f"{fmt(then and then.get(key), '.3f')} s, {value}x"
                         + spread_note(ours, then, key))
    return lines


def spread_note(ours, then, key):
    """The spreads of two contenders' runs, beside their medians.

    Says so when a spread is larger than the medians' difference; '' when
    either contender was not measured.
    """
    spreads = [m and m.get(f'{key}_spread') for m in (ours, then)]
    if None in spreads or not ours.get(key) or not then.get(key):
        return ''
    note = f' (spreads {spreads[0]:.3f} s and {spreads[1]:.3f} s'
    if max(spreads) > abs(ours[key] - then[key]):
        note += ': larger than the difference, which they do not settle'
    return note + ')'


def report(sizes, contenders, results, tiny, info, argv, started, finished,
           against):
    """The plain loopback mode's report: the header, then its tables.

    results: {size: {contender: runs}}; tiny: {contender: runs} of the
    1 MiB imports, or {}; against: the Revision of plugin@REV, or None.
    """
    say_header(argv, info, started, finished, [info['curl']], [
        f"One core: sha512 {info['sha512']:.0f} MiB/s, md5 "
        f"{info['md5']:.0f} MiB/s (hashlib, 4 MiB buffers); disk: "
        f"{info['disk_rate']:.0f} MiB/s (1 GiB written and fsync-ed)"])
    base.say()
    base.say("Medians of each contender's runs: seconds (wall, download, "
             'store), MiB/s, CPU seconds, MiB:')
    base.say()
    base.say(medians_table(sizes, contenders, results))
    base.say()
    base.say('Ratios of the medians:')
    base.say()
    medians = {size: {c: summarize(runs, size)
                      for c, runs in results[size].items() if runs}
               for size in sizes}
    if tiny:
        medians[base.TINY] = {c: summarize(runs, base.TINY)
                              for c, runs in tiny.items()}
    base.say(ratios_table(medians, against))
    if against:
        base.say()
        base.say(f'No regression on plain loopback, the plugin at most 1.05x '
                 f'{against.name}:')
        base.say()
        for line in regression_lines(medians, against.name):
            base.say(line)
    if tiny:
        base.say()
        base.say(f'1 MiB import, medians of {len(next(iter(tiny.values())))} '
                 'runs each (seconds):')
        base.say()
        base.say(tiny_table(tiny))
        base.say()
        base.say('Where the wall time of a 1 MiB import goes, medians '
                 '(seconds; "start" is from the import call to the first '
                 'task of the flow, "between" the time between tasks):')
        base.say()
        base.say(table(['step'] + list(tiny), step_rows(tiny)))


def medians_table(sizes, contenders, results):
    """Each contender's medians at each size, and its runs."""
    rows = []
    for size in sizes:
        for contender in contenders:
            runs = results[size].get(contender)
            if not runs:
                continue
            m = summarize(runs, size)
            key = 'download' if contender == 'curl' else 'wall'
            rows.append([
                base.label(size), contender, fmt(m['wall']),
                fmt(m['download']),
                fmt(m['rate'], '.0f'), fmt(m['store']), fmt(m['cpu']),
                fmt(m['src_cpu']), fmt(m['other']),
                fmt(mib(m['rss']), '.0f'), fmt(mib(m['growth']), '.1f'),
                ' '.join(fmt(run[key]) for run in runs),
                fmt(m[f'{key}_spread'])])
    return table(['size', 'contender', 'wall', 'download', 'MiB/s', 'store',
                  'cpu', 'src cpu', 'other cpu', 'rss', 'growth',
                  'runs (wall; curl: download)', 'spread'], rows)


def ratios_table(medians, against):
    """The plugin's ratios, per size.

    Over in-tree, over curl, over plugin@REV and over the staged path.
    """
    staged = any('plugin-staged' in m for m in medians.values())
    rows = []
    for size, m in medians.items():
        ours, tree, curl = m.get('plugin'), m.get('in-tree'), m.get('curl')
        row = [base.label(size), ratio(ours, tree, 'wall'),
               ratio(ours, tree, 'download'), ratio(ours, curl, 'download'),
               ratio(tree, curl, 'download'), ratio(ours, tree, 'cpu')]
        if against:
            then = m.get(against.name)
            row += [ratio(ours, then, 'wall'), ratio(ours, then, 'download')]
        if staged:
            row.append(ratio(ours, m.get('plugin-staged'), 'wall'))
        rows.append(row)
    headers = ['size', 'wall plugin/in-tree', 'download plugin/in-tree',
               'download plugin/curl', 'download in-tree/curl',
               'cpu plugin/in-tree']
    if against:
        headers += [f'wall plugin/{against.name}',
                    f'download plugin/{against.name}']
    if staged:
        headers.append('wall plugin/plugin-staged')
    return table(headers, rows)


def tiny_table(tiny):
    """The 1 MiB imports' medians, and their runs."""
    rows = []
    for contender, runs in tiny.items():
        m = summarize(runs, base.TINY)
        rows.append([contender, fmt(m['wall'], '.3f'),
                     fmt(m['download'], '.3f'),
                     fmt(base.median([run['phases'].get('flow')
                                      for run in runs]), '.3f'),
                     fmt(m['cpu']),
                     ' '.join(f"{run['wall']:.3f}" for run in runs)])
    return table(['contender', 'wall', 'download', 'flow', 'cpu',
                  'runs (wall)'], rows)
