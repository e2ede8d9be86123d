"""SIGKILL of popbridge during IMAP write storms, then a restart: every acknowledged write is
there, the one write in flight at the kill is all or nothing, and `popbridge store check` is
clean.

Several IMAP sessions run at once, each a worker with two mailboxes of its own (so its model of
them is exact): APPEND, UID COPY, UID MOVE, UID STORE (+FLAGS, -FLAGS, FLAGS, keywords and
\\Deleted) and UID EXPUNGE / EXPUNGE, at random, one command in flight per session, with
CONDSTORE enabled. A write counts as acknowledged when its tagged OK arrives. The daemon is
SIGKILLed at a random moment of the storm. After the restart each worker's mailboxes must hold
exactly its acknowledged state, or that state with its one unacknowledged command applied
whole (a MOVE is never in both mailboxes or in neither), every body byte-identical; no MODSEQ
went below one seen before the kill and HIGHESTMODSEQ is at least every MODSEQ ever seen; and an
APPEND after the restart gets a UID above every UID ever seen in that mailbox. The mailboxes
carry over from trial to trial, so later trials also check what earlier ones left.

A few trials by default; POPBRIDGE_LONG_TESTS=1 runs 50. POPBRIDGE_KILL_SEED=<seed printed by a
run> replays its choices (the kill moments still depend on timing)."""

import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase, long_tests

TRIALS = 50 if long_tests() else 3
WORKERS = 3
# The kill comes this long after the storm started (seconds).
KILL_AFTER = (0.05, 1.5)
FLAG_POOL = ("\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted", "$Label1", "$Label2")
# Keep each worker's two mailboxes around this many messages in total.
TARGET_MESSAGES = 24


class Dead(Exception):
    """The daemon went away (EOF or a reset) while a command was in flight."""


