#!/usr/bin/env python3
"""popbridge pull benchmark: popbridge, fetchmail (+ procmail to a Maildir) and getmail6 (Maildir)
pull the same POP3 maildrop from a private Dovecot on loopback, in keep and delete mode; the
script prints wall time, messages/s, MB/s, CPU time, peak RSS and the time of a poll that finds
nothing new on a full maildrop left on the server, then the ratios.

Usage (as root, after bench/deps.sh and `cmake --preset release && cmake --build --preset release
--target popbridge`):

    python3 bench/pull_bench.py                      # 10,000 messages, ~150 KB average
    python3 bench/pull_bench.py --messages 1000      # a quick run
    python3 bench/pull_bench.py --messages 1000 --scale 0.2 --tools popbridge,fetchmail

Method (see bench/README.md for the reasoning):
- One Dovecot POP3 instance (tests/integration/harness/dovecot.py) serves every run. The corpus
  is written once into a seed maildir, with S= and W= sizes in the file names as Dovecot's own
  delivery writes them, and one POP session builds Dovecot's index and UID list, as on a server
  that has seen its maildrop before. Each tool run gets its own POP user whose maildir is a copy
  of the seed (message files hard-linked, index files copied), so every tool sees the same
  messages with the same UIDLs and none pays for indexing that another did not.
- fetchmail and getmail6 run once in the foreground; their CPU time and peak RSS come from
  wait4() (the process and every child it waited for: procmail for fetchmail). popbridge runs as
  `popbridge serve -c FILE`; its first poll starts at once, the end is its "pulled N new of M"
  log line (millisecond timestamps), CPU time and peak RSS (VmHWM) are read from /proc at that
  moment.
- A poll with nothing new: popbridge (keep mode, poll_interval 1s) is left running after its
  pull; each later poll logs "connecting to" when it starts and "nothing new" when its POP
  session is over, and the difference is the poll time. Polls are counted once popbridge's
  search indexing of the pulled bodies has finished (no "indexed ... for search" line for 2 s),
  so they measure the steady state rather than competition with that one-time job. fetchmail
  and getmail6 are run again with their UID files from the keep run; their poll time is the
  wall time of the whole process (how they run from cron or a systemd timer).
- The tools' output goes to the same file system; the page cache keeps the seeded maildrop warm
  for every run, and a sync() after each run keeps one run's write-back out of the next.
"""

import argparse
import datetime
import glob
import grp
import json
import math
import os
import pwd
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))

from harness import certs as harness_certs  # noqa: E402
from harness import corpus as harness_corpus  # noqa: E402
from harness import dovecot as harness_dovecot  # noqa: E402
from harness import imap as harness_imap  # noqa: E402
from harness import popbridge as harness_popbridge  # noqa: E402

POP_PASSWORD = "bench-pop-secret"
IMAP_USER = "bench"
IMAP_PASSWORD = "bench-imap-secret"
# fetchmail and getmail6 run as this ordinary account, as a user would run them.
RUN_USER = "nobody"
RUN_GROUP = "nogroup"
MB = 1_000_000  # throughput is in decimal megabytes of message data as POP3 delivers it

# ----------------------------------------------------------------------------- corpus


_VOCAB = ("mail", "pop", "imap", "bridge", "folder", "flag", "ledger", "store", "retry", "commit",
          "fsync", "delete", "keep", "quota", "batch", "idle", "notice", "tls", "meeting",
          "invoice", "report", "schedule", "thanks", "regards", "attached", "please", "review",
          "tomorrow", "project", "update", "the", "a", "and", "of", "to", "in", "for", "on")


def _text_pool(rng, count=4000):
    """Body lines to draw from: prose of 20-76 characters, quoted lines, and a few lines starting
    with '.', which POP3 must dot-stuff (RFC 1939 section 3)."""
    pool = []
    for i in range(count):
        line = " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(4, 12)))[:76]
        if i % 50 == 0:
            line = "." + line
        elif i % 7 == 0:
            line = "> " + line
        pool.append(line)
    return pool


