#!/usr/bin/env python3
"""IMAP store benchmark: the same messages served by popbridge (the real daemon, its store filled
by `popbridge import` from an mbox) and by a private Dovecot IMAP (Debian's dovecot-imapd, default
settings, no FTS plugin; the messages written into its maildir), and in the same run the time of
SEARCH TEXT for a common word, a rare word and a word in no message, SEARCH BODY, and FETCH
1:10000 (ENVELOPE BODYSTRUCTURE FLAGS), with the ratios popbridge / Dovecot. With --binary, also
FETCH BINARY.PEEK[2] and BINARY.SIZE[2] (RFC 3516) of large base64 and quoted-printable
attachments.

Usage (as root, after `cmake --preset release && cmake --build --preset release --target
popbridge`; Dovecot's IMAP comes from scripts/deps.sh):

    python3 bench/imap_store_bench.py                     # 20,000 messages of about 10 KB
    python3 bench/imap_store_bench.py --messages 100000   # the size of issue 3
    python3 bench/imap_store_bench.py --messages 2000 --runs 3 --workdir /dev/shm/ib
    python3 bench/imap_store_bench.py --messages 100 --fetch 100 --binary --runs 9

Method (see bench/README.md):
- The corpus is deterministic (--seed): text/plain messages built from lines of words drawn with
  a Zipf-like skew from a fixed vocabulary, as bench/store_bench.cc does: "word" is in nearly
  every message, "quarterly" in every 100th, "budget review" in every 50th, "zyxwvut" in none.
  Both servers get the same bytes (CRLF line ends).
- popbridge: `popbridge import` reads an mbox of the corpus into INBOX (the daemon stopped), then
  `popbridge serve` starts and indexes the bodies for search in its idle time; the benchmark
  waits until its search_pending table is empty (and search_words_pending, for a store migrated
  from before schema version 7; read from the store's SQLite file), so every search runs on the
  full-text index. Dovecot: the files are written into the maildir's cur/ and
  one SELECT builds its index (untimed).
- Both are reached over STARTTLS on loopback with Python's imaplib, one session each, INBOX
  selected. Each command is sent once untimed (warm-up: page cache, Dovecot's index cache), then
  --runs times; the time is from sending the command to reading its tagged OK, response included.
  The median is reported: these are warm runs. Beside it, the CPU time (user + system, from
  /proc) the server process spent per run: popbridge's daemon, Dovecot's imap process of the
  session. On a shared machine the wall time moves with other load; the CPU time much less.
- --binary: after the commands above, both servers get the same four multipart/mixed messages
  by IMAP APPEND into a mailbox "BinaryBench" (untimed): a short text part 1 and as part 2 a
  base64 attachment of random bytes (500 KB and 5 MB decoded, 76-character lines) or a
  quoted-printable text (500 KB and 5 MB decoded, UTF-8 with many "=XX" escapes and soft line
  breaks). Each FETCH BINARY.PEEK[2] (PEEK, so \Seen never changes between runs) and
  BINARY.SIZE[2] is timed like the rest; the warm-up run, which also fills a server's cache of
  decoded parts, is reported as "first". The two servers' answers must be byte-identical.
"""

import argparse
import base64
import hashlib
import imaplib
import json
import os
import quopri
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))

from harness import certs as harness_certs  # noqa: E402
from harness import dovecot as harness_dovecot  # noqa: E402
from harness import imap as harness_imap  # noqa: E402
from harness import popbridge as harness_popbridge  # noqa: E402

# A SEARCH answer over 100,000 messages is one line of up to 700 KB.
imaplib._MAXLINE = max(imaplib._MAXLINE, 64 << 20)

USER = "bench"
PASSWORD = "bench-imap-secret"

# (label, IMAP command after the tag); the FETCH range is filled in from --fetch.
SEARCHES = [
    ("SEARCH TEXT common (\"word\")", 'SEARCH TEXT "word"'),
    ("SEARCH TEXT rare (\"quarterly\")", 'SEARCH TEXT "quarterly"'),
    ("SEARCH TEXT absent (\"zyxwvut\")", 'SEARCH TEXT "zyxwvut"'),
    ("SEARCH TEXT phrase (\"budget review\")", 'SEARCH TEXT "budget review"'),
    ("SEARCH BODY common (\"word\")", 'SEARCH BODY "word"'),
    ("SEARCH BODY rare (\"quarterly\")", 'SEARCH BODY "quarterly"'),
]


