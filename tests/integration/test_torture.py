"""Concurrency torture: several raw IMAP clients on the same mailbox run random APPEND, STORE,
COPY, MOVE, EXPUNGE, FETCH, SEARCH, NOOP and IDLE (by sequence number and by UID) for a bounded
time. Each keeps its own sequence-number -> UID map and flags only from the untagged responses
it receives (harness/tracker.py) and checks every response against it: EXISTS never shrinks the
view, EXPUNGE/VANISHED only where RFC 3501 7.4.1 allows and only for messages the client was
told of, VANISHED instead of EXPUNGE once QRESYNC is on, FETCH UIDs match, SEARCH results lie
within the view, MOVE/EXPUNGE remove what they name, every tagged response is OK or a NO that
concurrency explains. At the end, after a NOOP, every client's view must equal a fresh SELECT's
(UIDs and flags).

The random choices come from a fixed seed (POPBRIDGE_TORTURE_SEED overrides it), printed on
failure. Default: 5 clients for ~10 s; POPBRIDGE_LONG_TESTS=1: 10 clients for ~2 min."""

import os
import random
import threading
import time
import unittest

from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase, long_tests
from harness.tracker import ProtocolError, TrackingClient, format_set

SEED = int(os.environ.get("POPBRIDGE_TORTURE_SEED", "20261129"))
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1"]
OTHER = "Other"
INITIAL = 24
# A NO is legitimate only where another session's expunge explains it.
EXPUNGE_NO = (b"EXPUNGEISSUED", b"NONEXISTENT")


def message(tag, n):
    return (f"From: torture@example.org\r\nTo: alice@example.org\r\n"
            f"Subject: torture {tag} {n}\r\nMessage-ID: <{tag}-{n}@example.org>\r\n\r\n"
            f"body {n}\r\n").encode()