class BenchCorpus:
    """Deterministic messages with a realistic size mix. Most are text or text+HTML mail of
    2-50 KB (log-uniform); some carry base64 attachments of 100 KB-1.5 MB, a few of 1.5-6 MB;
    the mean is about 150 KB. `scale` multiplies every target size (quick runs). One message in
    40 is one of the harness corpus's odd shapes (8-bit UTF-8, dot lines, over-long lines)."""

    SMALL = (0.88, 2_000, 50_000)
    MEDIUM = (0.09, 100_000, 1_500_000)
    LARGE = (0.03, 1_500_000, 6_000_000)

    def __init__(self, seed, scale=1.0):
        self.rng = random.Random(seed)
        self.scale = scale
        self.pool = _text_pool(self.rng)
        self.odd = harness_corpus.Corpus(seed=seed + 1, tag=f"bench{seed}odd")
        self.base_date = datetime.datetime(2024, 3, 1, 9, 30,
                                           tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
        self.count = 0

    def _target_size(self):
        r = self.rng.random()
        small, medium, large = self.SMALL, self.MEDIUM, self.LARGE
        if r < small[0]:
            lo, hi = small[1:]
        elif r < small[0] + medium[0]:
            lo, hi = medium[1:]
        else:
            lo, hi = large[1:]
        size = math.exp(self.rng.uniform(math.log(lo), math.log(hi)))
        return max(600, int(size * self.scale))

    def _headers(self, subject, extra):
        n = self.count
        date = self.base_date + datetime.timedelta(minutes=3 * n)
        return [
            f"Return-Path: <sender{n % 997}@example.net>",
            f"Received: from mx{n % 7}.example.net (mx{n % 7}.example.net [192.0.2.{n % 250 + 1}])",
            f"\tby pop.example.org with ESMTPS id {self.rng.getrandbits(64):016X}",
            f"\tfor <alice@example.org>; {date.strftime('%a, %d %b %Y %H:%M:%S %z')}",
            f"From: Sender {n % 997} <sender{n % 997}@example.net>",
            "To: Alice <alice@example.org>",
            f"Subject: {subject}",
            f"Date: {date.strftime('%a, %d %b %Y %H:%M:%S %z')}",
            f"Message-ID: <bench.{n}.{self.rng.getrandbits(48):012x}@popbridge.bench>",
            "MIME-Version: 1.0",
            *extra,
        ]

    def _text_lines(self, size):
        lines, total = [], 0
        while total < size:
            line = self.rng.choice(self.pool)
            lines.append(line)
            total += len(line) + 2
        return lines

    def make(self):
        """The next message as bytes (CRLF line endings throughout)."""
        self.count += 1
        if self.count % 40 == 0:
            return self.odd.make(("nonascii", "dots", "longlines")[(self.count // 40) % 3]).data
        target = self._target_size()
        if target >= 100_000 * self.scale and target > 20_000:
            # Base64 grows 3 -> 4 and adds CRLF per 76 characters; the rest is headers.
            raw = max(1, int((target - 900) * 3 / 4 * 76 / 78))
            self.odd.attachment_sizes = [raw]
            return self.odd.make("attachment").data
        if self.rng.random() < 0.5:
            h = self._headers(" ".join(self.rng.choice(_VOCAB) for _ in range(5)),
                              ["Content-Type: text/plain; charset=us-ascii"])
            body = self._text_lines(target - 600)
        else:
            b = f"alt-{self.rng.getrandbits(64):016x}"
            h = self._headers(" ".join(self.rng.choice(_VOCAB) for _ in range(5)),
                              [f'Content-Type: multipart/alternative; boundary="{b}"'])
            text = self._text_lines((target - 900) // 2)
            html = ["<html><body>"] + [f"<p>{line}</p>" for line in
                                        self._text_lines((target - 900) // 2)] + ["</body></html>"]
            body = ["This is a multi-part message in MIME format.", "", f"--{b}",
                    "Content-Type: text/plain; charset=us-ascii", "", *text, "", f"--{b}",
                    "Content-Type: text/html; charset=us-ascii", "", *html, "", f"--{b}--"]
        return ("\r\n".join(h + [""] + body) + "\r\n").encode("ascii")


# ----------------------------------------------------------------------------- measurements


class Result:
    def __init__(self, tool, mode, messages, byte_count, wall, cpu, rss_kb, delivered, note=""):
        self.tool = tool
        self.mode = mode
        self.messages = messages
        self.bytes = byte_count
        self.wall = wall
        self.cpu = cpu
        self.rss_kb = rss_kb
        self.delivered = delivered  # messages found at the destination afterwards
        self.note = note
        self.busy = None  # share of all CPUs busy during the run, 0..1

    def set_busy(self, before, after):
        total = after[1] - before[1]
        self.busy = (after[0] - before[0]) / total if total > 0 else None

    @property
    def rate(self):
        return self.messages / self.wall if self.wall > 0 else 0.0

    @property
    def mbps(self):
        return self.bytes / MB / self.wall if self.wall > 0 else 0.0

    def as_dict(self):
        return {"tool": self.tool, "mode": self.mode, "messages": self.messages,
                "bytes": self.bytes, "wall_s": self.wall, "messages_per_s": self.rate,
                "mb_per_s": self.mbps, "cpu_s": self.cpu, "peak_rss_kb": self.rss_kb,
                "delivered": self.delivered, "machine_busy": self.busy, "note": self.note}


def exec_hwm_kb(pid):
    """VmHWM (KiB) of `pid` once it runs its own program, else 0. Before its exec the child is
    a copy of this Python process, whose RSS the kernel's ru_maxrss would report instead (it
    keeps the pre-exec peak): about 26 MiB for any tool, however small."""
    try:
        if os.readlink(f"/proc/{pid}/exe") == os.path.realpath(sys.executable):
            return 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_measured(argv, env, cwd, timeout, stdout_path, user):
    """Runs argv as `user` (fetchmail warns about root, getmail6 refuses to deliver as root) to
    completion; returns (exit code, wall seconds, user+sys CPU seconds of the process and its
    waited-for children, peak RSS in KiB of the process itself, sampled every 2 ms from its
    VmHWM)."""
    with open(stdout_path, "ab") as out:
        start = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, user=user, group=RUN_GROUP, extra_groups=[])
        deadline = start + timeout
        hwm = 0
        while True:
            # VmHWM only grows: the last sample before the exit is the peak (within 2 ms).
            hwm = max(hwm, exec_hwm_kb(p.pid))
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.002)
        wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, usage.ru_utime + usage.ru_stime, hwm


def machine_busy():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat: the difference
    over a run shows how much of the machine the run (the tool, Dovecot and anything else
    running then) kept busy."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks


def maildir_count(path):
    return sum(len(os.listdir(os.path.join(path, sub))) for sub in ("new", "cur")
               if os.path.isdir(os.path.join(path, sub)))


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (\w+) (\S+): (.*)$")


def parse_log(path):
    """popbridge's stderr log as (epoch seconds, severity, component, text) tuples."""
    out = []
    try:
        with open(path, "r", errors="replace") as f:
            for line in f:
                m = _LOG_LINE.match(line.rstrip("\n"))
                if m:
                    ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                        tzinfo=datetime.timezone.utc).timestamp()
                    out.append((ts, m.group(2), m.group(3), m.group(4)))
    except FileNotFoundError:
        pass
    return out


class LogTail:
    """Reads popbridge's log as it grows: each call to new_entries() parses only the complete
    lines written since the previous call. Re-reading the whole debug log every 10 ms (5.6 ms a
    parse at the ~1,000 lines of a 10,000-message pull) cost the bench itself up to a third of a
    CPU, taken from the two that the pull and Dovecot share."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_entries(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()  # incomplete until its newline arrives
        out = []
        for raw in lines:
            m = _LOG_LINE.match(raw.decode("utf-8", errors="replace"))
            if m:
                ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                out.append((ts, m.group(2), m.group(3), m.group(4)))
        return out


def recently_deleted_window():
    """Seconds for which ext4 (no journal) avoids reusing a deleted inode: dirty_expire_centisecs
    in seconds, plus the 5 s it adds while the inode table block is dirty."""
    try:
        with open("/proc/sys/vm/dirty_expire_centisecs") as f:
            return int(f.read().strip()) / 100 + 5
    except (OSError, ValueError):
        return 35


def proc_usage(pid):
    """(user+sys CPU seconds including reaped children, VmHWM KiB) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is the state (field 3 of proc(5)); utime..cstime are fields 14-17.
    cpu = sum(int(x) for x in fields[11:15]) / ticks
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1])
    return cpu, rss


# ----------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="popbridge-bench-", dir=args.workdir)
        os.chmod(self.root, 0o711)  # Dovecot's mail processes (uid nobody) traverse it
        self.certs = harness_certs.make_certs(os.path.join(self.root, "certs"))
        self.dovecot = harness_dovecot.Dovecot(os.path.join(self.root, "dovecot"), self.certs)
        self.results = []
        self.idle = {}  # tool -> list of no-new poll times in seconds
        self.messages = 0
        self.bytes = 0
        self.sizes = []
        self.users = 0

    def log(self, *parts):
        print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)

    # ------------------------------------------------------------- maildrop

    def seed(self):
        """Writes the corpus into the seed user's maildir and lets Dovecot index it once."""
        d = self.dovecot
        d.add_user("seed", POP_PASSWORD)
        new = os.path.join(d.maildir("seed"), "new")
        corpus = BenchCorpus(self.args.seed, self.args.scale)
        uid, gid = d._uid, d._gid
        base = int(time.time()) - self.args.messages
        start = time.monotonic()
        for i in range(self.args.messages):
            data = corpus.make()
            self.sizes.append(len(data))
            # S= (file size) and W= (size with CRLF line ends; the corpus is CRLF already) as
            # Dovecot's deliver writes them: LIST answers from the name without reading files.
            name = f"{base + i}.M{i:06d}P{os.getpid()}.bench,S={len(data)},W={len(data)}"
            path = os.path.join(new, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
        os.sync()
        self.messages = len(self.sizes)
        self.bytes = sum(self.sizes)
        self.log(f"seeded {self.messages} messages, {self.bytes / MB:.1f} MB in "
                 f"{time.monotonic() - start:.1f} s")
        uidls = d.uidl_list("seed", tls="none")
        if len(uidls) != self.messages:
            raise RuntimeError(f"Dovecot lists {len(uidls)} of {self.messages} seeded messages")

    def fresh_user(self, label):
        """A new POP user whose maildrop is a copy of the seed: message files hard-linked (Dovecot
        never rewrites a maildir file, it renames or unlinks it), index files copied."""
        self.users += 1
        user = f"{label}{self.users}"
        d = self.dovecot
        d.add_user(user, POP_PASSWORD)
        src, dst = d.maildir("seed"), d.maildir(user)
        for sub in ("new", "cur"):
            for name in os.listdir(os.path.join(src, sub)):
                os.link(os.path.join(src, sub, name), os.path.join(dst, sub, name))
        for name in os.listdir(src):
            path = os.path.join(src, name)
            if os.path.isfile(path):
                shutil.copy2(path, os.path.join(dst, name))
                st = os.stat(path)
                os.chown(os.path.join(dst, name), st.st_uid, st.st_gid)
        os.sync()
        return user

    def run_dir(self, name):
        path = os.path.join(self.root, "runs", name)
        os.makedirs(path)
        return path

    @staticmethod
    def give_to_run_user(path):
        """Hands a fetcher's run directory (config, state, Maildir) to RUN_USER."""
        uid, gid = pwd.getpwnam(RUN_USER).pw_uid, grp.getgrnam(RUN_GROUP).gr_gid
        for parent, dirs, files in os.walk(path):
            os.chown(parent, uid, gid)
            for name in files:
                os.chown(os.path.join(parent, name), uid, gid)

    def finish_run(self, path):
        """Frees the disk a run used and flushes its write-back before the next one starts.

        After deleting a run's output it also waits until the file system no longer counts those
        inodes as recently deleted: ext4 without a journal skips an inode deleted less than
        dirty_expire_centisecs (+5 s while its table block is dirty) ago when it allocates one,
        reading its inode table block for each, so every file the next tool creates paid a scan
        past the 10,000 just deleted. That doubled popbridge's CPU time in the run that
        followed another (11.1 s against 6.3 s for the same 10,000-message pull) and charged
        every run but the first, whichever tool it was."""
        if self.args.keep_runs:
            os.sync()
            return
        shutil.rmtree(path, ignore_errors=True)
        os.sync()
        time.sleep(recently_deleted_window())

    def pop_port(self):
        return self.dovecot.pop3s_port if self.args.tls == "implicit" else self.dovecot.pop3_port

    def record(self, result):
        self.results.append(result)
        flag = "" if result.delivered == result.messages else f"  (delivered {result.delivered}!)"
        self.log(f"{result.tool} {result.mode}: {result.wall:.2f} s, {result.rate:.0f} msg/s, "
                 f"{result.mbps:.1f} MB/s, CPU {result.cpu:.2f} s, peak RSS "
                 f"{result.rss_kb / 1024:.1f} MiB{flag}{result.note}")

    # ------------------------------------------------------------- popbridge

    def popbridge(self, mode):
        binary = self.args.popbridge
        run = self.run_dir(f"popbridge-{mode}")
        user = self.fresh_user(f"pb{mode}")
        pb = harness_popbridge.Popbridge(binary, run, self.certs, log_level="debug")
        keep = mode == "keep"
        account = harness_popbridge.Account(
            name="pop", host="127.0.0.1", port=self.pop_port(), tls=self.args.tls,
            username=user, password=POP_PASSWORD, ca_file=self.certs.ca_cert,
            # keep: later polls are the "nothing new" measurement; delete: one poll only.
            poll_interval="1s" if keep else "1h", retention=mode)
        pb.add_user(IMAP_USER, IMAP_PASSWORD, [account])
        pb.write_config()  # hashes the IMAP password now, outside the measured time
        component = f"pop[{IMAP_USER}/pop]"
        try:
            busy0 = machine_busy()
            t0 = time.time()
            pb.start(wait_ready=False)
            fetched, end_ts, cpu, rss = 0, None, 0.0, 0
            deadline = time.monotonic() + self.args.timeout
            tail = LogTail(pb.log_file)
            while end_ts is None:
                if not pb.running():
                    raise RuntimeError(f"popbridge exited during the pull:\n{pb.logs()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"popbridge pull timed out:\n{pb.logs()}")
                time.sleep(0.01)
                for ts, sev, comp, text in tail.new_entries():
                    if comp != component:
                        continue
                    if text.startswith("pull failed"):
                        raise RuntimeError(f"popbridge: {text}\n{pb.logs()}")
                    m = re.match(r"pulled (\d+) new of (\d+)", text)
                    if m:
                        fetched += int(m.group(1))
                        if fetched >= self.messages:
                            end_ts = ts
                            cpu, rss = proc_usage(pb.process.pid)
                            busy1 = machine_busy()
                            break
            wall = end_ts - t0
            note = ""
            if keep:
                self.idle["popbridge"] = self.popbridge_idle_polls(pb, component, end_ts)
            else:
                left = self.dovecot.maildrop_file_count(user)
                if left:
                    note = f"  ({left} messages left on the server!)"
            imap = harness_imap.login(pb.imaps_port, self.certs.ca_cert, IMAP_USER, IMAP_PASSWORD)
            try:
                delivered = harness_imap.status_messages(imap)
            finally:
                harness_imap.safe_logout(imap)
            result = Result("popbridge", mode, self.messages, self.bytes, wall, cpu, rss,
                            delivered, note)
            result.set_busy(busy0, busy1)
            self.record(result)
        finally:
            pb.stop()
            self.finish_run(run)

    def popbridge_idle_polls(self, pb, component, after):
        """Waits for `--idle-polls` polls after the pull and returns their durations: from the
        "connecting to" line that starts a poll to the "nothing new" line that ends it."""
        want = self.args.idle_polls
        # After a pull, the daemon indexes the new bodies for search on its worker threads (a
        # 10,000-message pull keeps them busy for many seconds); polls during that compete with
        # it. The steady state is measured: polls that start once no "indexed ... for search"
        # line has been logged for 2 s.
        quiet_deadline = time.monotonic() + self.args.timeout
        while True:
            last_index = max((ts for ts, _, _, text in parse_log(pb.log_file)
                              if text.startswith("indexed ") and "for search" in text),
                             default=after)
            if time.time() - last_index >= 2.0:
                after = max(after, last_index)
                break
            if time.monotonic() > quiet_deadline:
                raise RuntimeError("popbridge's search indexing did not finish")
            time.sleep(0.5)
        deadline = time.monotonic() + 30 + 3 * want
        while time.monotonic() < deadline:
            durations, start = [], None
            for ts, sev, comp, text in parse_log(pb.log_file):
                if comp != component or ts <= after:
                    continue
                if text.startswith("connecting to"):
                    start = ts
                elif text.startswith("nothing new") and start is not None:
                    durations.append(ts - start)
                    start = None
                elif text.startswith("pulled") or text.startswith("pull failed"):
                    raise RuntimeError(f"popbridge found work on an unchanged maildrop: {text}")
            if len(durations) >= want:
                return durations[:want]
            time.sleep(0.2)
        raise RuntimeError(f"popbridge made fewer than {want} idle polls:\n{pb.logs()}")

    # ------------------------------------------------------------- fetchmail

    def fetchmail(self, mode):
        run = self.run_dir(f"fetchmail-{mode}")
        user = self.fresh_user(f"fm{mode}")
        maildir = os.path.join(run, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        procmailrc = os.path.join(run, "procmailrc")
        with open(procmailrc, "w") as f:
            # A trailing slash makes procmail deliver Maildir-style (tmp/ then link to new/).
            f.write(f"MAILDIR={maildir}/\nLOGFILE={run}/procmail.log\n\n:0\n{maildir}/\n")
        if self.args.tls == "implicit":
            ssl = f'ssl sslcertck sslcertfile "{self.certs.ca_cert}" sslcommonname localhost'
        else:
            ssl = "sslproto ''"
        # uidl (a server option) makes fetchmail remember what it fetched while keeping mail.
        server_options = " uidl" if mode == "keep" else ""
        options = "keep" if mode == "keep" else "no keep"
        rc = os.path.join(run, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(
                "set no syslog\n"
                f'poll 127.0.0.1 with proto POP3 service {self.pop_port()}{server_options}\n'
                f'  user "{user}" there with password "{POP_PASSWORD}" is {RUN_USER} here\n'
                f"  options {options} {ssl}\n"
                f'  mda "/usr/bin/procmail -m {procmailrc}"\n')
        os.chmod(rc, 0o600)
        self.give_to_run_user(run)
        env = dict(os.environ, HOME=run, FETCHMAILHOME=run, LC_ALL="C", USER=RUN_USER,
                   LOGNAME=RUN_USER)
        argv = ["fetchmail", "-f", rc, "-i", os.path.join(run, "fetchids"), "--nodetach",
                "--nosyslog"]
        busy0 = machine_busy()
        code, wall, cpu, rss = run_measured(argv, env, run, self.args.timeout,
                                            os.path.join(run, "fetchmail.log"), RUN_USER)
        busy1 = machine_busy()
        delivered = maildir_count(maildir)
        # A failed run is reported, not fatal: the table shows it with what was delivered.
        note = "" if code == 0 else f"  (fetchmail exit {code}: {self.tail(run, 'fetchmail.log')})"
        if mode == "delete":
            left = self.dovecot.maildrop_file_count(user)
            if left:
                note += f"  ({left} messages left on the server!)"
        result = Result("fetchmail", mode, self.messages, self.bytes, wall, cpu, rss, delivered,
                        note)
        result.set_busy(busy0, busy1)
        self.record(result)
        if mode == "keep" and code == 0:
            # Exit code 1 is fetchmail's "no mail": the expected outcome here.
            self.idle["fetchmail"] = self.idle_runs(argv, env, run, "fetchmail.log", {1})
            if maildir_count(maildir) != delivered:
                raise RuntimeError("fetchmail fetched again on an unchanged maildrop")
        self.finish_run(run)

    # ------------------------------------------------------------- getmail6

    def getmail(self, mode):
        run = self.run_dir(f"getmail-{mode}")
        user = self.fresh_user(f"gm{mode}")
        maildir = os.path.join(run, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        if self.args.tls == "implicit":
            retriever = (f"type = SimplePOP3SSLRetriever\nca_certs = {self.certs.ca_cert}\n"
                         "ssl_cert_hostname = localhost\n")
        else:
            retriever = "type = SimplePOP3Retriever\n"
        rc = os.path.join(run, "getmailrc")
        with open(rc, "w") as f:
            f.write(
                f"[retriever]\n{retriever}server = 127.0.0.1\nport = {self.pop_port()}\n"
                f"username = {user}\npassword = {POP_PASSWORD}\n\n"
                f"[destination]\ntype = Maildir\npath = {maildir}/\n\n"
                f"[options]\nverbose = 0\nread_all = false\n"
                f"delete = {'false' if mode == 'keep' else 'true'}\n"
                "message_log_syslog = false\n")
        os.chmod(rc, 0o600)
        getmaildir = os.path.join(run, "getmail-state")
        os.makedirs(getmaildir)
        self.give_to_run_user(run)
        env = dict(os.environ, HOME=run, LC_ALL="C.UTF-8", USER=RUN_USER, LOGNAME=RUN_USER)
        argv = ["getmail", f"--rcfile={rc}", f"--getmaildir={getmaildir}"]
        busy0 = machine_busy()
        code, wall, cpu, rss = run_measured(argv, env, run, self.args.timeout,
                                            os.path.join(run, "getmail.log"), RUN_USER)
        busy1 = machine_busy()
        delivered = maildir_count(maildir)
        # A failed run is reported, not fatal: the table shows it with what was delivered.
        note = "" if code == 0 else f"  (getmail exit {code}: {self.tail(run, 'getmail.log')})"
        if mode == "delete":
            left = self.dovecot.maildrop_file_count(user)
            if left:
                note += f"  ({left} messages left on the server!)"
        result = Result("getmail6", mode, self.messages, self.bytes, wall, cpu, rss, delivered,
                        note)
        result.set_busy(busy0, busy1)
        self.record(result)
        if mode == "keep" and code == 0:
            self.idle["getmail6"] = self.idle_runs(argv, env, run, "getmail.log", {0})
            if maildir_count(maildir) != delivered:
                raise RuntimeError("getmail6 fetched again on an unchanged maildrop")
        self.finish_run(run)

    # ------------------------------------------------------------- bare reference readers

    def bare_reader(self):
        """Compiles bench/bare_pop_reader.c (once per benchmark) against BoringSSL."""
        binary = os.path.join(self.root, "bare_pop_reader")
        if not os.path.exists(binary):
            lib = glob.glob("/usr/lib/*/android")
            if not lib:
                raise RuntimeError("no BoringSSL libraries in /usr/lib/*/android "
                                   "(android-libboringssl-dev)")
            subprocess.run(["cc", "-O2", "-o", binary,
                            os.path.join(REPO_ROOT, "bench", "bare_pop_reader.c"),
                            "-I/usr/include/android", f"-L{lib[0]}", f"-Wl,-rpath,{lib[0]}",
                            "-lssl", "-lcrypto"], check=True)
        return binary

    def bare(self, kind, mode):
        """The reference reader (bare_pop_reader.c): `file` appends every message to one file
        without fsync, `maildir` fsyncs each message and its directory. It never deletes, so
        main() runs it once, in the first mode asked for (`mode` is not used)."""
        tool = f"bare-{kind}"
        run = self.run_dir(tool)
        user = self.fresh_user(f"bare{kind}")
        target = os.path.join(run, "out")
        if kind == "maildir":
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(target, sub))
        self.give_to_run_user(run)
        argv = [self.bare_reader(), "127.0.0.1", str(self.pop_port()),
                "tls" if self.args.tls == "implicit" else "plain", self.certs.ca_cert, user,
                POP_PASSWORD, kind, target]
        busy0 = machine_busy()
        code, wall, cpu, rss = run_measured(argv, dict(os.environ), run, self.args.timeout,
                                            os.path.join(run, "bare.log"), RUN_USER)
        busy1 = machine_busy()
        note = "" if code == 0 else f"  (exit {code}: {self.tail(run, 'bare.log')})"
        delivered = 0
        if code == 0:
            with open(os.path.join(run, "bare.log")) as f:
                delivered = int(f.read().split()[0])
        result = Result(tool, "keep", self.messages, self.bytes, wall, cpu, rss, delivered, note)
        result.set_busy(busy0, busy1)
        self.record(result)
        self.finish_run(run)

    def idle_runs(self, argv, env, run, log_name, ok_codes):
        """Runs a one-shot fetcher `--idle-polls` times on the unchanged maildrop; returns the
        wall times."""
        times = []
        for _ in range(self.args.idle_polls):
            code, wall, _cpu, _rss = run_measured(argv, env, run, 120, os.path.join(run, log_name),
                                                RUN_USER)
            if code not in ok_codes:
                raise RuntimeError(f"{argv[0]} no-new poll exited {code}: "
                                   f"{self.tail(run, log_name)}")
            times.append(wall)
        return times

    @staticmethod
    def tail(run, name):
        try:
            with open(os.path.join(run, name), errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return ""

    # ------------------------------------------------------------- report

    def report(self):
        s = sorted(self.sizes)
        out = []
        out.append("")
        out.append(f"popbridge pull benchmark: {self.messages} messages, "
                   f"{self.bytes / MB:.1f} MB (mean {self.bytes / self.messages / 1000:.1f} KB, "
                   f"median {s[len(s) // 2] / 1000:.1f} KB, largest {s[-1] / MB:.2f} MB), "
                   f"POP3 {'over TLS (POP3S)' if self.args.tls == 'implicit' else 'in clear'} "
                   f"from Dovecot {self.dovecot_version()} on 127.0.0.1, {os.cpu_count()} CPUs")
        out.append("")
        header = (f"{'tool':<12} {'mode':<7} {'wall s':>8} {'msg/s':>8} {'MB/s':>7} "
                  f"{'CPU s':>7} {'peak RSS MiB':>13} {'delivered':>10} {'busy':>5}")
        out.append(header)
        out.append("-" * len(header))
        for r in self.results:
            out.append(f"{r.tool:<12} {r.mode:<7} {r.wall:>8.2f} {r.rate:>8.1f} {r.mbps:>7.1f} "
                       f"{r.cpu:>7.2f} {r.rss_kb / 1024:>13.1f} {r.delivered:>10} "
                       f"{'' if r.busy is None else f'{r.busy * 100:.0f}%':>5}{r.note}")
        out.append("(CPU s: the tool's process tree; busy: share of all CPUs of the machine busy "
                   "during the run, Dovecot and any other load included)")
        if self.idle:
            out.append("")
            out.append(f"poll with nothing new, {self.messages} messages left on the server "
                       f"({self.args.idle_polls} polls each):")
            for tool, times in self.idle.items():
                ms = [t * 1000 for t in times]
                how = ("'connecting to' -> 'nothing new' log lines of the running daemon"
                       if tool == "popbridge" else "wall time of the whole one-shot process")
                out.append(f"  {tool:<10} median {statistics.median(ms):7.1f} ms  "
                           f"(min {min(ms):.1f}, max {max(ms):.1f}; {how})")
        out.append("")
        out.append("ratios (popbridge / other; rates: higher is better for popbridge, "
                   "times, CPU and RSS: lower is):")
        by = {(r.tool, r.mode): r for r in self.results}
        for other in ("fetchmail", "getmail6"):
            for mode in ("keep", "delete"):
                pb, o = by.get(("popbridge", mode)), by.get((other, mode))
                if not pb or not o or o.rate == 0 or o.cpu == 0 or o.rss_kb == 0:
                    continue
                if pb.delivered != pb.messages or o.delivered != o.messages:
                    out.append(f"  {mode:<6} vs {other:<9}: no ratio, a run did not deliver "
                               "every message")
                    continue
                out.append(f"  {mode:<6} vs {other:<9}: rate x{pb.rate / o.rate:.2f}, "
                           f"CPU x{pb.cpu / o.cpu:.2f}, peak RSS x{pb.rss_kb / o.rss_kb:.2f}")
            if "popbridge" in self.idle and other in self.idle:
                p = statistics.median(self.idle["popbridge"])
                o = statistics.median(self.idle[other])
                out.append(f"  no-new poll vs {other:<9}: time x{p / o:.2f} "
                           f"({p * 1000:.1f} ms vs {o * 1000:.1f} ms)")
        for bound in ("bare-file", "bare-maildir"):
            b = by.get((bound, "keep"))
            if not b or b.rate == 0 or b.delivered != b.messages:
                continue
            for mode in ("keep", "delete"):
                pb = by.get(("popbridge", mode))
                if pb and pb.delivered == pb.messages:
                    out.append(f"  {mode:<6} vs {bound:<12}: rate x{pb.rate / b.rate:.2f} "
                               f"(the reference reader: {b.rate:.0f} msg/s)")
        text = "\n".join(out)
        print(text, flush=True)
        return text

    def dovecot_version(self):
        try:
            return subprocess.run(["dovecot", "--version"], capture_output=True, text=True,
                                  timeout=10).stdout.split()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    def main(self):
        total = time.monotonic()
        try:
            self.dovecot.start()
            self.seed()
            plan = {"popbridge": self.popbridge, "fetchmail": self.fetchmail,
                    "getmail6": self.getmail,
                    "bare-file": lambda mode: self.bare("file", mode),
                    "bare-maildir": lambda mode: self.bare("maildir", mode)}
            for tool in self.args.tools:
                for mode in self.args.modes:
                    if tool.startswith("bare-") and mode != self.args.modes[0]:
                        continue
                    self.log(f"running {tool} {mode} ...")
                    plan[tool](mode)
            text = self.report()
            if self.args.json:
                with open(self.args.json, "w") as f:
                    json.dump({"messages": self.messages, "bytes": self.bytes,
                               "tls": self.args.tls, "scale": self.args.scale,
                               "results": [r.as_dict() for r in self.results],
                               "no_new_poll_s": self.idle, "table": text}, f, indent=2)
        finally:
            self.dovecot.stop()
            if self.args.keep_runs:
                print(f"kept {self.root}", flush=True)
            else:
                shutil.rmtree(self.root, ignore_errors=True)
        self.log(f"benchmark took {time.monotonic() - total:.0f} s")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=10_000,
                   help="messages in the maildrop (default 10000)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every message's target size (default 1.0: ~150 KB mean)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--tools", default="popbridge,fetchmail,getmail6",
                   help="comma-separated subset of popbridge,fetchmail,getmail6,bare-file,"
                        "bare-maildir (the last two: bench/bare_pop_reader.c, the machine's "
                        "bounds without and with an fsync per message; run once, no DELE)")
    p.add_argument("--modes", default="keep,delete", help="keep, delete or keep,delete")
    p.add_argument("--tls", choices=("implicit", "none"), default="implicit",
                   help="POP3S (default) or POP3 in clear, for every tool")
    p.add_argument("--idle-polls", type=int, default=5,
                   help="no-new polls to time per tool (default 5)")
    p.add_argument("--popbridge", default=os.path.join(REPO_ROOT, "build", "release", "proxy",
                                                       "popbridge"),
                   help="popbridge binary (default build/release/proxy/popbridge)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per pull (default 1800)")
    p.add_argument("--workdir", default=None, help="parent of the scratch directory (default $TMPDIR)")
    p.add_argument("--keep-runs", action="store_true", help="keep the scratch directory")
    p.add_argument("--json", help="also write the results as JSON to this file")
    args = p.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for t in args.tools:
        if t not in ("popbridge", "fetchmail", "getmail6", "bare-file", "bare-maildir"):
            p.error(f"unknown tool {t}")
    for m in args.modes:
        if m not in ("keep", "delete"):
            p.error(f"unknown mode {m}")
    if args.messages < 1 or args.scale <= 0 or args.idle_polls < 1:
        p.error("--messages, --scale and --idle-polls must be positive")
    if "popbridge" in args.tools and not os.access(args.popbridge, os.X_OK):
        p.error(f"no popbridge binary at {args.popbridge}: cmake --preset release && "
                "cmake --build --preset release --target popbridge")
    for tool, binary in (("fetchmail", "fetchmail"), ("fetchmail", "procmail"),
                         ("getmail6", "getmail")):
        if tool in args.tools and shutil.which(binary) is None:
            p.error(f"{binary} is not installed: run bench/deps.sh")
    if os.geteuid() != 0:
        p.error("run as root: the private Dovecot hands its maildirs to the 'nobody' account")
    return args


if __name__ == "__main__":
    Bench(parse_args(sys.argv[1:])).main()
