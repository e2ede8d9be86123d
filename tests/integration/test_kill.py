"""SIGKILL of popbridge mid-pull, then a restart: nothing lost, nothing duplicated, `store check`
clean, and with retention delete the maildrop ends empty.

Kill points (the fault proxy sits between popbridge and Dovecot, plain POP3 so it sees commands):
- while RETR data flows: the proxy counts bytes from Dovecot and, at a random offset inside the
  message data, SIGKILLs popbridge and cuts the connection before forwarding another byte;
- between store commit and DELE: the proxy holds back popbridge's first "DELE" line (so Dovecot
  never sees it) and the test SIGKILLs popbridge while it is held. By the durability contract the
  messages whose DELE was due are committed (the ledger shows which), so after the restart they
  must not be fetched again, the others must be fetched once, and the pending deletes must be
  carried out.
- between DELEs and later RETRs (delete mode, a maildrop of many commit batches): DELEs of
  committed batches go out while later RETRs are still under way; the proxy holds the first
  DELE (and everything after it) and the test SIGKILLs popbridge. The ledger then holds exactly
  the committed messages, all delete-pending; the restart fetches only the others, deletes all.
- after the server's +OK to QUIT, before popbridge hears it: Dovecot has deleted the messages,
  popbridge's ledger still says delete-pending. The next session finds those UIDLs gone from the
  server and forgets the rows.

A few trials by default; POPBRIDGE_LONG_TESTS=1 runs at least 50 (both kinds together).
POPBRIDGE_KILL_SEED=<seed printed by a run> replays its offsets and message shapes."""

import os
import random
import re
import sqlite3
import time
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from fault_proxy import Action, Direction, FaultProxy
from harness import corpus, imap
from harness.case import IMAP_USER, PopbridgeCase, long_tests
from harness import util
from harness.util import wait_until

RETR_TRIALS = 30 if long_tests() else 3
DELE_TRIALS = 25 if long_tests() else 2
# Maildrops larger than one commit batch (100 messages): the kill lands after some batches of
# the session are committed, so the restart must fetch only the rest.
MANY_TRIALS = 10 if long_tests() else 1
MANY_MESSAGES = 250
INTERLEAVED_TRIALS = 6 if long_tests() else 1


class KillTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        # A failing run prints its seed; POPBRIDGE_KILL_SEED=<seed> replays the same offsets.
        seed = int(os.environ.get("POPBRIDGE_KILL_SEED") or time.time_ns())
        self.rng = random.Random(seed)
        print(f"\n{self.id()}: seed {seed}", flush=True)

    def run_trial(self, n, kind, retention):
        user = f"k{n}"
        self.dovecot.add_user(user, f"pw-{n}")
        if kind == "many":
            size = 2000
            count = MANY_MESSAGES
        elif kind == "interleaved":
            # Big enough that the first batches commit while most of the maildrop is still to
            # come through the proxy.
            size = 40000
            count = MANY_MESSAGES
        else:
            # 1-5 MB attachments in long runs; smaller ones keep the default run quick.
            size = self.rng.randint(1 << 20, (5 << 20) if long_tests() else (2 << 20))
            count = self.rng.randint(3, 7)
        msgs = corpus.small_corpus(f"{self.tag()}-{n}", count,
                                   seed=self.rng.getrandbits(32), attachment_size=size)
        self.dovecot.deliver_all(user, msgs)
        ref = self.dovecot.retrieve_all(user)
        total = sum(len(m.data) for m in ref)

        proxy = FaultProxy("127.0.0.1", self.dovecot.pop3_port).start()
        self.addCleanup(proxy.stop)
        pb = self.new_popbridge([self.account(tls="none", port=proxy.port, user=user,
                                              retention=retention)], start=False)
        if kind == "many":
            # Past the first commit batch, before the end: the stream stalls there, and the kill
            # comes once a committed batch is visible over IMAP (the network outruns the fsyncs,
            # so a byte offset alone does not say what is committed).
            offset = self.rng.randint(int(total * 0.7), int(total * 0.95))
            fault = proxy.at_offset(Direction.DOWNSTREAM, offset, action=Action.STALL)
            fired = fault.fired
        elif kind == "retr":
            # Greeting, CAPA and UIDL take well under 2000 bytes; the messages follow.
            offset = self.rng.randint(2000, max(2001, total - 1000))
            fault = proxy.at_offset(Direction.DOWNSTREAM, offset, action=Action.CUT,
                                    callback=lambda _conn: pb.kill_now())
            fired = fault.fired
        else:
            fault = proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
            fired = fault.held
        # The reference read above is a POP session too; count sessions from here on.
        sessions_at_start = len(wait_until(lambda: self.pop_sessions(user), 30,
                                           "Dovecot's log of the reference read"))
        pb.start(wait_ready=False)  # the fault may strike before the listeners are probed
        wait_until(fired.is_set, 120, f"trial {n}: the {kind} fault", details=pb.logs)
        if kind in ("dele", "interleaved"):
            pb.kill_now()
        if kind == "many":
            wait_until(lambda: util.port_accepts(pb.imaps_port), 30, "the IMAP listener")
            conn = self.imap_login(pb)
            wait_until(lambda: imap.status_messages(conn) > 0, 60,
                       f"trial {n}: a committed batch", details=pb.logs)
            pb.kill_now()
            fault.release()
        pb.kill()  # reap; a held DELE is dropped with the dead connection
        if kind in ("dele", "interleaved"):
            fault.drop()
            # The held DELE never reached Dovecot and no QUIT followed: nothing was deleted.
            self.assertEqual(self.dovecot.maildrop_file_count(user), len(ref))
            # What the killed session committed, all waiting for their DELE to be confirmed.
            states = self.ledger_states(pb, "dovecot")
            committed = sum(states.values())
            self.assertEqual(states, {1: committed}, f"trial {n}")
            self.assertGreaterEqual(committed, 1, f"trial {n}: a DELE before any commit")
        sessions_at_kill = len(wait_until(
            lambda: len(self.pop_sessions(user)) > sessions_at_start and self.pop_sessions(user),
            30, "Dovecot's log of the killed session"))
        if kind in ("retr", "many"):
            # The kill struck after at least one RETR had started.
            killed = self.pop_sessions(user)[sessions_at_start:sessions_at_kill]
            self.assertGreaterEqual(sum(r for r, _ in killed), 1, killed)
        if kind == "interleaved":
            # The first DELE left before the last RETR: Dovecot, which never saw anything after
            # the held DELE, served only part of the maildrop.
            killed = self.pop_sessions(user)[sessions_at_start:sessions_at_kill]
            self.assertLess(sum(r for r, _ in killed), len(ref),
                            f"trial {n}: no DELE before the last RETR: {killed}")

        pb.start()
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(ref), timeout=120)
        self.assert_store_matches(conn, ref)
        if retention == "delete":
            wait_until(lambda: self.dovecot.maildrop_file_count(user) == 0, 60,
                       f"trial {n}: an empty maildrop", details=pb.logs)
        else:
            self.assertEqual([m.uidl for m in ref], self.dovecot.uidl_list(user))
        if kind == "dele":
            # The killed session RETRieved everything (a few messages: every RETR went out
            # before the first commit); its first batches may have committed before the held
            # DELE, the rest not.
            sessions = wait_until(lambda: self.pop_sessions(user, deleted=True), 30,
                                  f"trial {n}: Dovecot's log of the deleting session")
            before_kill = sessions[sessions_at_start:sessions_at_kill]
            self.assertGreaterEqual(sum(r for r, _ in before_kill), len(ref), sessions)
        if kind in ("dele", "interleaved"):
            # Committed before the kill means never fetched again: the restart fetched exactly
            # what the killed session had not committed.
            sessions = wait_until(lambda: self.pop_sessions(user, deleted=True), 30,
                                  f"trial {n}: Dovecot's log of the deleting session")
            self.assertEqual(sum(r for r, _ in sessions[sessions_at_kill:]), len(ref) - committed,
                             f"trial {n}: {sessions}")
        if kind == "many":
            # What the killed session committed was not fetched again after the restart.
            # Dovecot logs a session when it ends, which can be after the messages are visible.
            after = wait_until(
                lambda: [x for x in self.pop_sessions(user)[sessions_at_kill:] if x[0] > 0],
                30, f"trial {n}: Dovecot's log of the session after the restart")
            refetched = sum(r for r, _ in after)
            self.assertLess(refetched, len(ref),
                            f"trial {n}: nothing of the killed session was committed: {after}")
        # Still exactly once after the deletes (or more polls) went through.
        self.assert_store_matches(conn, ref)
        self.assert_clean_stop(pb)
        check = pb.store_check()
        self.assertEqual(check.returncode, 0,
                         f"trial {n}: store check:\n{check.stdout}\n{check.stderr}")
        proxy.stop()

    def pop_sessions(self, user, deleted=False):
        """[(messages RETRieved, messages deleted)] per finished POP session of `user`, from
        Dovecot's log ("... retr=N/bytes, del=M/total ..."); None while `deleted` is True and no
        session deleted anything yet."""
        rx = re.compile(rf"pop3\({re.escape(user)}\)<.*?retr=(\d+)/\d+, del=(\d+)/")
        sessions = [(int(m.group(1)), int(m.group(2)))
                    for m in rx.finditer(util.tail(self.dovecot.log_file, 100000))]
        if deleted and not any(d for _, d in sessions):
            return None
        return sessions

    def ledger_states(self, pb, account):
        """{state: row count} of `account`'s ledger rows (0 stored, 1 delete-pending, 2 deleted)."""
        db = os.path.join(pb.data_dir, "users", IMAP_USER, "meta.sqlite")
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT state, count(*) FROM ledger WHERE account = ? "
                               "GROUP BY state", (account,)).fetchall()
        return dict(rows)

    def test_kill_after_quit_answered(self):
        user = "kq"
        self.dovecot.add_user(user, "pw-kq")
        msgs = corpus.small_corpus(f"{self.tag()}-q", 5, seed=self.rng.getrandbits(32),
                                   attachment_size=4096)
        self.dovecot.deliver_all(user, msgs)
        ref = self.dovecot.retrieve_all(user)
        proxy = FaultProxy("127.0.0.1", self.dovecot.pop3_port).start()
        self.addCleanup(proxy.stop)
        # A long interval: no second session before the kill, whatever the cut looks like.
        pb = self.new_popbridge([self.account(tls="none", port=proxy.port, user=user,
                                              retention="delete", poll_interval="60s")],
                                start=False)
        # Dovecot answers QUIT only after it has expunged the DELE'd messages (RFC 1939 6).
        hold = proxy.hold_line(Direction.DOWNSTREAM, rb"^\+OK Logging out")
        pb.start(wait_ready=False)
        wait_until(hold.held.is_set, 60, "Dovecot's answer to QUIT", details=pb.logs)
        pb.kill_now()
        pb.kill()
        hold.drop()
        wait_until(lambda: self.dovecot.maildrop_file_count(user) == 0, 30,
                   "the deletions on the server")
        self.assertEqual(self.ledger_states(pb, "dovecot"), {1: len(ref)})

        pb.start()
        wait_until(lambda: "nothing new (0 on server)" in pb.logs(400), 60,
                   "a session on the empty maildrop", details=pb.logs)
        self.assertEqual(self.ledger_states(pb, "dovecot"), {})
        conn = self.imap_login(pb)
        self.assert_store_matches(conn, ref)
        self.assert_clean_stop(pb)
        proxy.stop()

    def test_kill_while_retr_data_flows(self):
        for n in range(RETR_TRIALS):
            retention = "delete" if n % 2 else "keep"
            with self.subTest(trial=n, retention=retention):
                self.run_trial(n, "retr", retention)

    def test_kill_after_some_batches_committed(self):
        for n in range(MANY_TRIALS):
            retention = "delete" if n % 2 else "keep"
            with self.subTest(trial=n, retention=retention):
                self.run_trial(200 + n, "many", retention)

    def test_kill_while_deles_interleave_with_retrs(self):
        for n in range(INTERLEAVED_TRIALS):
            with self.subTest(trial=n):
                self.run_trial(300 + n, "interleaved", "delete")

    def test_kill_between_commit_and_dele(self):
        for n in range(DELE_TRIALS):
            with self.subTest(trial=n):
                self.run_trial(100 + n, "dele", "delete")


if __name__ == "__main__":
    unittest.main()