class RawImap:
    """One IMAP session over implicit TLS: commands with LITERAL+ literals, responses kept as raw
    bytes with their literals. Any connection error becomes Dead."""

    def __init__(self, port, ca_file):
        context = ssl.create_default_context(cafile=ca_file)
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.file = self.sock.makefile("rb")
        self.n = 0
        greeting = self.file.readline()
        if not greeting.startswith(b"* OK"):
            raise AssertionError(f"greeting {greeting!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _response(self):
        data = b""
        while True:
            line = self.file.readline()
            if not line.endswith(b"\r\n"):
                raise Dead()
            data += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return data
            literal = self.file.read(int(m.group(1)))
            if len(literal) != int(m.group(1)):
                raise Dead()
            data += literal

    def command(self, text, literal=None):
        """Sends one command and reads to its tagged response; returns (tagged, [untagged]).
        Raises Dead if the connection breaks, AssertionError on NO or BAD."""
        self.n += 1
        tag = b"s%d" % self.n
        line = tag + b" " + text
        try:
            if literal is None:
                self.sock.sendall(line + b"\r\n")
            else:
                self.sock.sendall(line + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
            untagged = []
            while True:
                r = self._response()
                if r.startswith(tag + b" "):
                    if not r.startswith(tag + b" OK"):
                        raise AssertionError(f"{text!r}: {r!r}")
                    return r, untagged
                untagged.append(r)
        except (OSError, ssl.SSLError, ValueError):
            raise Dead() from None


def body_of(key):
    return (b"From: storm@example.org\r\nTo: alice@example.org\r\nSubject: storm %s\r\n"
            b"Message-ID: <%s@storm.example.org>\r\n\r\nbody of %s\r\n" % (key, key, key)
            + b"x" * (len(key) * 37 % 900) + b"\r\n")


def uid_list(text):
    """UIDs of an IMAP uid-set in its order (COPYUID lists them in the order of the copies)."""
    out = []
    for part in text.decode().split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
        else:
            out.append(int(part))
    return out


def uid_set(uids):
    return ",".join(str(u) for u in sorted(uids)).encode()


def flag_list(flags):
    return " ".join(sorted(flags)).encode()


_FETCH = re.compile(rb"^\* \d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_MODSEQ = re.compile(rb"MODSEQ \((\d+)\)")
_HIGHESTMODSEQ = re.compile(rb"\[HIGHESTMODSEQ (\d+)\]")


def split_literals(response):
    """(the response with each literal replaced by b"{}", [the literals in order])."""
    text, literals, pos = b"", [], 0
    for m in re.finditer(rb"\{(\d+)\}\r\n", response):
        if m.start() < pos:
            continue  # inside a literal already taken
        text += response[pos:m.start()] + b"{}"
        literals.append(response[m.end():m.end() + int(m.group(1))])
        pos = m.end() + int(m.group(1))
    return text + response[pos:], literals


def fetch_items(response):
    """(uid, flags, modseq) of an untagged FETCH; flags without \\Recent (session state, not
    stored), None for absent items."""
    head, _ = split_literals(response)
    uid = _UID.search(head)
    flags = _FLAGS.search(head)
    modseq = _MODSEQ.search(head)
    return (int(uid.group(1)) if uid else None,
            frozenset(flags.group(1).decode().split()) - {"\\Recent"} if flags else None,
            int(modseq.group(1)) if modseq else None)


class Worker:
    """One session's storm over its own two mailboxes. `state` is the acknowledged content,
    {mailbox: {uid: (key, flags)}}; `inflight` the command sent but not acknowledged when the
    connection died (None if none)."""

    def __init__(self, index, rng):
        self.index = index
        self.rng = rng
        self.mailboxes = (f"W{index}a", f"W{index}b")
        self.state = {m: {} for m in self.mailboxes}
        self.inflight = None
        self.max_uid = {m: 0 for m in self.mailboxes}  # every UID ever seen
        self.seen_modseq = {m: {} for m in self.mailboxes}  # uid -> highest MODSEQ seen
        self.highest_seen = {m: 0 for m in self.mailboxes}  # every MODSEQ / HIGHESTMODSEQ seen
        self.acked = {}  # kind -> count
        self.next_key = 0
        self.selected = None
        self.conn = None
        self.error = None

    # --------------------------------------------------------------- bookkeeping

    def new_key(self, trial):
        self.next_key += 1
        return b"w%dt%dm%d" % (self.index, trial, self.next_key)

    def new_uids(self, mailbox, uids):
        """UIDs a command just created: above every UID ever seen in the mailbox (never reused,
        also across restarts) and ascending."""
        if uids != sorted(set(uids)) or (uids and uids[0] <= self.max_uid[mailbox]):
            raise AssertionError(f"{mailbox}: new UIDs {uids} after UIDs up to "
                                 f"{self.max_uid[mailbox]} were seen")
        self.saw_uids(mailbox, uids)

    def saw_uids(self, mailbox, uids):
        if uids:
            self.max_uid[mailbox] = max(self.max_uid[mailbox], *uids)

    def saw_modseq(self, mailbox, uid, modseq):
        if modseq is None:
            return
        self.highest_seen[mailbox] = max(self.highest_seen[mailbox], modseq)
        if uid is not None:
            per = self.seen_modseq[mailbox]
            per[uid] = max(per.get(uid, 0), modseq)

    def note_fetches(self, mailbox, untagged):
        for r in untagged:
            if _FETCH.match(r):
                uid, _flags, modseq = fetch_items(r)
                self.saw_modseq(mailbox, uid, modseq)

    # --------------------------------------------------------------- the model

    @staticmethod
    def apply(state, op, new_uids):
        """The state after `op` committed; `new_uids` are the UIDs it created (APPEND, COPY,
        MOVE), in order."""
        out = {m: dict(c) for m, c in state.items()}
        kind = op[0]
        if kind == "append":
            _, mailbox, key, flags = op
            if len(new_uids) != 1:
                return None  # cannot be what was committed
            out[mailbox][new_uids[0]] = (key, flags)
            return out
        if kind == "store":
            _, mailbox, uids, mode, flags = op
            for uid in uids:
                if uid not in out[mailbox]:
                    continue
                key, old = out[mailbox][uid]
                new = {"+": old | flags, "-": old - flags, "=": flags}[mode]
                out[mailbox][uid] = (key, frozenset(new))
            return out
        if kind in ("copy", "move"):
            _, source, uids, destination = op
            present = [u for u in sorted(uids) if u in out[source]]
            if len(present) != len(new_uids):
                return None  # cannot be what was committed
            for src, dst in zip(present, new_uids):
                out[destination][dst] = out[source][src]
                if kind == "move":
                    del out[source][src]
            return out
        if kind == "expunge":
            _, mailbox, uids = op
            for uid in list(out[mailbox]):
                if (uids is None or uid in uids) and "\\Deleted" in out[mailbox][uid][1]:
                    del out[mailbox][uid]
            return out
        raise AssertionError(op)

    # --------------------------------------------------------------- the storm

    def select(self, mailbox):
        if self.selected == mailbox:
            return
        tagged, untagged = self.conn.command(b"SELECT " + mailbox.encode())
        for r in untagged:
            m = _HIGHESTMODSEQ.search(r)
            if m:
                self.saw_modseq(mailbox, None, int(m.group(1)))
        self.selected = mailbox

    def pick(self, trial):
        rng = self.rng
        total = sum(len(c) for c in self.state.values())
        source = rng.choice(self.mailboxes)
        destination = self.mailboxes[1] if source == self.mailboxes[0] else self.mailboxes[0]
        uids = sorted(self.state[source])
        if not uids or rng.random() < (0.5 if total < TARGET_MESSAGES // 2 else 0.1):
            flags = frozenset(rng.sample(FLAG_POOL[:4] + FLAG_POOL[5:], rng.randint(0, 2)))
            return ("append", source, self.new_key(trial), flags)
        chosen = frozenset(rng.sample(uids, rng.randint(1, min(4, len(uids)))))
        r = rng.random()
        if r < 0.35:
            mode = rng.choice("+-=")
            flags = frozenset(rng.sample(FLAG_POOL, rng.randint(1, 3)))
            return ("store", source, chosen, mode, flags)
        if r < 0.55:
            # Copies grow the mailboxes: only while they are small.
            if total < TARGET_MESSAGES:
                return ("copy", source, chosen, destination)
            return ("store", source, chosen, "+", frozenset({"\\Deleted"}))
        if r < 0.75:
            return ("move", source, chosen, destination)
        if rng.random() < 0.2:
            return ("expunge", source, None)
        deleted = [u for u in uids if "\\Deleted" in self.state[source][u][1]]
        if deleted and rng.random() < 0.7:
            chosen = frozenset(rng.sample(deleted, rng.randint(1, min(4, len(deleted))))) | chosen
        return ("expunge", source, chosen)

    def execute(self, op):
        """Runs one command; returns the UIDs it created. Dead if the daemon died first."""
        kind = op[0]
        if kind == "append":
            _, mailbox, key, flags = op
            tagged, _ = self.conn.command(
                b"APPEND %s (%s)" % (mailbox.encode(), flag_list(flags)), body_of(key))
            m = re.search(rb"\[APPENDUID \d+ (\d+)\]", tagged)
            if not m:
                raise AssertionError(f"APPEND without APPENDUID: {tagged!r}")
            self.new_uids(mailbox, [int(m.group(1))])
            return [int(m.group(1))]
        mailbox = op[1]
        self.select(mailbox)
        if kind == "store":
            _, _, uids, mode, flags = op
            item = {"+": b"+FLAGS", "-": b"-FLAGS", "=": b"FLAGS"}[mode]
            tagged, untagged = self.conn.command(
                b"UID STORE %s %s (%s)" % (uid_set(uids), item, flag_list(flags)))
            self.note_fetches(mailbox, untagged)
            return []
        if kind in ("copy", "move"):
            _, _, uids, destination = op
            verb = b"COPY" if kind == "copy" else b"MOVE"
            tagged, untagged = self.conn.command(
                b"UID %s %s %s" % (verb, uid_set(uids), destination.encode()))
            self.note_fetches(mailbox, untagged)
            for r in [tagged, *untagged]:
                m = re.search(rb"\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]", r)
                if m:
                    created = uid_list(m.group(2))
                    self.new_uids(destination, created)
                    return created
            raise AssertionError(f"{verb.decode()} without COPYUID: {tagged!r}")
        if kind == "expunge":
            _, _, uids = op
            text = b"EXPUNGE" if uids is None else b"UID EXPUNGE " + uid_set(uids)
            self.conn.command(text)
            return []
        raise AssertionError(op)

    def storm(self, trial, ready, stop):
        """Thread body: setup, then random commands until the connection dies or `stop` is set
        (the daemon may not die if the kill came after every command: `stop` ends it then)."""
        try:
            ready.wait()
            while not stop.is_set():
                op = self.pick(trial)
                self.inflight = op
                new_uids = self.execute(op)
                after = self.apply(self.state, op, new_uids)
                if after is None:
                    raise AssertionError(f"{op} acknowledged with UIDs {new_uids}")
                self.state = after
                self.inflight = None
                self.acked[op[0]] = self.acked.get(op[0], 0) + 1
        except Dead:
            pass
        except BaseException as e:  # reported by the test thread
            self.error = e


class StoreKillTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        seed = int(os.environ.get("POPBRIDGE_KILL_SEED") or time.time_ns())
        self.rng = random.Random(seed)
        self.inflight_outcomes = {}  # (command, "done" | "not done" | "changes nothing") -> n
        print(f"\n{self.id()}: seed {seed}", flush=True)

    def connect(self, pb):
        conn = RawImap(pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(conn.close)
        conn.command(b'LOGIN "%s" "%s"' % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        conn.command(b"ENABLE CONDSTORE")
        return conn

    def read_mailbox(self, conn, worker, mailbox):
        """{uid: (key, flags)}, {uid: modseq} and HIGHESTMODSEQ of a mailbox after the restart;
        every body must be byte-identical to the one appended."""
        _, untagged = conn.command(b"SELECT " + mailbox.encode())
        highest = [int(m.group(1)) for r in untagged if (m := _HIGHESTMODSEQ.search(r))]
        self.assertEqual(len(highest), 1, untagged)
        content, modseqs = {}, {}
        _, untagged = conn.command(b"UID FETCH 1:* (UID FLAGS MODSEQ BODY.PEEK[])")
        for r in untagged:
            if not _FETCH.match(r):
                continue
            uid, flags, modseq = fetch_items(r)
            text, literals = split_literals(r)
            self.assertEqual(len(literals), 1, f"{mailbox} UID {uid}: {text!r}")
            body = literals[0]
            m = re.search(rb"Message-ID: <([^@]+)@storm", body)
            self.assertIsNotNone(m, f"{mailbox} UID {uid}: no Message-ID in {body[:300]!r}")
            key = m.group(1)
            self.assertEqual(body, body_of(key), f"{mailbox} UID {uid}: body")
            content[uid] = (key, flags)
            modseqs[uid] = modseq
        return content, modseqs, highest[0]

    def verify(self, pb, trial, worker):
        """After the restart: worker's mailboxes against its model; then an APPEND per mailbox
        whose UID must be above every UID ever seen. Makes the observed state the new model."""
        conn = self.connect(pb)
        observed, modseqs, highest = {}, {}, {}
        for mailbox in worker.mailboxes:
            observed[mailbox], modseqs[mailbox], highest[mailbox] = \
                self.read_mailbox(conn, worker, mailbox)
        where = f"trial {trial} worker {worker.index}"
        candidates = [("acknowledged state", worker.state)]
        op = worker.inflight
        if op is not None:
            new_uids = []
            if op[0] in ("append", "copy", "move"):
                target = op[1] if op[0] == "append" else op[3]
                new_uids = sorted(set(observed[target]) - set(worker.state[target]))
            after = Worker.apply(worker.state, op, new_uids)
            if after is not None:
                candidates.append((f"unacknowledged {op[0]} applied", after))
        matched = [name for name, state in candidates if observed == state]
        if op is not None and matched:
            outcome = {1: "not done" if matched[0] == "acknowledged state" else "done",
                       2: "changes nothing"}[len(matched)]
            self.inflight_outcomes[(op[0], outcome)] = \
                self.inflight_outcomes.get((op[0], outcome), 0) + 1
        if not matched:
            lines = [f"{where}: store matches none of {[n for n, _ in candidates]}",
                     f"in flight: {op}"]
            for mailbox in worker.mailboxes:
                for name, state in candidates:
                    if state[mailbox] != observed[mailbox]:
                        lines.append(f"{mailbox} vs {name}: missing "
                                     f"{sorted(set(state[mailbox]) - set(observed[mailbox]))}, "
                                     f"extra {sorted(set(observed[mailbox]) - set(state[mailbox]))},"
                                     f" differing {sorted(u for u in state[mailbox] if u in observed[mailbox] and state[mailbox][u] != observed[mailbox][u])}")
            self.fail("\n".join(lines) + "\n" + pb.logs())
        for mailbox in worker.mailboxes:
            # Only the unacknowledged command can have created UIDs, and never old ones.
            for uid in set(observed[mailbox]) - set(worker.state[mailbox]):
                self.assertGreater(uid, worker.max_uid[mailbox],
                                   f"{where}: {mailbox} UID {uid} reused")
            self.assertGreaterEqual(highest[mailbox], worker.highest_seen[mailbox],
                                    f"{where}: {mailbox} HIGHESTMODSEQ went backwards")
            for uid, modseq in modseqs[mailbox].items():
                self.assertIsNotNone(modseq, f"{where}: {mailbox} UID {uid} without MODSEQ")
                self.assertLessEqual(modseq, highest[mailbox],
                                     f"{where}: {mailbox} UID {uid} above HIGHESTMODSEQ")
                self.assertGreaterEqual(modseq, worker.seen_modseq[mailbox].get(uid, 0),
                                        f"{where}: {mailbox} UID {uid} MODSEQ went backwards")
            worker.saw_uids(mailbox, list(observed[mailbox]))
        worker.state = observed
        worker.inflight = None
        for mailbox in worker.mailboxes:
            key = worker.new_key(trial)
            tagged, _ = conn.command(b"APPEND %s ()" % mailbox.encode(), body_of(key))
            uid = int(re.search(rb"\[APPENDUID \d+ (\d+)\]", tagged).group(1))
            self.assertGreater(uid, worker.max_uid[mailbox],
                               f"{where}: {mailbox} reused UID {uid} after the restart")
            worker.saw_uids(mailbox, [uid])
            worker.state[mailbox][uid] = (key, frozenset())
        conn.command(b"LOGOUT")

    def store_check(self, pb, when):
        check = pb.store_check()
        self.assertEqual(check.returncode, 0, f"{when}: store check:\n{check.stdout}{check.stderr}")
        m = re.search(r"(\d+) problems, (\d+) orphans", check.stdout)
        self.assertIsNotNone(m, check.stdout)
        self.assertEqual((m.group(1), m.group(2)), ("0", "0"),
                         f"{when}: store check:\n{check.stdout}")

    def test_kill_during_write_storms(self):
        pb = self.new_popbridge()
        workers = [Worker(i, random.Random(self.rng.getrandbits(32))) for i in range(WORKERS)]
        setup = self.connect(pb)
        for w in workers:
            for mailbox in w.mailboxes:
                setup.command(b"CREATE " + mailbox.encode())
        setup.command(b"LOGOUT")
        acked = {}
        for trial in range(TRIALS):
            ready, stop = threading.Event(), threading.Event()
            threads = []
            for w in workers:
                w.conn = self.connect(pb)
                w.selected = None
                w.error = None
                t = threading.Thread(target=w.storm, args=(trial, ready, stop), daemon=True)
                t.start()
                threads.append(t)
            ready.set()
            # The first storm runs long enough for every kind of command to be acknowledged.
            low = KILL_AFTER[1] / 2 if trial == 0 else KILL_AFTER[0]
            time.sleep(self.rng.uniform(low, KILL_AFTER[1]))
            pb.kill_now()
            pb.kill()
            stop.set()
            for t in threads:
                t.join(60)
                self.assertFalse(t.is_alive(), f"trial {trial}: a worker hangs")
            for w in workers:
                w.conn.close()
                if w.error is not None:
                    raise AssertionError(f"trial {trial} worker {w.index}: {w.error!r}") \
                        from w.error
            self.store_check(pb, f"trial {trial} after the kill")
            pb.start()
            for w in workers:
                self.verify(pb, trial, w)
        for w in workers:
            for kind, n in w.acked.items():
                acked[kind] = acked.get(kind, 0) + n
        print(f"{self.id()}: {TRIALS} trials, acknowledged {sorted(acked.items())}, "
              f"in flight at the kill {sorted(self.inflight_outcomes.items())}", flush=True)
        for kind in ("append", "copy", "move", "store", "expunge"):
            self.assertGreater(acked.get(kind, 0), 0, f"no {kind} was ever acknowledged")
        self.assert_clean_stop(pb)
        self.store_check(pb, "the end")


class DiskFullTest(PopbridgeCase):
    """The data directory on a small tmpfs (root only: the test mounts it): APPENDs until the
    file system is full. The one that does not fit fails with a tagged NO, the daemon keeps
    serving, every acknowledged APPEND is there byte-identical after a restart, and store check
    is clean (nothing half-written is left)."""

    def mount_tmpfs(self, pb, size):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        os.makedirs(pb.data_dir, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", pb.data_dir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")

        def unmount():
            try:
                pb.stop()
            finally:
                pb.kill()
                subprocess.run(["umount", "-l", pb.data_dir], check=False)

        self.addCleanup(unmount)  # runs before the harness's own stop: stop first, then unmount

    def test_append_on_a_full_disk(self):
        pb = self.new_popbridge(start=False)
        self.mount_tmpfs(pb, "4m")
        pb.start()
        conn = self.connect(pb)
        acked = {}
        refused = None
        rng = random.Random(7)
        for n in range(200):
            key = b"full%d" % n
            body = body_of(key) + bytes(rng.choice(b"abcdefgh") for _ in range(1000)) * 150
            try:
                tagged, _ = conn.command(b"APPEND INBOX (\\Seen)", body)
            except AssertionError as e:
                refused = str(e)
                break
            acked[int(re.search(rb"\[APPENDUID \d+ (\d+)\]", tagged).group(1))] = body
        self.assertIsNotNone(refused, "4 MB took 200 messages of 150 KB")
        self.assertIn(" NO ", refused)
        self.assertGreater(len(acked), 0)
        print(f"{self.id()}: {len(acked)} APPENDs acknowledged, then {refused}", flush=True)
        # Still serving: the acknowledged messages read back from the full disk.
        self.assertEqual(self.read_inbox(conn), acked)
        conn.command(b"LOGOUT")
        self.assert_clean_stop(pb)
        self.store_check(pb, "after the full disk")
        pb.start()
        conn = self.connect(pb)
        self.assertEqual(self.read_inbox(conn), acked)
        conn.command(b"LOGOUT")

    def connect(self, pb):
        conn = RawImap(pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(conn.close)
        conn.command(b'LOGIN "%s" "%s"' % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        return conn

    def read_inbox(self, conn):
        conn.command(b"SELECT INBOX")
        _, untagged = conn.command(b"UID FETCH 1:* (UID BODY.PEEK[])")
        out = {}
        for r in untagged:
            if _FETCH.match(r):
                uid, _, _ = fetch_items(r)
                out[uid] = split_literals(r)[1][0]
        return out

    store_check = StoreKillTest.store_check


if __name__ == "__main__":
    unittest.main()