class Corpus:
    """The deterministic messages; mirrors the generator of bench/store_bench.cc in what it puts
    where (not byte for byte)."""

    def __init__(self, seed, size):
        self.size = size
        rng = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
                           for _ in range(20000)]
        self.vocabulary[3] = "word"
        # Forbidden in the filler: the rare words must be exactly as rare as placed.
        self.vocabulary = [w if w not in ("quarterly", "zyxwvut", "budget", "review") else "x" + w
                           for w in self.vocabulary]
        # Body lines, drawn once: generating every word of 1 GB in Python would take minutes.
        self.lines = [self._line(rng) for _ in range(20000)]
        self.seed = seed

    def _pick(self, rng):
        u = rng.random()
        rank = int(u * u * u * len(self.vocabulary))
        return self.vocabulary[min(rank, len(self.vocabulary) - 1)]

    def _line(self, rng):
        words = []
        length = 0
        while True:
            w = self._pick(rng)
            if length + len(w) + 1 > 72 and words:
                return " ".join(words)
            words.append(w)
            length += len(w) + 1

    def message(self, index):
        rng = random.Random(self.seed * 1_000_003 + index)
        head = (f"From: Sender {index % 97} <s{index % 97}@example.org>\r\n"
                f"To: alice@example.org\r\n"
                f"Subject: message {index} about {self._pick(rng)} {self._pick(rng)}\r\n"
                f"Date: Mon, 4 Mar 2024 10:00:00 +0000\r\n"
                f"Message-ID: <{index}@bench.example>\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        body = []
        if index % 100 == 7:
            body.append("The quarterly numbers are attached.")
        if index % 50 == 3:
            body.append("Please see the budget review below.")
        length = len(head) + sum(len(b) + 2 for b in body)
        while length < self.size:
            line = self.lines[rng.randrange(len(self.lines))]
            body.append(line)
            length += len(line) + 2
        return (head + "\r\n".join(body) + "\r\n").encode("ascii")


BINARY_MAILBOX = "BinaryBench"


def binary_messages(seed):
    """(label, message bytes) of the --binary attachments, deterministic for `seed`."""
    rng = random.Random(seed)
    words = ["caf\u00e9", "na\u00efve", "\u00fcber", "gar\u00e7on", "r\u00e9sum\u00e9",
             "\u20ac10", "plain", "text", "x=y", "tab\there"]
    out = []
    for kind in ("base64", "quoted-printable"):
        for size in (500_000, 5_000_000):
            if kind == "base64":
                data = rng.randbytes(size)
                encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
                ctype = "application/octet-stream; name=\"data.bin\""
            else:
                text = []
                length = 0
                while length < size:
                    line = " ".join(rng.choice(words) for _ in range(rng.randint(5, 30)))
                    line = line.encode("utf-8")
                    text.append(line)
                    length += len(line) + 2
                data = b"\r\n".join(text)[:size]
                encoded = quopri.encodestring(data.replace(b"\r\n", b"\n")).replace(
                    b"\n", b"\r\n")
                ctype = "text/plain; charset=utf-8"
            label = f"{kind} {size // 1000} KB"
            message = (f"From: bench@example.org\r\nTo: alice@example.org\r\n"
                       f"Subject: {label}\r\nDate: Mon, 4 Mar 2024 10:00:00 +0000\r\n"
                       f"MIME-Version: 1.0\r\n"
                       f"Content-Type: multipart/mixed; boundary=\"b-{size}\"\r\n\r\n"
                       f"--b-{size}\r\nContent-Type: text/plain\r\n\r\nattached\r\n"
                       f"--b-{size}\r\nContent-Type: {ctype}\r\n"
                       f"Content-Transfer-Encoding: {kind}\r\n\r\n").encode()
            message += encoded + f"\r\n--b-{size}--\r\n".encode()
            out.append((label, message))
    return out


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


def timed(imap, tag, command):
    """Sends `tag command`, reads the whole response (literals included) up to the tagged one;
    returns (seconds, untagged lines as bytes). Raises on a tagged NO/BAD."""
    start = time.perf_counter()
    imap.send(f"{tag} {command}\r\n".encode())
    lines = []
    while True:
        line = imap.readline()
        if not line:
            raise RuntimeError(f"connection closed during {command}")
        while line.endswith(b"}\r\n") and b"{" in line:
            size = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
            line += imap.read(size) + imap.readline()
        if line.startswith(tag.encode() + b" "):
            elapsed = time.perf_counter() - start
            if not line.startswith(tag.encode() + b" OK"):
                raise RuntimeError(f"{command}: {line!r}")
            return elapsed, lines
        lines.append(line)


def cpu_seconds(pid):
    """User + system CPU time of process `pid` (all its threads) so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_named(parent, name):
    """The pid of a child process of `parent` whose command name is `name`, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and comm == name:
            return int(entry)
    return None


def answer_size(command, lines):
    """Messages found (SEARCH) or FETCH responses received."""
    if command.startswith("SEARCH"):
        return sum(len(line.split()) - 2 for line in lines if line.startswith(b"* SEARCH"))
    return sum(1 for line in lines if b" FETCH " in line)


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = args.workdir or tempfile.mkdtemp(prefix="popbridge-imapbench-")
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o711)  # Dovecot's mail processes (uid nobody) traverse it
        self.reuse = self.reusable()
        self.pids = {}  # server name -> pid whose CPU time a command costs
        self.certs = harness_certs.make_certs(os.path.join(self.root, "certs"))
        self.dovecot = None
        self.popbridge = None

    def close(self):
        if self.popbridge:
            self.popbridge.stop()
        if self.dovecot:
            self.dovecot.stop()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def corpus_key(self):
        return f"{self.args.messages} {self.args.size} {self.args.seed}\n"

    def reusable(self):
        """True when --workdir holds the corpus, Dovecot's maildir and popbridge's indexed store of
        an earlier --keep run with the same --messages, --size and --seed."""
        try:
            with open(os.path.join(self.root, "corpus.done")) as f:
                return f.read() == self.corpus_key()
        except OSError:
            return False

    def write_corpus(self):
        """The mbox for popbridge and the maildir for Dovecot, from the same bytes."""
        self.dovecot = harness_dovecot.Dovecot(os.path.join(self.root, "dovecot"), self.certs,
                                               imap=True)
        self.dovecot.add_user(USER, PASSWORD)  # keeps a maildir that is there
        if self.reuse:
            self.bytes = sum(os.path.getsize(os.path.join(cur, name))
                             for cur in [os.path.join(self.dovecot.maildir(USER), "cur")]
                             for name in os.listdir(cur))
            log(f"reusing the corpus, the maildir and the popbridge store in {self.root}")
            return
        corpus = Corpus(self.args.seed, self.args.size)
        cur = os.path.join(self.dovecot.maildir(USER), "cur")
        uid, gid = self.dovecot._uid, self.dovecot._gid
        self.mbox = os.path.join(self.root, "corpus.mbox")
        base = 1709546400
        total = 0
        start = time.monotonic()
        with open(self.mbox, "wb") as mbox:
            for i in range(self.args.messages):
                data = corpus.message(i)
                total += len(data)
                # mbox: a From_ line with the date (INTERNALDATE), LF line ends (import makes
                # them CRLF again); no line of the corpus starts with "From ".
                stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(base + i))
                mbox.write(f"From bench@example.org {stamp}\n".encode())
                mbox.write(data.replace(b"\r\n", b"\n"))
                mbox.write(b"\n")
                name = f"{base + i}.M{i:06d}P1.bench,S={len(data)},W={len(data)}:2,S"
                path = os.path.join(cur, name)
                with open(path, "wb") as f:
                    f.write(data)
                os.chown(path, uid, gid)
                os.utime(path, (base + i, base + i))
        self.bytes = total
        log(f"wrote {self.args.messages} messages ({total / 1e6:.0f} MB) as an mbox and a "
            f"maildir in {time.monotonic() - start:.1f} s")

    def start_dovecot(self):
        self.dovecot.start()
        imap = harness_imap.login(self.dovecot.imap_port, self.certs.ca_cert, USER, PASSWORD,
                                  mode="starttls", timeout=3600)
        start = time.monotonic()
        typ, data = imap.select("INBOX")
        if typ != "OK" or int(data[0]) != self.args.messages:
            raise RuntimeError(f"Dovecot SELECT: {typ} {data}")
        log(f"Dovecot {self.dovecot_version()}: first SELECT (index built) in "
            f"{time.monotonic() - start:.1f} s")
        # The session's imap process (a child of the master), for its CPU time.
        self.pids["dovecot"] = child_named(self.dovecot.process.pid, "imap")
        return imap

    def start_popbridge(self):
        binary = self.args.popbridge or harness_popbridge.find_binary()
        pb = harness_popbridge.Popbridge(binary, os.path.join(self.root, "popbridge"), self.certs,
                                         log_level="info")
        pb.add_user(USER, PASSWORD)
        pb.write_config()
        if not self.reuse:
            start = time.monotonic()
            r = pb.run("import", "-c", pb.config_file, USER, self.mbox, timeout=3600)
            if r.returncode != 0:
                raise RuntimeError(f"popbridge import failed ({r.returncode}): "
                                   f"{r.stderr}{r.stdout}")
            log(f"popbridge import: {self.args.messages} messages in "
                f"{time.monotonic() - start:.1f} s")
        pb.start()
        self.popbridge = pb
        # Wait for the deferred search index to cover every body.
        db_path = os.path.join(pb.data_dir, "users", USER, "meta.sqlite")
        start = time.monotonic()
        while True:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
            try:
                pending = db.execute("SELECT count(*) FROM search_pending").fetchone()[0]
                # Stores from before schema version 7 also wait for their word index.
                if db.execute("SELECT 1 FROM sqlite_master "
                              "WHERE name = 'search_words_pending'").fetchone():
                    pending += db.execute(
                        "SELECT count(*) FROM search_words_pending").fetchone()[0]
            finally:
                db.close()
            if pending == 0:
                break
            if not pb.running():
                raise RuntimeError(f"popbridge exited while indexing:\n{pb.logs()}")
            time.sleep(1)
        if not self.reuse:
            log(f"popbridge indexed every body for search in {time.monotonic() - start:.1f} s")
        if self.args.keep:
            with open(os.path.join(self.root, "corpus.done"), "w") as f:
                f.write(self.corpus_key())
        imap = harness_imap.login(pb.imap_port, self.certs.ca_cert, USER, PASSWORD,
                                  mode="starttls", timeout=3600)
        typ, data = imap.select("INBOX")
        if typ != "OK" or int(data[0]) != self.args.messages:
            raise RuntimeError(f"popbridge SELECT: {typ} {data}")
        self.pids["popbridge"] = pb.process.pid
        return imap

    def dovecot_version(self):
        import subprocess
        r = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
        return r.stdout.strip().split()[0] if r.returncode == 0 else "?"

    def measure(self, name, imap, command):
        """(median seconds, all times, answer size, server CPU seconds per run) over --runs runs
        after one warm-up. The server CPU time is the mean over the runs (/proc counts in clock
        ticks, 10 ms); None when the server process is unknown."""
        self.tags = getattr(self, "tags", 0)
        times = []
        found = None
        digest = None
        first = None
        pid = self.pids.get(name)
        cpu_start = None
        for run in range(self.args.runs + 1):
            if run == 1 and pid:
                cpu_start = cpu_seconds(pid)
            self.tags += 1
            elapsed, lines = timed(imap, f"b{self.tags:05d}", command)
            count = answer_size(command, lines)
            if found is not None and count != found:
                raise RuntimeError(f"{command}: {count} then {found}")
            found = count
            this_digest = hashlib.sha256(b"".join(lines)).hexdigest()
            if digest is not None and this_digest != digest:
                raise RuntimeError(f"{command}: the answer changed between runs")
            digest = this_digest
            if run > 0:
                times.append(elapsed)
            else:
                first = elapsed
        cpu = (cpu_seconds(pid) - cpu_start) / self.args.runs if cpu_start is not None else None
        self.last_digest, self.last_first = digest, first
        return statistics.median(times), times, found, cpu

    def run(self):
        self.write_corpus()
        fetch_last = min(self.args.fetch, self.args.messages)
        commands = SEARCHES + [(f"FETCH 1:{fetch_last} (ENVELOPE BODYSTRUCTURE FLAGS)",
                                f"FETCH 1:{fetch_last} (ENVELOPE BODYSTRUCTURE FLAGS)")]
        servers = {"popbridge": self.start_popbridge(), "dovecot": self.start_dovecot()}
        results = []
        for label, command in commands:
            row = {"label": label, "command": command}
            # Alternate the servers per command so slow drift in machine load hits both alike.
            for name, imap in servers.items():
                median, times, found, cpu = self.measure(name, imap, command)
                row[name] = {"median": median, "times": times, "found": found, "cpu": cpu}
            if row["popbridge"]["found"] != row["dovecot"]["found"]:
                raise RuntimeError(f"{command}: popbridge found {row['popbridge']['found']}, "
                                   f"Dovecot {row['dovecot']['found']}")
            row["ratio"] = row["popbridge"]["median"] / row["dovecot"]["median"]
            results.append(row)
            log(f"{label}: popbridge {row['popbridge']['median'] * 1e3:.1f} ms, Dovecot "
                f"{row['dovecot']['median'] * 1e3:.1f} ms")
            if row["popbridge"]["cpu"] and row["dovecot"]["cpu"]:
                row["cpu_ratio"] = row["popbridge"]["cpu"] / row["dovecot"]["cpu"]
        if self.args.binary:
            results += self.run_binary(servers)
        for imap in servers.values():
            harness_imap.safe_logout(imap)
        self.report(results)
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump({"messages": self.args.messages, "bytes": self.bytes,
                           "runs": self.args.runs, "results": results}, f, indent=2)

    def run_binary(self, servers):
        """The --binary rows: APPEND the attachments to both servers (untimed), then time FETCH
        BINARY.PEEK[2] and BINARY.SIZE[2] of each; the answers must be byte-identical."""
        messages = binary_messages(self.args.seed)
        for name, imap in servers.items():
            typ, data = imap.create(BINARY_MAILBOX)
            if typ != "OK":
                raise RuntimeError(f"{name} CREATE {BINARY_MAILBOX}: {data}")
            for _, message in messages:
                typ, data = imap.append(BINARY_MAILBOX, None, None, message)
                if typ != "OK":
                    raise RuntimeError(f"{name} APPEND: {data}")
            typ, data = imap.select(BINARY_MAILBOX)
            if typ != "OK" or int(data[0]) != len(messages):
                raise RuntimeError(f"{name} SELECT {BINARY_MAILBOX}: {typ} {data}")
        results = []
        for seq, (label, _) in enumerate(messages, 1):
            for item in ("BINARY.PEEK[2]", "BINARY.SIZE[2]"):
                command = f"FETCH {seq} ({item})"
                row = {"label": f"{command} {label}", "command": command}
                digests = {}
                for name, imap in servers.items():
                    median, times, found, cpu = self.measure(name, imap, command)
                    row[name] = {"median": median, "times": times, "found": found, "cpu": cpu,
                                 "first": self.last_first}
                    digests[name] = self.last_digest
                if digests["popbridge"] != digests["dovecot"]:
                    raise RuntimeError(f"{command} ({label}): the answers differ")
                row["ratio"] = row["popbridge"]["median"] / row["dovecot"]["median"]
                if row["popbridge"]["cpu"] and row["dovecot"]["cpu"]:
                    row["cpu_ratio"] = row["popbridge"]["cpu"] / row["dovecot"]["cpu"]
                results.append(row)
                log(f"{row['label']}: popbridge {row['popbridge']['median'] * 1e3:.2f} ms "
                    f"(first {row['popbridge']['first'] * 1e3:.2f}), Dovecot "
                    f"{row['dovecot']['median'] * 1e3:.2f} ms "
                    f"(first {row['dovecot']['first'] * 1e3:.2f}), ratio {row['ratio']:.3f}")
        return results

    def report(self, results):
        print()
        print(f"{self.args.messages} messages ({self.bytes / 1e6:.0f} MB) in INBOX; popbridge "
              f"(full-text index) vs Dovecot {self.dovecot_version()} (default settings, no FTS); "
              f"warm runs, median of {self.args.runs}, client wall time over STARTTLS on "
              f"loopback; {os.cpu_count()} CPUs")
        print("wall: median client time; CPU: the server process's user + system time per run "
              "(mean of the runs)")
        print(f"{'command':<52} {'found':>6} {'popbridge':>10} {'Dovecot':>10} {'ratio':>6}"
              f" {'pb CPU':>8} {'Dc CPU':>8} {'ratio':>6}")

        def ms(value):
            if value is None:
                return "?"
            return f"{value * 1e3:.0f} ms" if value >= 0.1 else f"{value * 1e3:.2f} ms"

        for row in results:
            pb, dc = row["popbridge"], row["dovecot"]
            cpu_ratio = f"{row['cpu_ratio']:.3f}" if "cpu_ratio" in row else "?"
            print(f"{row['label']:<52} {pb['found']:>6} {ms(pb['median']):>10} "
                  f"{ms(dc['median']):>10} {row['ratio']:>6.3f} {ms(pb['cpu']):>8} "
                  f"{ms(dc['cpu']):>8} {cpu_ratio:>6}")
        firsts = [row for row in results if "first" in row["popbridge"]]
        if firsts:
            print("first (warm-up) run of each BINARY command, which also fills a cache of "
                  "decoded parts:")
            for row in firsts:
                pb, dc = row["popbridge"], row["dovecot"]
                print(f"{row['label']:<52} {'':>6} {ms(pb['first']):>10} {ms(dc['first']):>10} "
                      f"{pb['first'] / dc['first']:>6.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=10240, help="bytes per message (about)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    parser.add_argument("--fetch", type=int, default=10000, help="FETCH 1:N")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--popbridge", help="the binary (default: newest build/*/proxy/popbridge)")
    parser.add_argument("--workdir", help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory; a later run with the same --workdir, "
                        "--messages, --size and --seed reuses its corpus and both stores")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--binary", action="store_true",
                        help="also time FETCH BINARY / BINARY.SIZE of large base64 and "
                        "quoted-printable attachments")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the private Dovecot runs its mail processes as nobody")
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
