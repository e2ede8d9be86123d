#!/usr/bin/env python3
"""popbridge IMAP benchmark: popbridge and a tuned private Dovecot IMAP (bench/dovecot_imap.py)
under the same loads, in one run, side by side with ratios (issue 5, "Speed and memory").

Usage (as root, after bench/deps.sh and `cmake --preset release && cmake --build --preset release
--target popbridge`):

    python3 bench/imap_bench.py                          # quick defaults, a few minutes
    python3 bench/imap_bench.py --big-messages 100000    # the 100,000-message FETCH
    python3 bench/imap_bench.py --only mixed --clients 10,50 --duration 30

Benchmarks (see bench/README.md for the method):
  mixed      N clients (default 10 and 50) over 100 users for a fixed time; every session does
             LOGIN, LIST, STATUS, SELECT, FETCH (FLAGS ENVELOPE BODY.PEEK[]), STORE FLAGS,
             STORE +FLAGS (\\Deleted), EXPUNGE, APPEND (1-200 KB), LOGOUT. Sessions/s,
             commands/s, protocol errors (must be 0), and every STORE is checked to answer
             FETCH FLAGS for each message of its set.
  memory     many concurrent IDLE connections, plain and then TLS: RSS growth per connection
             (popbridge: VmRSS of its one process; Dovecot: the sum of RSS of all its processes).
  notify     idling clients on one mailbox; another connection APPENDs; the time to each
             idler's "* n EXISTS" from the commit (popbridge's debug log line for it), from
             the APPEND's tagged OK and from sending the APPEND: p50, p99, max.
  bigfetch   FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE) on a large mailbox (popbridge filled by
             `popbridge import` of an mbox, Dovecot by a maildir written directly), then
             UID FETCH 1:* (FLAGS) (CHANGEDSINCE n) after 1% of the flags changed.
"""

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import resource
import shutil
import ssl
import statistics
import sys
import tempfile
import time
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import certs as harness_certs  # noqa: E402
from harness import popbridge as harness_popbridge  # noqa: E402

import dovecot_imap  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (deprecated in 3.11, still shipped; only to make a test hash)

PASSWORD = "bench-imap-secret"
NOTIFY_USER = "notify"
BIG_USER = "big"
BENCHMARKS = ("mixed", "memory", "notify", "bigfetch")


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# ----------------------------------------------------------------------------- messages

_VOCAB = ("mail", "pop", "imap", "bridge", "folder", "flag", "ledger", "store", "retry", "commit",
          "fsync", "delete", "keep", "quota", "batch", "idle", "notice", "meeting", "invoice",
          "report", "schedule", "thanks", "regards", "attached", "please", "review", "tomorrow",
          "project", "update", "the", "a", "and", "of", "to", "in", "for", "on")


def _lines(rng, size):
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(5, 12)))
        out.append(line)
        total += len(line) + 2
    return out


def _headers(rng, n, extra=()):
    date = datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.timezone.utc) + \
        datetime.timedelta(minutes=n)
    subject = " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(3, 7)))
    return [f"From: Sender {n % 97} <sender{n % 97}@example.net>",
            "To: User <user@example.org>",
            f"Cc: Team {n % 13} <team{n % 13}@example.org>",
            f"Subject: {subject} {n}",
            f"Date: {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: <bench.{n}.{rng.getrandbits(40):010x}@popbridge.bench>",
            "MIME-Version: 1.0", *extra]


