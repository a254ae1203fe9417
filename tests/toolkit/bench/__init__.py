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

"""Benchmark glance-download imports on the test cloud, against the limits.

    tools/bench                          # 64M,1G,4G images, 3 runs each
    tools/bench --sizes 64M --runs 1     # a quick look
    tools/bench --wan --size 1G --runs 3 --streams 8
                                         # over an emulated WAN link

For each image size, a source image of random data (raw/bare) is uploaded
once to REGION1 as user demo. Then, in the same run and from that same
source image, each contender copies it, --runs times, in an order that
rotates from one run to the next:

plugin
    REGION2 imports it with glance-download served by this plugin
    ([glance_download] implementation = plugin).
in-tree
    The same, with REGION2 restarted with implementation = in-tree:
    Glance's own glance-download method, in the same Glance.
plugin-staged
    The plugin with overlap_store_writes = false: Glance's store step
    reads the staged file once the download is done, as before the
    overlapped store (also a contender of --wan).
curl
    The physical limit: ``curl -o <REGION2's staging dir>/<file>`` of
    ``GET /v2/images/<id>/file`` on REGION1 with the user's token, the same
    request, source and disk as an import's download, with nothing else.

Before each import it measures, REGION2's glance-api is restarted with the
implementation wanted (tools/cloud restart) and warmed up with three 1 MiB
imports, so that every measured import starts in a process in the same
state. REGION2 runs with the plugin's default transfer settings rather
than the test cloud's short timeouts (parallel_streams at each plugin's
own default: auto, or 4 for a plugin@REV from before auto); --set adds
options of REGION2's glance-api.conf. Between runs the target image is
deleted and ``sync`` flushes the data written, so that one run's
writeback does not land in the next.

Measured, per run:

wall
    Import wall time: from sending ``POST /v2/images/<id>/import`` until
    Glance has saved the image ``active``, which it logs as the end of its
    ImportToStore task (checked afterwards with ``GET /v2/images/<id>``).
    Following the log rather than polling the API costs REGION2 nothing
    while it works, and is exact to the millisecond.
download
    The download phase, from REGION2's log: the taskflow task that copies
    the data into the staging area, from its transition to RUNNING to its
    transition to SUCCESS (Glance logs both, with milliseconds, for every
    task). For the plugin it is GlanceDownloadData, which also verifies the
    size and sha512 and includes waiting for the hash of the last chunk;
    for the in-tree method it is GlanceDownload, which counts the bytes
    (Glance's staging store computes md5 and sha512 on the way, without
    comparing them to anything). For curl, curl's own time_total.
store
    Glance's own step that copies the staged data to the store
    (ImportToStore), the same code for both methods.
cpu
    CPU seconds (user + system, /proc/<pid>/stat) of REGION2's glance-api
    (uWSGI master and workers) from the import call to the end of the
    import flow; for curl, of curl itself. "src cpu" is the same for
    REGION1's glance-api, which serves the data to every contender.
other cpu
    CPU seconds the rest of the machine spent meanwhile (user, system and
    steal time of /proc/stat, less the above): other work on a shared
    machine shows there. Before each run the bench waits, up to
    --idle-wait seconds, for the machine to be idle for a second; a run
    during which other work took more than --max-other CPUs on average is
    made again, up to --retries times, and the least disturbed attempt is
    kept.
rss, growth
    Peak resident memory of the REGION2 worker that ran the import,
    sampled every 0.1 s, and its growth over the same worker's resident
    memory just before the import call. A run in a worker that had not
    run any import yet (the warm-up imports all went to the other one) is
    pointed out: its growth includes loading the import code.

--stores fast,cheap makes every import write each of REGION2's stores
named (the import call's ``stores``), and checks that the image is in all
of them.

Also a 1 MiB import, plugin against in-tree (--tiny-runs runs each), for
the fixed cost of an import.

The figures are printed as reStructuredText tables, with the medians,
each run's figure and their spread (largest less smallest), the ratios
plugin/in-tree and plugin/curl, the machine and the command line. The
contenders run in turn, in an order that rotates from run to run; where a
target compares two contenders, the line gives both spreads and says so
when one is larger than the difference of the medians.

--against REV adds a contender in the same run: plugin@REV, this plugin
as it was at git revision REV of this repository (git archive of its
glance_download package), run by the same REGION2 glance-api through
uWSGI's pythonpath, with the same settings and warm-up as the plugin. The
bench checks that the worker imported that copy (the copy's __init__.py
marks its import). Code older than the recovery filter of
REGION2's paste pipeline gets a pass-through filter in its place. The
report then adds the ratios plugin/plugin@REV and the target of no
regression: download and wall at most 1.05x.

Emulated WAN (--wan)
    Every contender copies the same --size source image (1G) over one
    link, emulated by this process with the tests' proxy
    (tests/functional/proxy.py, Link) on the endpoint of region
    SLOW-REGION1, in front of REGION1's Glance: --link-rate MiB/s for all
    its connections together (64), --stream-rate MiB/s for each (8),
    --rtt milliseconds of round trip (60) to set a connection up and
    before each answer, and with --cut-every SIZE a cut each time another
    SIZE of image data crossed. REGION1's glance-api serves --streams
    requests at once in each of its two workers (GD_CLOUD_REGION1_THREADS
    of tools/cloud; the test cloud's default is one). The contenders
    (--contenders):

    in-tree    Glance's own method, importing from SLOW-REGION1;
    plugin     this plugin with its defaults (parallel_streams = auto);
    plugin-1   this plugin, glance_download.parallel_streams = 1;
    plugin-N   this plugin, parallel_streams = --streams (8);
    curl       one stream through the link;
    aria2c     aria2c -x N -s N through the link (Debian package aria2:
               apt-get install aria2; see bindep.txt).

    The link counts the image data connections: "streams" is the most
    open at once during a run. A plugin set to N streams that opens fewer
    does not know the option or does not use it (oslo.config ignores
    options it does not know): the bench says so and leaves out its
    further runs. curl and aria2c write to REGION2's staging directory;
    their file's md5 is checked against the source's. Their download time
    is curl's time_total and aria2c's whole run. "link cpu" is this
    process's CPU time (the link emulator, mostly). Runs are not made
    again for other work (--retries 0, --idle-wait 5): the link, not the
    CPU, bounds them. Reported: medians of the download phase and of the
    time from the import call to active, REGION2's CPU seconds and memory
    growth; ratios to size / aggregate cap, to aria2c and to in-tree; and
    whether each target is met: with N streams a download at most 1.25x
    size / cap and 1.1x aria2c's, at least 5x faster than in-tree's,
    memory growth at most 48 MiB.

The cloud is a separate one, in --state-dir (default: gd-bench under the
system's temporary directory) on ports 25100 and 29392-29397, unless the
GD_CLOUD_*_PORT variables of tools/cloud say otherwise, so it runs beside
the cloud of the tests (.cloud, 25000 and 29292-29297). It is started at
the beginning and stopped at the end, whatever happens; --reuse-cloud uses
a bench cloud already running in --state-dir and leaves it running.
"""

# The docstring above is tools/bench --help. The modules: options (the
# command line), cli (main), control (the bench cloud, plugin@REV), measure
# (one run) with tasklog (the import's steps from the log), loopback and
# wan (the two modes), report and wan_report (their output), machine (the
# machine's figures), base (units and output shared by all).