class Worker:
    """One client thread: random commands until `stop` is set; the first error ends it."""

    def __init__(self, test, name, rng, qresync, idler, stop, pause=0.0):
        self.client = TrackingClient(test.pb.imap_port, IMAP_USER, IMAP_PASSWORD, name,
                                     qresync=qresync)
        self.client.select()
        self.rng = rng
        self.idler = idler
        self.pause = pause  # think time between commands: changes pile up in between
        self.stop = stop
        self.error = None
        self.ops = 0
        self.appended = 0
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self):
        ops = [(self.append, 3), (self.store, 6), (self.fetch, 5), (self.search, 4),
               (self.copy, 2), (self.move, 2), (self.expunge, 2), (self.draft, 2), (self.noop, 1),
               (self.idle, 2)]
        if self.idler:
            ops.append((self.idle, 20))
        funcs = [f for f, _ in ops]
        weights = [w for _, w in ops]
        try:
            while not self.stop.is_set():
                c = self.client
                if len(c.model) < 6:
                    self.append()
                else:
                    self.rng.choices(funcs, weights)[0]()
                c.learn()
                self.ops += 1
                if self.pause:
                    time.sleep(self.rng.uniform(0, self.pause))
        except Exception as e:  # noqa: BLE001 - reported by the test thread
            self.error = e
            self.stop.set()

    # ------------------------------------------------------------- helpers

    def pick(self, most=3):
        """A few sequence numbers (1-based, ascending) of the client's view, or []."""
        n = len(self.client.model)
        if n == 0:
            return []
        k = min(n, self.rng.randint(1, most))
        return sorted(self.rng.sample(range(1, n + 1), k))

    def target(self, seqs, by_uid):
        model = self.client.model
        if by_uid:
            return format_set([model[s - 1].uid for s in seqs])
        return format_set(seqs)

    def expect(self, reply, what, allow_no=EXPUNGE_NO):
        if reply.status == "OK":
            return True
        if any(code in (reply.code or b"") for code in allow_no):
            return False
        self.client.fail(f"{what}: {reply.status} [{reply.code}] {reply.text}")

    # ------------------------------------------------------------- commands

    def append(self):
        c = self.client
        self.appended += 1
        mailbox = OTHER if self.rng.random() < 0.15 else "INBOX"
        flags = " ".join(self.rng.sample(FLAGS, self.rng.randint(0, 2)))
        known = [u for u in c.uids() if u is not None]
        r = c.command(f"APPEND {mailbox} ({flags})",
                      literal=message(c.name, self.appended))
        self.expect(r, "APPEND", allow_no=())
        code = (r.code or b"").split()
        if len(code) != 3 or code[0] != b"APPENDUID":
            c.fail(f"APPEND without APPENDUID: {r.code}")
        if mailbox == "INBOX" and known and int(code[2]) <= max(known):
            c.fail(f"APPENDUID {int(code[2])} not above the known UIDs (max {max(known)})")

    def draft(self):
        """A draft saved and replaced at once: APPEND, then \\Deleted and UID EXPUNGE of the new
        UID. Other sessions get the append and the expunge close together."""
        c = self.client
        self.appended += 1
        r = c.command("APPEND INBOX (\\Draft)", literal=message(c.name, self.appended))
        self.expect(r, "APPEND", allow_no=())
        uid = int((r.code or b"").split()[2])
        r = c.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        self.expect(r, "STORE \\Deleted", allow_no=())
        r = c.command(f"UID EXPUNGE {uid}")
        self.expect(r, "UID EXPUNGE", allow_no=())
        if c.index_of(uid) is not None:
            c.fail(f"UID EXPUNGE {uid} OK but the message is still there")

    def store(self):
        c = self.client
        seqs = self.pick()
        if not seqs:
            return
        by_uid = self.rng.random() < 0.5
        op = self.rng.choice(["+FLAGS", "-FLAGS"])
        flags = " ".join(self.rng.sample(FLAGS, self.rng.randint(1, 2)))
        target = self.target(seqs, by_uid)
        r = c.command(f"{'UID ' if by_uid else ''}STORE {target} {op} ({flags})",
                      kind=None if by_uid else "STORE")
        self.expect(r, "STORE")

    def fetch(self):
        c = self.client
        n = len(c.model)
        if n == 0:
            return
        by_uid = self.rng.random() < 0.5
        lo = self.rng.randint(1, n)
        hi = min(n, lo + self.rng.randint(0, 5))
        if by_uid:
            uids = [e.uid for e in c.model[lo - 1:hi]]
            r = c.command(f"UID FETCH {format_set(uids)} (FLAGS)")
            if self.expect(r, "UID FETCH"):
                got = {uid for _, uid, _ in r.fetches}
                for uid in uids:
                    if c.index_of(uid) is not None and uid not in got:
                        c.fail(f"UID FETCH OK but no answer for UID {uid}")
            for _, uid, _ in r.fetches:
                if uid is None:
                    c.fail("UID FETCH answer without UID (RFC 3501 6.4.8)")
        else:
            r = c.command(f"FETCH {lo}:{hi} (UID FLAGS)", kind="FETCH")
            if self.expect(r, "FETCH"):
                got = {seq for seq, uid, _ in r.fetches if uid is not None}
                missing = [s for s in range(lo, hi + 1) if s not in got]
                if missing:
                    c.fail(f"FETCH {lo}:{hi} OK but no UID for {missing}")

    def search(self):
        c = self.client
        by_uid = self.rng.random() < 0.5
        criteria = self.rng.choice(["ALL", "FLAGGED", "UNSEEN", "KEYWORD $Label1"])
        known_max = max([u for u in c.uids() if u is not None], default=0)
        r = c.command(f"{'UID ' if by_uid else ''}SEARCH {criteria}",
                      kind=None if by_uid else "SEARCH")
        self.expect(r, "SEARCH", allow_no=())
        if r.search is None:
            c.fail("SEARCH without an untagged SEARCH response")
        if by_uid:
            c.learn()
            present = set(c.uids()) | set(r.expunged)
            for uid in r.search:
                if uid not in present and uid <= known_max:
                    c.fail(f"UID SEARCH {criteria} found UID {uid}, unknown to the client")
        else:
            for seq in r.search:
                if not 1 <= seq <= len(c.model):
                    c.fail(f"SEARCH {criteria} found {seq} of {len(c.model)} messages")
            if r.search != sorted(set(r.search)):
                c.fail(f"SEARCH {criteria} results not ascending: {r.search}")
            if criteria == "ALL":
                # Messages expunged by another session but still in this view may be left out;
                # their expunge must then reach this client.
                found = set(r.search)
                c.doomed.update(c.model[n - 1].uid for n in range(1, len(c.model) + 1)
                                if n not in found and c.model[n - 1].uid is not None)

    def copy(self, verb="COPY"):
        c = self.client
        seqs = self.pick()
        if not seqs:
            return
        by_uid = self.rng.random() < 0.5
        uids = [c.model[s - 1].uid for s in seqs]
        r = c.command(f"{'UID ' if by_uid else ''}{verb} {self.target(seqs, by_uid)} {OTHER}")
        if self.expect(r, verb) and verb == "MOVE":
            for uid in uids:
                if c.index_of(uid) is not None:
                    c.fail(f"MOVE OK but UID {uid} is still in the client's view")

    def move(self):
        self.copy("MOVE")

    def expunge(self):
        c = self.client
        seqs = self.pick(2)
        if not seqs:
            return
        uids = [c.model[s - 1].uid for s in seqs]
        r = c.command(f"UID STORE {format_set(uids)} +FLAGS.SILENT (\\Deleted)")
        if not self.expect(r, "STORE \\Deleted"):
            return
        if self.rng.random() < 0.5:
            r = c.command(f"UID EXPUNGE {format_set(uids)}")
        else:
            r = c.command("EXPUNGE")
        self.expect(r, "EXPUNGE", allow_no=())
        for uid in uids:
            if c.index_of(uid) is not None:
                c.fail(f"EXPUNGE OK but UID {uid} (\\Deleted by this client) is still there")

    def noop(self):
        self.expect(self.client.command("NOOP"), "NOOP", allow_no=())

    def idle(self):
        self.expect(self.client.idle(self.rng.uniform(0.05, 0.4)), "IDLE", allow_no=())


class TortureTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge(start=False)
        self.pb.plaintext_auth = "loopback"  # raw sockets on loopback, no TLS cost
        self.pb.log_level = "info"
        self.pb.start()

    def test_concurrent_clients_stay_consistent(self):
        clients, seconds = (10, 120) if long_tests() else (5, 10)
        seed = SEED
        try:
            self.run_trial(seed, clients, seconds)
        except ProtocolError as e:
            raise AssertionError(f"seed {seed} (POPBRIDGE_TORTURE_SEED): {e}") from None

    def run_trial(self, seed, clients, seconds):
        setup = TrackingClient(self.pb.imap_port, IMAP_USER, IMAP_PASSWORD, "setup")
        self.addCleanup(setup.close)
        self.assertEqual(setup.command(f"CREATE {OTHER}").status, "OK")
        for i in range(INITIAL):
            self.assertEqual(setup.command("APPEND INBOX ()", literal=message("setup", i)).status,
                             "OK")
        stop = threading.Event()
        workers = []
        for i in range(clients):
            rng = random.Random(seed * 1000 + i)
            # Every other client has QRESYNC on; the last one mostly idles.
            # The first two think between commands, so others' changes reach them in batches.
            w = Worker(self, f"c{i}", rng, qresync=i % 2 == 1, idler=i == clients - 1,
                       stop=stop, pause=0.05 if i < 2 else 0.0)
            self.addCleanup(w.client.close)
            workers.append(w)
        for w in workers:
            w.thread.start()
        stop.wait(seconds)
        stop.set()
        for w in workers:
            w.thread.join(60)
            self.assertFalse(w.thread.is_alive(), f"{w.client.name} hangs")
        for w in workers:
            if w.error is not None:
                if isinstance(w.error, ProtocolError):
                    raise w.error
                raise AssertionError(f"{w.client.name}: {w.error!r}\n" +
                                     "\n".join(w.client.transcript[-30:])) from w.error
        total = sum(w.ops for w in workers)
        print(f"torture seed {seed}: {clients} clients, {total} operations in {seconds} s")
        self.assertGreater(total, clients * 10, "too few operations to mean anything")

        # Quiet now: one NOOP brings every client up to date; all must agree with a fresh view.
        fresh = TrackingClient(self.pb.imap_port, IMAP_USER, IMAP_PASSWORD, "fresh")
        self.addCleanup(fresh.close)
        fresh.select()
        want = [(e.uid, e.flags) for e in fresh.model]
        self.assertGreater(len(want), 0)
        for w in workers:
            c = w.client
            self.assertEqual(c.command("NOOP").status, "OK")
            c.learn()
            if c.doomed & set(c.uids()):
                c.fail(f"SEARCH ALL left out {sorted(c.doomed & set(c.uids()))}, never expunged")
            got = [(e.uid, e.flags) for e in c.model]
            if got != want:
                c.fail(f"view differs from a fresh SELECT:\n  client {got}\n  fresh  {want}")


if __name__ == "__main__":
    unittest.main()