def append_pool(seed, count, low=1_000, high=200_000):
    """`count` text/plain messages (CRLF) of random size `low`-`high` bytes for APPEND in the
    mixed load."""
    rng = random.Random(seed)
    pool = []
    for i in range(count):
        size = rng.randint(low, high)
        head = _headers(rng, i, ["Content-Type: text/plain; charset=us-ascii"])
        body = _lines(rng, size - 400)
        pool.append(("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode())
    return pool


def big_message(rng, n):
    """Message `n` of the big mailbox as LF text: 60% text/plain, 25% multipart/alternative,
    15% multipart/mixed with a small base64 attachment; every third \\Seen, every 17th \\Flagged
    (as Status:/X-Status: headers, which `popbridge import` reads, and in the maildir name)."""
    seen, flagged = n % 3 == 0, n % 17 == 0
    status = (["Status: RO"] if seen else []) + (["X-Status: F"] if flagged else [])
    kind = rng.random()
    text = "\n".join(_lines(rng, rng.randint(1_000, 6_000)))
    if kind < 0.60:
        head = _headers(rng, n, ["Content-Type: text/plain; charset=us-ascii", *status])
        body = text
    elif kind < 0.85:
        b = f"alt{n:x}"
        head = _headers(rng, n, [f'Content-Type: multipart/alternative; boundary="{b}"', *status])
        body = (f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{text}\n"
                f"--{b}\nContent-Type: text/html; charset=us-ascii\n\n<html><body><p>"
                f"{text[:2000]}</p></body></html>\n--{b}--")
    else:
        b = f"mix{n:x}"
        raw = rng.randbytes(rng.randint(2_000, 20_000))
        import base64
        enc = base64.encodebytes(raw).decode()
        head = _headers(rng, n, [f'Content-Type: multipart/mixed; boundary="{b}"', *status])
        body = (f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{text}\n"
                f"--{b}\nContent-Type: application/pdf; name=\"r{n}.pdf\"\n"
                f"Content-Disposition: attachment; filename=\"r{n}.pdf\"\n"
                f"Content-Transfer-Encoding: base64\n\n{enc}--{b}--")
    return ("\n".join(head) + "\n\n" + body + "\n").encode(), seen, flagged


# ----------------------------------------------------------------------------- IMAP client

class ProtocolError(Exception):
    pass


_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
_FETCH = re.compile(rb"^\* (\d+) FETCH ")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS")


class Conn:
    """A minimal asyncio IMAP client: one command at a time, responses with their literals."""

    def __init__(self, reader, writer):
        self.r, self.w, self.n = reader, writer, 0

    @classmethod
    async def open(cls, port, ctx=None):
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, limit=1 << 24,
                                             server_hostname="localhost" if ctx else None)
        c = cls(r, w)
        greeting = await c.read()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(f"greeting {greeting[:80]!r}")
        return c

    async def read(self):
        line = await self.r.readline()
        if not line.endswith(b"\r\n"):
            raise ProtocolError(f"connection closed ({line[:80]!r})")
        parts = [line]
        m = _LITERAL.search(line)
        while m:
            parts.append(await self.r.readexactly(int(m.group(1))))
            line = await self.r.readline()
            parts.append(line)
            m = _LITERAL.search(line)
        return b"".join(parts) if len(parts) > 1 else line

    async def command(self, text, literal=None, want_ok=True):
        """Sends one command; returns (untagged responses, tagged line). Raises ProtocolError on
        NO/BAD (unless want_ok=False) and on a closed connection."""
        self.n += 1
        tag = b"t%d" % self.n
        if literal is None:
            self.w.write(tag + b" " + text.encode() + b"\r\n")
        else:
            self.w.write(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            cont = await self.read()
            if not cont.startswith(b"+"):
                raise ProtocolError(f"{text.split()[0]}: no continuation: {cont[:100]!r}")
            self.w.write(literal + b"\r\n")
        await self.w.drain()
        untagged = []
        while True:
            resp = await self.read()
            if resp.startswith(tag + b" "):
                if want_ok and not resp.startswith(tag + b" OK"):
                    raise ProtocolError(f"{text[:40]}: {resp[:200]!r}")
                return untagged, resp
            untagged.append(resp)

    def close(self):
        self.w.transport.abort()


def fetch_seqs(untagged, item=b"FLAGS ("):
    out = []
    for resp in untagged:
        m = _FETCH.match(resp)
        if m and item in resp:
            out.append(int(m.group(1)))
    return out


def exists_of(untagged):
    n = None
    for resp in untagged:
        m = _EXISTS.match(resp)
        if m:
            n = int(m.group(1))
    return n


class Idler(asyncio.Protocol):
    """A client that logs in, selects INBOX and IDLEs, driven from data_received so that the
    arrival time of each "* n EXISTS" is taken as the bytes come off the socket."""

    def __init__(self, user):
        self.user = user
        self.buf = b""
        self.stage = 0
        self.ready = asyncio.get_running_loop().create_future()
        self.events = []  # (n, monotonic time, realtime in us) of EXISTS while idling
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def _fail(self, why):
        if not self.ready.done():
            self.ready.set_exception(ProtocolError(f"{self.user}: {why}"))

    def data_received(self, data):
        now = time.monotonic()
        # CLOCK_REALTIME, to compare with the commit time popbridge logs (same machine).
        now_us = time.time_ns() // 1000
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            self._line(line, now, now_us)

    def _line(self, line, now, now_us):
        if self.stage == 4:
            m = _EXISTS.match(line)
            if m:
                self.events.append((int(m.group(1)), now, now_us))
        elif self.stage == 0 and line.startswith(b"* OK"):
            self.transport.write(f"a LOGIN {self.user} {PASSWORD}\r\nb SELECT INBOX\r\n".encode())
            self.stage = 1
        elif line.startswith(b"a ") or line.startswith(b"b "):
            if b" OK" not in line[:5]:
                self._fail(line[:120])
            elif line.startswith(b"b "):
                self.transport.write(b"c IDLE\r\n")
                self.stage = 3
        elif self.stage == 3 and line.startswith(b"+"):
            self.stage = 4
            self.ready.set_result(True)

    def connection_lost(self, exc):
        self._fail(f"connection lost ({exc})")


async def open_idlers(port, ctx, users, count, parallel=64):
    """Opens `count` idling connections, user i % len(users); returns (transports, idlers)."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(parallel)
    out = [None] * count

    async def one(i):
        async with sem:
            t, p = await loop.create_connection(lambda: Idler(users[i % len(users)]), "127.0.0.1",
                                                port, ssl=ctx,
                                                server_hostname="localhost" if ctx else None)
            await asyncio.wait_for(p.ready, 120)
            out[i] = (t, p)

    await asyncio.gather(*(one(i) for i in range(count)))
    return [t for t, _ in out], [p for _, p in out]


# ----------------------------------------------------------------------------- measurements

def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss_kb(pid):
    """Proportional set size: private pages plus this process's share of shared ones, so a sum
    over processes counts each page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def proc_cpu_seconds(pid, children=False):
    """utime + stime of every thread of `pid` (and of its reaped children when asked)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_idle(pid, timeout, quiet_ticks=3, interval=1.0):
    """Waits until process `pid` uses less than `quiet_ticks` clock ticks of CPU in `interval`
    twice in a row (popbridge indexes new bodies for search when it has nothing else to do);
    returns the seconds waited."""
    start = time.monotonic()
    calm = 0
    last = proc_cpu_ticks(pid)
    while time.monotonic() - start < timeout:
        time.sleep(interval)
        now = proc_cpu_ticks(pid)
        calm = calm + 1 if now - last < quiet_ticks else 0
        last = now
        if calm >= 2:
            break
    return time.monotonic() - start


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


# ----------------------------------------------------------------------------- servers

class Server:
    """What the benchmarks need of a server under test."""

    name = ""
    plain_port = tls_port = None

    def rss_kb(self):
        raise NotImplementedError

    def pss_kb(self):
        raise NotImplementedError

    def settle(self):
        pass


class PopbridgeServer(Server):
    name = "popbridge"

    def __init__(self, binary, root, certs, users, password_hash):
        self.pb = harness_popbridge.Popbridge(binary, root, certs, log_level="warn",
                                              plaintext_auth="loopback")
        self.pb._hashes[PASSWORD] = password_hash  # the harness's cache of hash-password results
        for u in users:
            self.pb.add_user(u, PASSWORD)

    def start(self):
        self.pb.start(timeout=120)
        self.plain_port, self.tls_port = self.pb.imap_port, self.pb.imaps_port
        return self

    def stop(self):
        self.pb.stop(timeout=60)

    def restart(self):
        self.stop()
        return self.start()

    def pid(self):
        return self.pb.process.pid

    def rss_kb(self):
        return proc_rss_kb(self.pid())

    def pss_kb(self):
        return proc_pss_kb(self.pid())

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid())

    def settle(self, timeout=600):
        return wait_idle(self.pid(), timeout)


class DovecotServer(Server):
    name = "dovecot"

    def __init__(self, root, certs, max_connections, password=PASSWORD):
        self.dc = dovecot_imap.TunedDovecot(root, certs, password, max_connections)

    def start(self):
        self.dc.start()
        self.plain_port, self.tls_port = self.dc.imap_port, self.dc.imaps_port
        return self

    def stop(self):
        self.dc.stop()

    def restart(self):
        self.stop()
        return self.start()

    def rss_kb(self):
        return sum(proc_rss_kb(p) for p in self.dc.pids())

    def pss_kb(self):
        return sum(proc_pss_kb(p) for p in self.dc.pids())

    def cpu_seconds(self):
        """Every live process of the instance plus what the master reaped from ended ones."""
        master = self.dc.process.pid
        return sum(proc_cpu_seconds(p, children=(p == master)) for p in self.dc.pids())

    def processes(self):
        return len(self.dc.pids())

    def settle(self, timeout=60):
        time.sleep(1)
        return 1.0


# ----------------------------------------------------------------------------- mixed load

class MixedStats:
    def __init__(self):
        self.sessions = 0
        self.commands = 0
        self.errors = 0
        self.error_samples = []
        self.store_checks = 0
        self.latency = {}  # command name -> seconds per completed command
        self.store_incomplete = 0  # STOREs without a FETCH FLAGS for every message of the set
        self.store_samples = []

    def check_store(self, what, untagged, seqs):
        """Not a protocol error: RFC 3501 lets a server leave out unchanged messages (Dovecot
        does); popbridge promises a FETCH FLAGS for each, changed or not."""
        self.store_checks += 1
        got = sorted(fetch_seqs(untagged))
        if got != list(seqs):
            self.store_incomplete += 1
            if len(self.store_samples) < 3:
                self.store_samples.append(f"{what} answered FETCH FLAGS for {got}")
    def error(self, text):
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


async def mixed_session(port, user, pool, rng, stats, deadline):
    last = [time.monotonic()]

    def done(name):
        now = time.monotonic()
        if now < deadline:
            stats.commands += 1
            stats.latency.setdefault(name, []).append(now - last[0])
        last[0] = now

    c = await Conn.open(port)
    try:
        await c.command(f"LOGIN {user} {PASSWORD}")
        done("LOGIN")
        await c.command('LIST "" "*"')
        done("LIST")
        await c.command("STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")
        done("STATUS")
        untagged, _ = await c.command("SELECT INBOX")
        done("SELECT")
        n = exists_of(untagged) or 0
        if n > 0:
            lo = max(1, n - 2)
            untagged, _ = await c.command(f"FETCH {lo}:{n} (FLAGS ENVELOPE BODY.PEEK[])")
            if sorted(fetch_seqs(untagged, b"BODY[]")) != list(range(lo, n + 1)):
                raise ProtocolError(f"FETCH {lo}:{n} answered {fetch_seqs(untagged, b'BODY[]')}")
            done("FETCH")
            flags = rng.choice(("(\\Seen)", "(\\Seen \\Flagged)", "()", "(\\Answered)"))
            untagged, _ = await c.command(f"STORE {lo}:{n} FLAGS {flags}")
            stats.check_store(f"{user}: STORE {lo}:{n} FLAGS {flags}", untagged, range(lo, n + 1))
            done("STORE")
            untagged, _ = await c.command("STORE 1 +FLAGS (\\Deleted)")
            stats.check_store(f"{user}: STORE 1 +FLAGS (\\Deleted)", untagged, range(1, 2))
            done("STORE_DELETED")
            untagged, _ = await c.command("EXPUNGE")
            if b"* 1 EXPUNGE\r\n" not in untagged:
                raise ProtocolError(f"EXPUNGE answered {untagged[:3]}")
            done("EXPUNGE")
        await c.command("APPEND INBOX", literal=rng.choice(pool))
        done("APPEND")
        untagged, _ = await c.command("LOGOUT")
        if not any(u.startswith(b"* BYE") for u in untagged):
            raise ProtocolError("LOGOUT without BYE")
        done("LOGOUT")
        if time.monotonic() < deadline:
            stats.sessions += 1
    finally:
        c.close()


async def mixed_run(port, clients, users, pool, duration, seed):
    stats = MixedStats()
    start = time.monotonic()
    deadline = start + duration
    # Client i owns users i, i+N, ...: no two sessions share a mailbox at a time, so every
    # sequence number a session uses is its own view and the answers can be checked exactly.
    owned = [[u for j, u in enumerate(users) if j % clients == i] for i in range(clients)]

    async def worker(i):
        rng = random.Random(seed * 1000 + i)
        k = 0
        while time.monotonic() < deadline:
            user = owned[i][k % len(owned[i])]
            k += 1
            try:
                await mixed_session(port, user, pool, rng, stats, deadline)
            except (ProtocolError, OSError, asyncio.IncompleteReadError) as e:
                stats.error(f"{user}: {e}")

    await asyncio.gather(*(worker(i) for i in range(clients)))
    stats.wall = time.monotonic() - start
    stats.duration = duration
    return stats


async def prefill(port, users, pool, per_user, seed):
    rng = random.Random(seed)
    sem = asyncio.Semaphore(8)

    async def one(user):
        async with sem:
            c = await Conn.open(port)
            try:
                await c.command(f"LOGIN {user} {PASSWORD}")
                for _ in range(per_user):
                    await c.command("APPEND INBOX", literal=rng.choice(pool))
                await c.command("LOGOUT")
            finally:
                c.close()

    await asyncio.gather(*(one(u) for u in users))


# ----------------------------------------------------------------------------- memory

async def idle_memory(server, ctx, port, users, count):
    """Opens `count` idling connections and returns ((rss, pss) before in kB, (rss, pss) after,
    seconds to open them, processes). Before = after one session per user and a settle."""
    for u in users:
        c = await Conn.open(port, ctx)
        await c.command(f"LOGIN {u} {PASSWORD}")
        await c.command("SELECT INBOX")
        await c.command("LOGOUT")
        c.close()
    await asyncio.sleep(1)
    before = server.rss_kb(), server.pss_kb()
    t0 = time.monotonic()
    transports, idlers = await open_idlers(port, ctx, users, count)
    opened = time.monotonic() - t0
    await asyncio.sleep(3)
    after = server.rss_kb(), server.pss_kb()
    procs = server.processes() if isinstance(server, DovecotServer) else 1
    for t in transports:
        t.abort()
    await asyncio.sleep(1)
    return before, after, opened, procs


# ----------------------------------------------------------------------------- notify

_PUBLISHED = re.compile(
    rb"debug " + NOTIFY_USER.encode() + rb": published mailbox \d+ modseq (\d+) \((\d+) appended"
    rb".* to (\d+) sessions: commit_us=(\d+) publish_us=(\d+) done_us=(\d+)")


class CommitLog:
    """popbridge's debug log read as it grows: the "published mailbox" line of each of
    NOTIFY_USER's commits (proxy/server/user_context.cc), CLOCK_REALTIME microseconds."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def skip(self):
        self.offset = os.path.getsize(self.path)

    def appends(self):
        """The commits with appended messages logged since the last call: a list of dicts."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].splitlines():
            m = _PUBLISHED.search(line)
            if m and int(m.group(2)) > 0:
                out.append({"modseq": int(m.group(1)), "sessions": int(m.group(3)),
                            "commit_us": int(m.group(4)), "publish_us": int(m.group(5)),
                            "done_us": int(m.group(6))})
        return out


async def notify_latency(port, clients, rounds, commit_log=None):
    """`clients` idlers on NOTIFY_USER's INBOX; `rounds` APPENDs from another connection.
    Returns a dict of lists: latencies (ms) from the tagged OK, from sending APPEND, and with
    `commit_log` (popbridge) from the commit, plus per round the commit -> start of the fan-out
    and the fan-out itself; and the count of idlers missed."""
    transports, idlers = await open_idlers(port, None, [NOTIFY_USER], clients)
    await asyncio.sleep(2)
    c = await Conn.open(port)
    await c.command(f"LOGIN {NOTIFY_USER} {PASSWORD}")
    untagged, _ = await c.command("STATUS INBOX (MESSAGES)")
    count = int(re.search(rb"MESSAGES (\d+)", b"".join(untagged)).group(1))
    msg = append_pool(7, 1)[0][:3000] + b"\r\n"
    from_ok, from_send, from_commit, wake, fanout, missed = [], [], [], [], [], 0
    for _r in range(rounds):
        count += 1
        if commit_log:
            commit_log.skip()
        t_send = time.monotonic()
        await c.command("APPEND INBOX", literal=msg)
        t_ok = time.monotonic()
        deadline = t_ok + 20
        while time.monotonic() < deadline:
            if all(any(e[0] >= count for e in p.events) for p in idlers):
                break
            await asyncio.sleep(0.05)
        commit = None
        if commit_log:
            commits = commit_log.appends()
            if len(commits) != 1 or commits[0]["sessions"] < clients:
                raise ProtocolError(f"expected one logged commit to {clients} sessions: {commits}")
            commit = commits[0]
            wake.append((commit["publish_us"] - commit["commit_us"]) / 1000)
            fanout.append((commit["done_us"] - commit["publish_us"]) / 1000)
        for p in idlers:
            e = next((e for e in p.events if e[0] >= count), None)
            if e is None:
                missed += 1
            else:
                from_ok.append((e[1] - t_ok) * 1000)
                from_send.append((e[1] - t_send) * 1000)
                if commit:
                    from_commit.append((e[2] - commit["commit_us"]) / 1000)
            p.events.clear()
        await asyncio.sleep(1)
    await c.command("LOGOUT")
    c.close()
    for t in transports:
        t.abort()
    await asyncio.sleep(1)
    return {"from_ok": from_ok, "from_send": from_send, "from_commit": from_commit,
            "wake": wake, "fanout": fanout, "missed": missed}


# ----------------------------------------------------------------------------- big mailbox

def write_big(count, seed, mbox_path, maildir, uid, gid):
    """Writes the same `count` messages as an mbox (for `popbridge import`) and as maildir files
    in `maildir`/cur (for Dovecot, S= and W= sizes in the names as Dovecot's delivery writes
    them, mtime = INTERNALDATE)."""
    rng = random.Random(seed)
    base = 1_767_258_000  # 2026-01-01
    cur = os.path.join(maildir, "cur")
    total = 0
    with open(mbox_path, "wb") as mbox:
        for n in range(count):
            data, seen, flagged = big_message(rng, n)
            total += len(data)
            ts = base + n * 60
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(ts))
            mbox.write(b"From sender@example.net " + stamp.encode() + b"\n" + data + b"\n")
            flags = ("F" if flagged else "") + ("S" if seen else "")
            vsize = len(data) + data.count(b"\n")  # the size with CRLF line ends
            name = f"{ts}.M{n}P1.bench,S={len(data)},W={vsize}:2,{flags}"
            path = os.path.join(cur, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, uid, gid)
            os.utime(path, (ts, ts))
    return total


async def big_fetch(server, port, count, runs, change_fraction, seed):
    c = await Conn.open(port)
    out = {}
    try:
        await c.command(f"LOGIN {BIG_USER} {PASSWORD}")
        await c.command("ENABLE CONDSTORE")
        t0 = time.monotonic()
        untagged, tagged = await c.command("SELECT INBOX")
        out["select_s"] = time.monotonic() - t0
        if exists_of(untagged) != count:
            raise ProtocolError(f"{BIG_USER}: INBOX has {exists_of(untagged)} messages, "
                                f"expected {count}")
        modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(untagged) + tagged).group(1))
        times, cpus = [], []
        for _ in range(runs + 1):  # the first is a warm-up (Dovecot fills its cache file)
            cpu0 = server.cpu_seconds()
            t0 = time.monotonic()
            untagged, _ = await c.command("FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
            times.append(time.monotonic() - t0)
            cpus.append(server.cpu_seconds() - cpu0)
            if len(fetch_seqs(untagged, b"BODYSTRUCTURE")) != count:
                raise ProtocolError(f"FETCH 1:* answered {len(untagged)} of {count}")
            del untagged
        out["fetch_first_s"] = times[0]
        out["fetch_s"] = statistics.median(times[1:])
        out["fetch_cpu_s"] = statistics.median(cpus[1:])
        if server.name == "popbridge":  # RFC 8474 OBJECTID; Debian's Dovecot 2.3 has none
            times, cpus = [], []
            for _ in range(runs):
                cpu0 = server.cpu_seconds()
                t0 = time.monotonic()
                untagged, _ = await c.command("FETCH 1:* (EMAILID THREADID)")
                times.append(time.monotonic() - t0)
                cpus.append(server.cpu_seconds() - cpu0)
                if len(fetch_seqs(untagged, b"THREADID (")) != count:
                    raise ProtocolError(f"FETCH 1:* (EMAILID THREADID) answered "
                                        f"{len(untagged)} of {count}")
                del untagged
            out["objectid_s"] = statistics.median(times)
            out["objectid_cpu_s"] = statistics.median(cpus)
        rng = random.Random(seed)
        changed = sorted(rng.sample(range(1, count + 1), max(1, int(count * change_fraction))))
        for i in range(0, len(changed), 500):
            seqs = ",".join(str(s) for s in changed[i:i + 500])
            await c.command(f"STORE {seqs} +FLAGS.SILENT (\\Answered)")
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            untagged, _ = await c.command(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
            times.append(time.monotonic() - t0)
            if len(fetch_seqs(untagged)) != len(changed):
                raise ProtocolError(f"CHANGEDSINCE answered {len(fetch_seqs(untagged))} of "
                                    f"{len(changed)} changed")
        out["changed"] = len(changed)
        out["changedsince_s"] = statistics.median(times)
        await c.command("LOGOUT")
    finally:
        c.close()
    return out


# ----------------------------------------------------------------------------- driver

def fast_hash():
    """A SHA-512-crypt hash of PASSWORD with the fewest rounds crypt(3) allows: what a deployment
    that wants cheap logins would configure; see --hash."""
    return crypt.crypt(PASSWORD, "$6$rounds=1000$popbridgebench$")


class Bench:
    def __init__(self, args):
        self.a = args
        self.results = {"mixed": {}, "memory": {}, "notify": {}, "bigfetch": {}}
        self.users = [f"u{i:03d}" for i in range(args.users)]

    def ctx(self):
        c = ssl.create_default_context(cafile=self.certs.ca_cert)
        return c

    def password_hash(self):
        if self.a.hash == "yescrypt":
            pb = harness_popbridge.Popbridge(self.a.popbridge, os.path.join(self.dir, "hash"),
                                             self.certs)
            return pb.hash_password(PASSWORD)
        return fast_hash()

    def dovecot_password(self):
        """Dovecot's static passdb verifies the same crypt(3) hash as popbridge ({CRYPT}: the
        system's crypt(3), which reads the $6$ or $y$ prefix), so both servers spend the same
        hashing per LOGIN; --dovecot-password plain gives it the cleartext password instead."""
        if self.a.dovecot_password == "plain":
            return PASSWORD
        return "{CRYPT}" + self.hash

    def servers(self):
        out = []
        for name in self.a.servers.split(","):
            if name == "popbridge":
                out.append(PopbridgeServer(self.a.popbridge, os.path.join(self.dir, "popbridge"),
                                           self.certs, self.users + [NOTIFY_USER], self.hash))
            elif name == "dovecot":
                dc = DovecotServer(os.path.join(self.dir, "dovecot"), self.certs,
                                   max(12_000, self.a.dovecot_idle_connections * 2 + 200),
                                   self.dovecot_password())
                for u in self.users + [NOTIFY_USER]:
                    dc.dc.maildir(u)
                out.append(dc)
            else:
                raise SystemExit(f"unknown server {name}")
        return out

    def run(self):
        a = self.a
        only = a.only.split(",")
        self.dir = tempfile.mkdtemp(prefix="imap-bench-", dir=a.workdir)
        os.chmod(self.dir, 0o711)
        servers = []
        try:
            self.certs = harness_certs.make_certs(os.path.join(self.dir, "certs"))
            self.hash = self.password_hash()
            servers = self.servers()
            for s in servers:
                s.start()
                log(f"{s.name}: plain {s.plain_port}, tls {s.tls_port}")
            if "mixed" in only:
                self.mixed(servers)
            if "memory" in only:
                self.memory(servers)
            if "notify" in only:
                self.notify(servers)
            for s in servers:
                s.stop()
            if "bigfetch" in only:
                self.bigfetch()
        finally:
            for s in servers:  # after an error too: no server outlives the benchmark
                s.stop()
            if a.keep:
                log(f"kept {self.dir}")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        self.report()

    # ------------------------------------------------------------------ the four benchmarks

    def mixed(self, servers):
        low, high = (int(float(x) * 1000) for x in self.a.append_kb.split(","))
        pool = append_pool(self.a.seed, 64, low, high)
        for s in servers:
            log(f"{s.name}: prefilling {len(self.users)} users with {self.a.prefill} messages")
            asyncio.run(prefill(s.plain_port, self.users, pool, self.a.prefill, self.a.seed))
            s.settle()
        # Round k runs every server once, in the opposite order of round k-1: what one run leaves
        # behind (the load average, dirty pages, inodes just freed) then weighs on each server
        # as often as on the other.
        for n in [int(x) for x in self.a.clients.split(",")]:
            rounds = self.results.setdefault("mixed_rounds", {}).setdefault(str(n), [])
            for k in range(self.a.rounds):
                order = servers if k % 2 == 0 else list(reversed(servers))
                by = {}
                for s in order:
                    by[s.name] = self.mixed_once(s, n, pool, k)
                rounds.append({"first": order[0].name, **by})
            for s in servers:
                runs = sorted((r[s.name] for r in rounds), key=lambda r: r["sessions_s"])
                # The median round's rates, with the checks of every round: an error in any
                # round shows in the report.
                summary = dict(runs[(len(runs) - 1) // 2])
                for key in ("errors", "store_checks", "store_incomplete"):
                    summary[key] = sum(r[key] for r in runs)
                self.results["mixed"].setdefault(str(n), {})[s.name] = summary

    def mixed_once(self, s, n, pool, k):
        """One measured mixed run against server `s` with `n` clients, after a quiet pause."""
        os.sync()
        time.sleep(self.a.pause)
        rounds = f", round {k + 1} of {self.a.rounds}" if self.a.rounds > 1 else ""
        log(f"{s.name}: mixed load, {n} clients, {self.a.duration} s{rounds} "
            f"(load average {os.getloadavg()[0]:.2f})")
        cpu0, self_cpu0 = s.cpu_seconds(), time.process_time()
        st = asyncio.run(mixed_run(s.plain_port, n, self.users, pool, self.a.duration,
                                   self.a.seed))
        cpu, self_cpu = s.cpu_seconds() - cpu0, time.process_time() - self_cpu0
        r = {"sessions_s": st.sessions / st.duration,
             "commands_s": st.commands / st.duration,
             "errors": st.errors, "error_samples": st.error_samples,
             "store_checks": st.store_checks,
             "store_incomplete": st.store_incomplete,
             "store_samples": st.store_samples,
             "server_cpu_s": cpu, "client_cpu_s": self_cpu,
             "server_cpu_ms_per_session": 1000 * cpu / max(1, st.sessions),
             "latency_ms": {k: 1000 * statistics.mean(v) for k, v in st.latency.items()}}
        log(f"  {r['sessions_s']:.1f} sessions/s, {r['commands_s']:.1f} commands/s, "
            f"{st.errors} errors, {st.store_checks} STOREs checked, "
            f"{st.store_incomplete} without a FETCH for every message")
        log(f"  server CPU {cpu:.2f} s ({r['server_cpu_ms_per_session']:.2f} ms per "
            f"session), client CPU {self_cpu:.2f} s in {st.wall:.1f} s")
        log("  mean ms: " + ", ".join(f"{k} {v:.1f}" for k, v in r["latency_ms"].items()))
        for e in st.error_samples + st.store_samples:
            log(f"  error: {e}")
        waited = s.settle()
        # popbridge indexes the appended bodies for search once the load is over (or
        # one job a second during it): that CPU belongs to the sessions too.
        after = s.cpu_seconds() - cpu0 - cpu
        r["server_cpu_after_s"] = after
        r["server_cpu_ms_per_session_with_after"] = \
            1000 * (cpu + after) / max(1, st.sessions)
        log(f"  {s.name} idle {waited:.1f} s after the load, using {after:.2f} s of CPU "
            f"meanwhile ({r['server_cpu_ms_per_session_with_after']:.2f} ms per session "
            f"with it)")
        return r

    def memory(self, servers):
        for s in servers:
            count = (self.a.idle_connections if s.name == "popbridge"
                     else self.a.dovecot_idle_connections)
            for mode in ("plain", "tls"):
                s.restart()  # a fresh process: no heap left over from earlier loads
                s.settle()
                log(f"{s.name}: {count} idling {mode} connections")
                ctx = self.ctx() if mode == "tls" else None
                port = s.tls_port if mode == "tls" else s.plain_port
                before, after, opened, procs = asyncio.run(
                    idle_memory(s, ctx, port, self.users, count))
                r = {"connections": count, "rss_before_kb": before[0], "rss_after_kb": after[0],
                     "pss_before_kb": before[1], "pss_after_kb": after[1],
                     "kb_per_connection": (after[0] - before[0]) / count,
                     "pss_kb_per_connection": (after[1] - before[1]) / count,
                     "open_s": opened, "processes": procs}
                self.results["memory"].setdefault(mode, {})[s.name] = r
                log(f"  RSS {before[0]} kB -> {after[0]} kB: {r['kb_per_connection']:.1f} kB per "
                    f"connection; PSS {r['pss_kb_per_connection']:.1f} kB per connection "
                    f"({procs} processes; opened in {opened:.1f} s)")

    def notify(self, servers):
        # Each of Dovecot's imap processes watches its maildir with its own inotify instance;
        # past fs.inotify.max_user_instances (128 by default) it logs a warning and falls back
        # to checking every mailbox_idle_check_interval (30 s). Raised for the run, as a
        # server that holds many IDLE connections is set up; restored afterwards.
        path = "/proc/sys/fs/inotify/max_user_instances"
        with open(path) as f:
            old = int(f.read())
        need = self.a.notify_clients + 512
        if old < need and "dovecot" in self.a.servers:
            try:
                with open(path, "w") as f:
                    f.write(str(need))
                log(f"fs.inotify.max_user_instances {old} -> {need} for Dovecot's idlers")
            except OSError as e:
                log(f"cannot raise fs.inotify.max_user_instances ({e}): Dovecot's idlers poll")
        try:
            self._notify(servers)
        finally:
            if old < need and "dovecot" in self.a.servers:
                try:
                    with open(path, "w") as f:
                        f.write(str(old))
                except OSError:
                    pass

    def _notify(self, servers):
        for s in servers:
            pb = getattr(s, "pb", None)
            if pb:
                # The commit time is in popbridge's debug log ("published mailbox ...").
                pb.log_level = "debug"
            try:
                s.restart()
                s.settle()
                log(f"{s.name}: {self.a.notify_clients} idlers, {self.a.notify_rounds} APPENDs")
                d = asyncio.run(notify_latency(s.plain_port, self.a.notify_clients,
                                               self.a.notify_rounds,
                                               CommitLog(pb.log_file) if pb else None))
            finally:
                if pb:
                    pb.log_level = "warn"
            from_ok, from_send, from_commit = d["from_ok"], d["from_send"], d["from_commit"]
            r = {"clients": self.a.notify_clients, "rounds": self.a.notify_rounds,
                 "missed": d["missed"],
                 "p50_ms": pct(from_ok, 50), "p99_ms": pct(from_ok, 99), "max_ms": max(from_ok),
                 "min_ms": min(from_ok), "p50_from_send_ms": pct(from_send, 50),
                 "p99_from_send_ms": pct(from_send, 99), "max_from_send_ms": max(from_send)}
            if from_commit:
                r.update({"p50_from_commit_ms": pct(from_commit, 50),
                          "p99_from_commit_ms": pct(from_commit, 99),
                          "max_from_commit_ms": max(from_commit),
                          "min_from_commit_ms": min(from_commit),
                          "commit_to_publish_ms": d["wake"], "fanout_ms": d["fanout"]})
            self.results["notify"][s.name] = r
            log(f"  after the OK: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max "
                f"{r['max_ms']:.1f} ms, min {r['min_ms']:.1f} ms; missed {d['missed']}")
            if from_commit:
                log(f"  after the commit: p50 {r['p50_from_commit_ms']:.1f} ms, p99 "
                    f"{r['p99_from_commit_ms']:.1f} ms, max {r['max_from_commit_ms']:.1f} ms, "
                    f"min {r['min_from_commit_ms']:.1f} ms; per round commit -> publish "
                    + ", ".join(f"{x:.2f}" for x in d["wake"]) + " ms, fan-out to "
                    f"{self.a.notify_clients} sessions "
                    + ", ".join(f"{x:.2f}" for x in d["fanout"]) + " ms")

    def bigfetch(self):
        a = self.a
        names = a.servers.split(",")
        root = os.path.join(self.dir, "big")
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o711)
        dc = DovecotServer(os.path.join(root, "dovecot"), self.certs, 1000)
        maildir = dc.dc.maildir(BIG_USER)
        mbox = os.path.join(root, "big.mbox")
        log(f"writing {a.big_messages} messages as an mbox and a maildir")
        size = write_big(a.big_messages, a.seed, mbox, maildir, dc.dc.uid, dc.dc.gid)
        self.results["bigfetch"]["messages"] = a.big_messages
        self.results["bigfetch"]["bytes"] = size
        if "popbridge" in names:
            self._big_popbridge(root, mbox)
        if "dovecot" in names:
            dc.start()
            try:
                res = asyncio.run(big_fetch(dc, dc.plain_port, a.big_messages, a.fetch_runs,
                                            0.01, a.seed))
            finally:
                dc.stop()
            self.results["bigfetch"]["dovecot"] = res
            log(f"  dovecot {res}")

    def _big_popbridge(self, root, mbox):
        a = self.a
        pb = PopbridgeServer(a.popbridge, os.path.join(root, "popbridge"), self.certs,
                             [BIG_USER], self.hash)
        pb.pb.write_config()
        t0 = time.monotonic()
        r = pb.pb.run("import", "-c", pb.pb.config_file, BIG_USER, mbox, timeout=7200)
        if r.returncode != 0:
            raise SystemExit(f"popbridge import failed: {r.stderr}")
        log(f"popbridge import: {time.monotonic() - t0:.1f} s")
        pb.start()
        try:
            log("popbridge: waiting for the search index to be built")
            waited = pb.settle(timeout=a.index_wait)
            log(f"  idle after {waited:.0f} s")
            res = asyncio.run(big_fetch(pb, pb.plain_port, a.big_messages, a.fetch_runs, 0.01,
                                        a.seed))
        finally:
            pb.stop()
        res["index_wait_s"] = waited
        self.results["bigfetch"]["popbridge"] = res
        log(f"  {res}")

    # ------------------------------------------------------------------ report

    def report(self):
        res = self.results
        print()
        print("IMAP benchmark: popbridge vs tuned Dovecot "
              f"({os.cpu_count()} CPUs; ratio = popbridge / dovecot)")

        def ratio(p, d):
            try:
                q = p / d
            except (TypeError, ZeroDivisionError):
                return "-"
            return f"{q:.2f}x" if abs(q) >= 0.1 else f"{q:.4f}x"

        def row(label, p, d, fmt="{:.1f}", r=None):
            ps = fmt.format(p) if p is not None else "-"
            ds = fmt.format(d) if d is not None else "-"
            print(f"  {label:<44} {ps:>12} {ds:>12} {r if r is not None else ratio(p, d):>8}")

        def get(d, *keys):
            for k in keys:
                if not isinstance(d, dict) or k not in d:
                    return None
                d = d[k]
            return d

        print(f"  {'':<44} {'popbridge':>12} {'dovecot':>12} {'ratio':>8}")
        for n, rounds in res.get("mixed_rounds", {}).items():
            if len(rounds) < 2:
                continue
            ratios = []
            for k, r in enumerate(rounds):
                p, d = get(r, "popbridge", "sessions_s"), get(r, "dovecot", "sessions_s")
                if p and d:
                    ratios.append(p / d)
                row(f"mixed, {n} clients, round {k + 1}, {r['first']} first", p, d)
            if ratios:
                label = f"mixed, {n} clients: ratio of rounds (median)"
                low, high = f"min {min(ratios):.2f}x", f"max {max(ratios):.2f}x"
                middle = f"{statistics.median(ratios):.2f}x"
                print(f"  {label:<44} {low:>12} {high:>12} {middle:>8}")
        if any(len(r) > 1 for r in res.get("mixed_rounds", {}).values()):
            print("  (sessions/s per round above; below, each server's median round, with the "
                  "errors and STORE checks of all rounds)")
        for n, by in res["mixed"].items():
            row(f"mixed, {n} clients: sessions/s", get(by, "popbridge", "sessions_s"),
                get(by, "dovecot", "sessions_s"))
            row(f"mixed, {n} clients: commands/s", get(by, "popbridge", "commands_s"),
                get(by, "dovecot", "commands_s"))
            row(f"mixed, {n} clients: server CPU ms/session",
                get(by, "popbridge", "server_cpu_ms_per_session"),
                get(by, "dovecot", "server_cpu_ms_per_session"), "{:.2f}")
            row("  ... with the CPU until idle after the load",
                get(by, "popbridge", "server_cpu_ms_per_session_with_after"),
                get(by, "dovecot", "server_cpu_ms_per_session_with_after"), "{:.2f}")
            row(f"mixed, {n} clients: protocol errors", get(by, "popbridge", "errors"),
                get(by, "dovecot", "errors"), "{}", "")
            row(f"mixed, {n} clients: STOREs checked", get(by, "popbridge", "store_checks"),
                get(by, "dovecot", "store_checks"), "{}", "")
            row("  ... without FETCH FLAGS for each message", get(by, "popbridge",
                                                                 "store_incomplete"),
                get(by, "dovecot", "store_incomplete"), "{}", "")
        for mode, by in res["memory"].items():
            p, d = by.get("popbridge"), by.get("dovecot")
            label = f"idle {mode}: kB per connection"
            if p or d:
                label += f" ({p['connections'] if p else '-'} / {d['connections'] if d else '-'})"
            row(label, get(p, "kb_per_connection"), get(d, "kb_per_connection"))
            row(f"idle {mode}: kB per connection, PSS", get(p, "pss_kb_per_connection"),
                get(d, "pss_kb_per_connection"))
        by = res["notify"]
        for key, label in (("p50_from_commit_ms", "p50"), ("p99_from_commit_ms", "p99"),
                           ("max_from_commit_ms", "max")) * bool(by):
            n = get(by, "popbridge", "clients") or get(by, "dovecot", "clients")
            row(f"notify {n} idlers, commit -> EXISTS {label} (ms)", get(by, "popbridge", key),
                None, r="")
        fan = get(by, "popbridge", "fanout_ms")
        if fan:
            row("notify: fan-out, publish -> last write (ms)", max(fan), None, "{:.2f}", "")
            row("notify: commit -> publish on loop (ms)",
                max(get(by, "popbridge", "commit_to_publish_ms")), None, "{:.2f}", "")
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")) * bool(by):
            n = get(by, "popbridge", "clients") or get(by, "dovecot", "clients")
            row(f"notify {n} idlers, OK -> EXISTS {label} (ms)", get(by, "popbridge", key),
                get(by, "dovecot", key))
        for key, label in (("p50_from_send_ms", "p50"), ("p99_from_send_ms", "p99"),
                           ("max_from_send_ms", "max")) * bool(by):
            row(f"notify, APPEND sent -> EXISTS {label} (ms)", get(by, "popbridge", key),
                get(by, "dovecot", key))
        if by:
            row("notify: idlers missed", get(by, "popbridge", "missed"),
                get(by, "dovecot", "missed"), "{}", "")
        by = res["bigfetch"]
        if "messages" in by:
            n = by["messages"]
            row(f"FETCH 1:* FLAGS ENVELOPE BODYSTRUCTURE, {n} (s)",
                get(by, "popbridge", "fetch_s"), get(by, "dovecot", "fetch_s"), "{:.3f}")
            row("  server CPU per FETCH 1:* (s)", get(by, "popbridge", "fetch_cpu_s"),
                get(by, "dovecot", "fetch_cpu_s"), "{:.3f}")
            row("  first FETCH after start (s)", get(by, "popbridge", "fetch_first_s"),
                get(by, "dovecot", "fetch_first_s"), "{:.3f}")
            row("FETCH 1:* (EMAILID THREADID) (s)", get(by, "popbridge", "objectid_s"), None,
                "{:.3f}", "")
            row("  server CPU per FETCH 1:* (EMAILID THREADID) (s)",
                get(by, "popbridge", "objectid_cpu_s"), None, "{:.3f}", "")
            row("UID FETCH 1:* (FLAGS) (CHANGEDSINCE), 1% (s)",
                get(by, "popbridge", "changedsince_s"), get(by, "dovecot", "changedsince_s"),
                "{:.4f}")
        if self.a.json:
            with open(self.a.json, "w") as f:
                json.dump({"args": vars(self.a), "results": res}, f, indent=2)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(BENCHMARKS),
                   help="comma-separated subset of " + ",".join(BENCHMARKS))
    p.add_argument("--servers", default="popbridge,dovecot")
    p.add_argument("--popbridge", default=os.path.join(REPO_ROOT, "build", "release", "proxy",
                                                       "popbridge"))
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--hash", choices=("sha512-1000", "yescrypt"), default="sha512-1000",
                   help="popbridge's password hash for the users (default sha512-1000: "
                        "SHA-512-crypt, 1000 rounds; yescrypt is what hash-password makes)")
    p.add_argument("--dovecot-password", choices=("hash", "plain"), default="hash",
                   help="what Dovecot's static passdb holds: the same hash as popbridge "
                        "(default) or the cleartext password (no hashing per LOGIN)")
    p.add_argument("--clients", default="10,50", help="mixed load client counts (default 10,50)")
    p.add_argument("--duration", type=float, default=10, help="seconds per mixed run (default 10)")
    p.add_argument("--rounds", type=int, default=1,
                   help="mixed runs per server and client count, the servers' order alternating "
                        "from round to round; the report gives each round's ratio and their "
                        "median (default 1)")
    p.add_argument("--pause", type=float, default=10,
                   help="seconds of quiet, after a sync, before each mixed run (default 10)")
    p.add_argument("--append-kb", default="1,200",
                   help="smallest and largest APPEND in the mixed load, kB (default 1,200)")
    p.add_argument("--prefill", type=int, default=5, help="messages per user before the mixed load")
    p.add_argument("--idle-connections", type=int, default=10_000,
                   help="popbridge idling connections, plain and TLS (default 10000)")
    p.add_argument("--dovecot-idle-connections", type=int, default=1_000,
                   help="Dovecot idling connections, plain and TLS (default 1000)")
    p.add_argument("--notify-clients", type=int, default=1_000)
    p.add_argument("--notify-rounds", type=int, default=3)
    p.add_argument("--big-messages", type=int, default=20_000,
                   help="messages in the FETCH 1:* mailbox (default 20000; the issue's: 100000)")
    p.add_argument("--fetch-runs", type=int, default=3)
    p.add_argument("--index-wait", type=float, default=900,
                   help="longest wait for popbridge's search indexing after the import (s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--json", help="also write the results as JSON to this file")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (Dovecot's mail user, RLIMIT_NOFILE)")
    # The client and each server hold one descriptor per connection (plus a few hundred).
    want = max(args.idle_connections, args.dovecot_idle_connections, args.notify_clients) + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):  # no CAP_SYS_RESOURCE (a container): up to the hard limit
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {want} descriptors needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not os.access(args.popbridge, os.X_OK):
        raise SystemExit(f"no popbridge binary at {args.popbridge}: build the release preset")
    Bench(args).run()


if __name__ == "__main__":
    main(sys.argv[1:])
