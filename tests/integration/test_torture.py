"""Concurrency torture: several raw IMAP clients on two mailboxes (INBOX, also fed by POP pulls,
and Other) run random APPEND, STORE (also UNCHANGEDSINCE), COPY, MOVE, EXPUNGE, FETCH, SEARCH,
NOOP, IDLE, pipelined commands and QRESYNC re-SELECTs, by sequence number and by UID, for a
bounded time; some have QRESYNC or CONDSTORE on. Each keeps its own sequence-number -> UID map
and flags only from the untagged responses it receives (harness/tracker.py) and checks every
response against it: EXISTS never shrinks the view, EXPUNGE/VANISHED only where RFC 3501 7.4.1
allows and only for messages the client was told of, VANISHED instead of EXPUNGE once QRESYNC is
on, FETCH UIDs match, MODSEQ never goes back, SEARCH results lie within the view (a message a
SEARCH ALL leaves out must later be expunged), MOVE/EXPUNGE remove what they name, a QRESYNC
SELECT rebuilds exactly the current view, every tagged response is OK or a NO that concurrency
explains. At the end, after a NOOP, every client's view must equal a fresh SELECT's (UIDs and
flags).

The random choices come from a fixed seed (POPBRIDGE_TORTURE_SEED overrides it), printed on
failure; thread timing still varies from run to run. Default: 5 clients for 10 s;
POPBRIDGE_LONG_TESTS=1: 10 clients for 2 min."""

import os
import random
import threading
import time
import unittest

from harness.case import IMAP_PASSWORD, IMAP_USER, POP_USER, PopbridgeCase, long_tests
from harness.tracker import ProtocolError, TrackingClient, format_set, parse_set

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

    def __init__(self, test, name, rng, enable, idler, stop, pause=0.0, mailbox="INBOX"):
        self.client = TrackingClient(test.pb.imap_port, IMAP_USER, IMAP_PASSWORD, name,
                                     enable=enable)
        self.mailbox = mailbox
        self.other = OTHER if mailbox == "INBOX" else "INBOX"  # where COPY and MOVE go
        self.client.select(mailbox)
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
               (self.copy, 2), (self.move, 2), (self.expunge, 2), (self.draft, 2),
               (self.pipeline, 2), (self.sort, 1), (self.noop, 1), (self.idle, 2)]
        ops.append((self.reselect, 1))
        if self.client.qresync:
            ops.append((self.resync, 1))
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
        mailbox = self.other if self.rng.random() < 0.15 else self.mailbox
        flags = " ".join(self.rng.sample(FLAGS, self.rng.randint(0, 2)))
        known = [u for u in c.uids() if u is not None]
        r = c.command(f"APPEND {mailbox} ({flags})",
                      literal=message(c.name, self.appended))
        self.expect(r, "APPEND", allow_no=())
        code = (r.code or b"").split()
        if len(code) != 3 or code[0] != b"APPENDUID":
            c.fail(f"APPEND without APPENDUID: {r.code}")
        if mailbox == self.mailbox and known and int(code[2]) <= max(known):
            c.fail(f"APPENDUID {int(code[2])} not above the known UIDs (max {max(known)})")

    def draft(self):
        """A draft saved and replaced at once: APPEND, then \\Deleted and UID EXPUNGE of the new
        UID. Other sessions get the append and the expunge close together."""
        c = self.client
        self.appended += 1
        r = c.command(f"APPEND {self.mailbox} (\\Draft)", literal=message(c.name, self.appended))
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
        condition = ""
        if c.condstore and self.rng.random() < 0.5:
            # RFC 7162 3.1.3: only if unchanged since the MODSEQ this client knows (the lowest).
            condition = f"(UNCHANGEDSINCE {min(c.model[s - 1].modseq for s in seqs)}) "
        r = c.command(f"{'UID ' if by_uid else ''}STORE {target} {condition}{op} ({flags})",
                      kind=None if by_uid else "STORE")
        self.expect(r, "STORE")
        if r.code and r.code.startswith(b"MODIFIED"):
            named = set(parse_set(r.code.split()[1]))
            asked = set(parse_set(target.encode()))
            if not condition or not named <= asked:
                c.fail(f"[{r.code.decode()}] for a STORE of {target} {condition}")

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
                for n, uid in enumerate(r.search_view, 1):
                    if n not in found and uid is not None:
                        c.doomed[uid] = "\n".join(c.transcript[-12:])

    def sort(self):
        """SORT (RFC 5256) answers like SEARCH: by sequence number no EXPUNGE may come, and the
        numbers (in sort order) are each in the view once."""
        c = self.client
        by_uid = self.rng.random() < 0.5
        key = self.rng.choice(["ARRIVAL", "REVERSE DATE", "SUBJECT", "SIZE"])
        r = c.command(f"{'UID ' if by_uid else ''}SORT ({key}) UTF-8 ALL",
                      kind=None if by_uid else "SEARCH")
        self.expect(r, "SORT", allow_no=())
        if r.search is None:
            c.fail("SORT without an untagged SORT response")
        if len(set(r.search)) != len(r.search):
            c.fail(f"SORT ({key}) names a message twice: {r.search}")
        if not by_uid:
            for seq in r.search:
                if not 1 <= seq <= len(c.model):
                    c.fail(f"SORT ({key}) found {seq} of {len(c.model)} messages")

    def copy(self, verb="COPY"):
        c = self.client
        seqs = self.pick()
        if not seqs:
            return
        by_uid = self.rng.random() < 0.5
        uids = [c.model[s - 1].uid for s in seqs]
        r = c.command(f"{'UID ' if by_uid else ''}{verb} {self.target(seqs, by_uid)} {self.other}")
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

    def pipeline(self):
        """Several commands in one write, numbers taken from the view before any of them ran.
        RFC 3501 5.5: a sequence-number command may follow only commands during which no
        EXPUNGE may come (FETCH, STORE, SEARCH), so the UID forms go last."""
        c = self.client
        commands = []
        for _ in range(self.rng.randint(2, 5)):
            seqs = self.pick()
            if not seqs:
                break
            kind = self.rng.choice(["FETCH", "STORE", "SEARCH", "UID FETCH", "UID STORE"])
            target = self.target(seqs, kind.startswith("UID"))
            if kind.endswith("FETCH"):
                text = f"{kind} {target} (UID FLAGS)"
            elif kind.endswith("STORE"):
                text = (f"{kind} {target} {self.rng.choice(['+FLAGS', '-FLAGS'])} "
                        f"({self.rng.choice(FLAGS)})")
            else:
                text = "SEARCH ALL"
            commands.append((text, None if kind.startswith("UID") else kind))
        commands.sort(key=lambda command: command[1] is None)
        for reply in c.pipeline(commands):
            self.expect(reply, "pipelined command")

    def reselect(self):
        """SELECT the same mailbox again: the view restarts from a snapshot taken while others
        keep writing ([CLOSED] first, RFC 7162 3.2.11)."""
        r = self.client.select(self.mailbox)
        if not any(u.startswith(b"* OK [CLOSED]") for u in r.untagged):
            self.client.fail("re-SELECT without [CLOSED]")

    def resync(self):
        self.client.resync(self.mailbox)

    def noop(self):
        self.expect(self.client.command("NOOP"), "NOOP", allow_no=())

    def idle(self):
        self.expect(self.client.idle(self.rng.uniform(0.05, 0.4)), "IDLE", allow_no=())


class TortureTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        # POP pulls feed INBOX too: their appends reach the sessions through the same feed.
        self.pb = self.new_popbridge([self.account(retention="delete", poll_interval="1s")],
                                     start=False)
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

    def deliver(self, stop):
        """Mail arriving at the POP server while the clients work, one message every 0.5 s."""
        n = 0
        while not stop.wait(0.5):
            n += 1
            self.dovecot.deliver(POP_USER, message("pop", n))
        return n

    def run_trial(self, seed, clients, seconds):
        setup = TrackingClient(self.pb.imap_port, IMAP_USER, IMAP_PASSWORD, "setup")
        self.addCleanup(setup.close)
        self.assertEqual(setup.command(f"CREATE {OTHER}").status, "OK")
        for mailbox in ("INBOX", OTHER):
            for i in range(INITIAL):
                r = setup.command(f"APPEND {mailbox} ()", literal=message("setup", i))
                self.assertEqual(r.status, "OK")
        stop = threading.Event()
        workers = []
        for i in range(clients):
            rng = random.Random(seed * 1000 + i)
            # QRESYNC, CONDSTORE or neither in turn; the last one mostly idles; the first two think
            # between commands, so others' changes reach them in batches; every third works on
            # the other mailbox, so MOVE and COPY go both ways.
            w = Worker(self, f"c{i}", rng, enable=(None, "QRESYNC", "CONDSTORE")[i % 3],
                       idler=i == clients - 1,
                       stop=stop, pause=0.05 if i < 2 else 0.0,
                       mailbox=OTHER if i % 3 == 2 else "INBOX")
            self.addCleanup(w.client.close)
            workers.append(w)
        for w in workers:
            w.thread.start()
        delivered = []
        mailer = threading.Thread(target=lambda: delivered.append(self.deliver(stop)))
        mailer.start()
        stop.wait(seconds)
        stop.set()
        mailer.join(30)
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
        counts = {}
        for w in workers:
            for key, n in w.client.counts.items():
                counts[key] = counts.get(key, 0) + n
        print(f"torture seed {seed}: {clients} clients, {total} operations and "
              f"{delivered[0]} POP deliveries in {seconds} s: " +
              ", ".join(f"{verb} {status} {n}" for (verb, status), n in sorted(counts.items())))
        self.assertGreater(total, clients * 10, "too few operations to mean anything")

        # Quiet now: the last pull done (retention: delete empties the maildrop only after the
        # messages are committed), one NOOP brings every client up to date, and every view must
        # equal a fresh SELECT of its mailbox.
        deadline = time.monotonic() + 60
        while self.dovecot.maildrop_file_count(POP_USER) > 0:
            self.assertLess(time.monotonic(), deadline, "POP pulls did not catch up")
            time.sleep(0.2)
        fresh = TrackingClient(self.pb.imap_port, IMAP_USER, IMAP_PASSWORD, "fresh")
        self.addCleanup(fresh.close)
        want = {}
        for mailbox in ("INBOX", OTHER):
            fresh.select(mailbox)
            want[mailbox] = [(e.uid, e.flags) for e in fresh.model]
            self.assertGreater(len(want[mailbox]), 0)
        for w in workers:
            c = w.client
            self.assertEqual(c.command("NOOP").status, "OK")
            c.learn()
            for uid in c.uids():
                if uid in c.doomed:
                    c.fail(f"SEARCH ALL left out UID {uid}, never expunged; there:\n" +
                           c.doomed[uid] + "\n--- fresh view: " +
                           f"{[e for e in want[w.mailbox] if e[0] == uid]}")
            got = [(e.uid, e.flags) for e in c.model]
            if got != want[w.mailbox]:
                c.fail(f"view of {w.mailbox} differs from a fresh SELECT:\n  client {got}\n"
                       f"  fresh  {want[w.mailbox]}")


if __name__ == "__main__":
    unittest.main()
