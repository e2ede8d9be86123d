"""Pulls from a scripted quirky POP3 peer (tests/fakes/pop3_peer.py) for what Dovecot cannot show:
PIPELINING observed on the wire with every DELE checked against the store, no UIDL (content keys
from TOP n 0 plus LIST size), repeated UIDLs, messages renumbered between sessions, bare LF, NUL
bytes, dot-stuffed lines and a last line without line end, LIST sizes that lie, a connection cut
inside a RETR, a reply that never comes, -ERR response codes (RFC 2449 8, RFC 3206), LOGIN-DELAY
(RFC 2449 6.5) and a QUIT reply without CRLF. Each test checks the store over IMAP: every message
exactly once and byte-identical to what a POP3 client must keep."""

import os
import re
import threading
import time
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from harness import dovecot, imap, popbridge
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase
from harness.util import wait_until
from pop3_peer import Pop3Peer, stored_form


class ExtraKeysPopbridge(popbridge.Popbridge):
    """Writes account keys the harness does not know yet (timeout, delete_after, keep_under)
    from an `extra` dict on the account."""

    def config_text(self):
        lines = super().config_text().split("\n")
        for user in self.users:
            for a in user.accounts:
                extra = getattr(a, "extra", None) or {}
                if not extra:
                    continue
                at = lines.index(f"      - name: {popbridge._q(a.name)}")
                folder = next(i for i in range(at, len(lines)) if lines[i].startswith(
                    "        folder: "))
                lines[folder + 1:folder + 1] = [f"        {k}: {v}" for k, v in extra.items()]
        return "\n".join(lines)


def message(tag, n, body=b"hello\r\n", extra_headers=b""):
    return (b"From: peer@example.net\r\nTo: alice@example.net\r\n"
            + f"Subject: {tag} {n}\r\nMessage-ID: <{tag}-{n}@peer.test>\r\n".encode()
            + extra_headers + b"\r\n" + body)


class QuirksCase(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.peer = Pop3Peer().start()
        self.addCleanup(self.peer.stop)

    def peer_account(self, retention="keep", **extra):
        a = popbridge.Account(name="quirky", host="127.0.0.1", port=self.peer.port, tls="none",
                              username=self.peer.user, password=self.peer.password,
                              retention=retention, poll_interval="300ms")
        a.extra = extra
        return a

    def start_popbridge(self, account):
        self._instances += 1
        pb = ExtraKeysPopbridge(self.binary, os.path.join(self.dir, f"popbridge{self._instances}"),
                                self.certs)
        pb.add_user(IMAP_USER, IMAP_PASSWORD, [account])
        self.addCleanup(self._stop_at_cleanup, pb)
        pb.start()
        return pb

    def stored(self, conn, mailbox="INBOX"):
        """[body bytes] of every message in `mailbox`, in UID order."""
        typ, _ = conn.select(mailbox, readonly=True)
        self.assertEqual(typ, "OK")
        return [m.body for m in imap.fetch_all(conn)]

    def assert_stored_exactly(self, conn, datas):
        """The store holds exactly the stored form of each of `datas` (a multiset)."""
        got = sorted(self.stored(conn))
        want = sorted(stored_form(d) for d in datas)
        self.assertEqual(len(got), len(want), "message count")
        self.assertEqual(got, want)

    @staticmethod
    def full_log(pb):
        """Everything the daemon logged so far (self.full_log(pb) is a tail, and polls are frequent)."""
        with open(pb.log_file, encoding="utf-8", errors="replace") as f:
            return f.read()

    def finished_sessions(self):
        return [s for s in self.peer.sessions if s.quit_ok]

    def wait_sessions(self, n, pb, timeout=60):
        """Waits until `n` more sessions ended with QUIT than now."""
        start = len(self.finished_sessions())
        wait_until(lambda: len(self.finished_sessions()) >= start + n, timeout,
                   f"{n} more POP sessions", details=pb.logs)


class PipeliningTest(QuirksCase):
    def test_pipelined_retr_then_dele_only_of_stored_messages(self):
        datas = [message("pipe", n, body=(b"line %d\r\n" % n) * (n * 50)) for n in range(40)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"u{n}")
        self.peer.reply_delay = 0.5
        pb_holder = {}
        checked = []
        violations = []
        lock = threading.Lock()

        def on_command(session, verb, arg):
            # Runs on the peer's session thread before the DELE is answered: the message must
            # already be committed (visible over IMAP, RFC 1939 6 + DESIGN.md pull step 5).
            if verb != "DELE":
                return
            data = self.peer.messages[session.order[int(arg) - 1]].data
            with lock:
                conn = pb_holder.get("conn")
                if conn is None:
                    conn = self.imap_login(pb_holder["pb"])
                    pb_holder["conn"] = conn
                if stored_form(data) not in self.stored(conn):
                    violations.append(arg)
                checked.append(arg)

        self.peer.on_command = on_command
        pb = self.start_popbridge(self.peer_account(retention="delete"))
        pb_holder["pb"] = pb
        wait_until(lambda: len(checked) == len(datas), 120, "every DELE checked", details=pb.logs)
        self.assertEqual(violations, [], "DELE sent before the message was stored")
        wait_until(lambda: not self.peer.live(), 60, "an empty maildrop", details=pb.logs)
        first = next(s for s in self.peer.sessions if any(c.startswith("RETR") for c in s.commands))
        # While the first RETR reply was held back, more commands had arrived: a window of RETRs
        # was outstanding (RFC 2449 6.6).
        self.assertGreater(first.max_queued, 2, first.commands[:20])
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)

    def test_without_pipelining_one_command_at_a_time(self):
        self.peer.capabilities = ["TOP", "UIDL", "USER"]
        datas = [message("serial", n) for n in range(6)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"s{n}")
        self.peer.reply_delay = 0.5
        pb = self.start_popbridge(self.peer_account(retention="delete"))
        wait_until(lambda: not self.peer.live(), 60, "an empty maildrop", details=pb.logs)
        first = next(s for s in self.peer.sessions if any(c.startswith("RETR") for c in s.commands))
        self.assertEqual(first.max_queued, 1, first.commands)
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)


class ListingTest(QuirksCase):
    @staticmethod
    def lists(session):
        return [c for c in session.commands if c.upper().startswith("LIST")]

    def test_poll_asks_only_the_sizes_it_needs(self):
        datas = [message("sizes", n, body=b"y" * (n * 300) + b"\r\n") for n in range(6)]
        for n, d in enumerate(datas[:5]):
            self.peer.add(d, uidl=f"l{n}")
        pb = self.start_popbridge(self.peer_account())
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 5)
        self.wait_sessions(2, pb)
        fetching = [s for s in self.finished_sessions() if any(c.startswith("RETR")
                                                               for c in s.commands)]
        self.assertEqual(len(fetching), 1)
        # Five new messages: one "LIST n" each, no LIST of the whole maildrop.
        self.assertEqual(self.lists(fetching[0]), [f"LIST {n}" for n in range(1, 6)])
        # Polls that find nothing new send no LIST at all.
        idle = [s for s in self.finished_sessions() if s is not fetching[0]]
        self.assertTrue(idle)
        for s in idle:
            self.assertEqual(self.lists(s), [], s.commands)
            self.assertIn("UIDL", s.commands)
        # One new message among the old ones: only its size is asked.
        self.peer.add(datas[5], uidl="l5")
        self.wait_for_inbox(pb, conn, 6)
        self.wait_sessions(1, pb)
        last = [s for s in self.finished_sessions() if "RETR 6" in s.commands]
        self.assertEqual(len(last), 1)
        self.assertEqual(self.lists(last[0]), ["LIST 6"])
        self.assert_stored_exactly(conn, datas)
        # The sizes served the check of what arrived: each matched, nothing to report.
        self.assertNotIn("LIST said", self.full_log(pb))

    def test_refused_list_n_falls_back_to_the_whole_list(self):
        self.peer.list_single = False
        small = [message("fallback", n) for n in range(2)]
        big = message("fallback-big", 0, body=b"x" * 4000 + b"\r\n")
        self.peer.add(small[0], uidl="f0")
        self.peer.add(big, uidl="fbig")
        self.peer.add(small[1], uidl="f1")
        pb = self.start_popbridge(self.peer_account(retention="delete", max_message_size="2K"))
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 2)
        self.wait_sessions(2, pb)
        # The sizes still came (from the whole LIST): the big one stays on the server.
        self.assertEqual([m.uidl for m in self.peer.live()], ["fbig"])
        first = next(s for s in self.finished_sessions()
                     if any(c.startswith("RETR") for c in s.commands))
        self.assertEqual(self.lists(first), ["LIST 1", "LIST 2", "LIST 3", "LIST"])
        self.assert_stored_exactly(conn, small)


class KeyingTest(QuirksCase):
    def test_no_uidl_content_keys_survive_reordering(self):
        self.peer.uidl = False
        self.peer.capabilities = ["TOP", "USER", "PIPELINING"]
        datas = [message("nouidl", n) for n in range(5)]
        datas.append(datas[2])  # the same message delivered twice: both copies are kept
        # Same headers, different body and size: told apart by the LIST size.
        datas.append(message("nouidl", 3, body=b"longer body\r\n"))
        for d in datas:
            self.peer.add(d)
        pb = self.start_popbridge(self.peer_account())
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(datas))
        # The server renumbers everything; a new message arrives.
        self.peer.order = lambda order: list(reversed(order))
        late = message("nouidl", 99)
        self.peer.add(late)
        self.wait_for_inbox(pb, conn, len(datas) + 1)
        self.wait_sessions(2, pb)
        self.assert_stored_exactly(conn, datas + [late])
        self.assertIn("no UIDL", self.full_log(pb))

    def test_repeated_uidls_and_reordering(self):
        datas = [message("dup", n) for n in range(4)]
        self.peer.add(datas[0], uidl="same")
        self.peer.add(datas[1], uidl="other")
        self.peer.add(datas[2], uidl="same")
        self.peer.add(datas[3], uidl="same")
        pb = self.start_popbridge(self.peer_account())
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 4)
        # The first occurrence (lowest number) stays first; later copies move around.
        self.peer.order = lambda order: [order[0]] + list(reversed(order[1:]))
        late = message("dup", 9)
        self.peer.add(late, uidl="late")
        self.wait_for_inbox(pb, conn, 5)
        self.wait_sessions(2, pb)
        self.assert_stored_exactly(conn, datas + [late])
        self.assertIn("repeat another's UIDL", self.full_log(pb))

    def test_reordered_maildrop_with_uidl_and_delete(self):
        datas = [message("reorder", n) for n in range(6)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"r{n}")
        self.peer.order = lambda order: list(reversed(order))
        pb = self.start_popbridge(self.peer_account(retention="delete"))
        wait_until(lambda: not self.peer.live(), 60, "an empty maildrop", details=pb.logs)
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)


class LineQuirksTest(QuirksCase):
    def test_bare_lf_nul_dots_and_missing_final_newline(self):
        self.peer.line_end = b"\n"
        datas = [
            message("lf", 0, body=b"one\ntwo\n.three\n..four\n.\nlast without newline"),
            message("lf", 1, body=b"nul \x00 inside\r\nlone CR \r here\r\n"),
            message("lf", 2, body=b""),
        ]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"lf{n}")
        pb = self.start_popbridge(self.peer_account())
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        self.assert_stored_exactly(conn, datas)

    def test_list_size_differs_from_bytes_received(self):
        self.peer.size_delta = 17
        datas = [message("size", n, body=b"x" * (n * 1000) + b"\r\n") for n in range(3)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"z{n}")
        pb = self.start_popbridge(self.peer_account())
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        self.assert_stored_exactly(conn, datas)
        self.assertRegex(self.full_log(pb), r"LIST said \d+ octets, received \d+")

    def test_quit_reply_without_crlf_still_confirms_deletes(self):
        self.peer.quit_without_crlf = True
        datas = [message("quit", n) for n in range(3)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"q{n}")
        pb = self.start_popbridge(self.peer_account(retention="delete"))
        wait_until(lambda: re.search(r"pulled 3 new of 3 .*deleted 3", self.full_log(pb)), 60,
                   "a pull whose deletions were recorded", details=lambda: self.full_log(pb)[:6000])
        self.assertFalse(self.peer.live())
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)


class FailureTest(QuirksCase):
    def test_connection_closed_inside_retr(self):
        datas = [message("cut", n, body=b"data line\r\n" * 500) for n in range(5)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"c{n}")
        self.peer.close_in_retr = (2, 2000)
        pb = self.start_popbridge(self.peer_account(retention="delete"))
        wait_until(lambda: not self.peer.live(), 60, "an empty maildrop", details=pb.logs)
        self.assertTrue(any(s.closed_early for s in self.peer.sessions))
        self.assertRegex(self.full_log(pb), r"pull failed .*closed")
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)

    def test_reply_that_never_comes_times_out(self):
        datas = [message("stall", n) for n in range(3)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"t{n}")
        self.peer.never_answer = "RETR"
        pb = self.start_popbridge(self.peer_account(retention="delete", timeout="1s"))
        wait_until(lambda: "timed out after 1s" in self.full_log(pb), 30, "a timeout", details=pb.logs)
        wait_until(lambda: not self.peer.live(), 60, "an empty maildrop", details=pb.logs)
        conn = self.imap_login(pb)
        self.assert_stored_exactly(conn, datas)

    def test_greeting_sys_temp_then_recovery(self):
        self.peer.greeting = "-ERR [SYS/TEMP] maintenance, try later"
        self.peer.add(message("temp", 0), uidl="t0")
        pb = self.start_popbridge(self.peer_account())
        wait_until(lambda: "temporary): server refused the session: [SYS/TEMP]" in self.full_log(pb), 30,
                   "a temporary failure", details=pb.logs)
        self.peer.greeting = "+OK back"
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 1)

    def test_in_use_is_retried(self):
        self.peer.pass_reply = "-ERR [IN-USE] another session is active"
        self.peer.add(message("inuse", 0), uidl="i0")
        pb = self.start_popbridge(self.peer_account())
        wait_until(lambda: "in-use): login failed: [IN-USE]" in self.full_log(pb), 30,
                   "an in-use failure", details=pb.logs)
        self.peer.pass_reply = None
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 1, timeout=60)

    def test_auth_failures_stop_polling(self):
        self.peer.pass_reply = "-ERR [AUTH] invalid credentials"
        self.peer.add(message("auth", 0), uidl="a0")
        pb = self.start_popbridge(self.peer_account())
        wait_until(lambda: "polling stopped after 3 authentication failures" in self.full_log(pb), 60,
                   "the account to be disabled", details=pb.logs)
        attempts = len(self.peer.sessions)
        self.assertEqual(attempts, 3)
        # Backoff after the third failure would have been 1.2 s at most; twice that shows none.
        time.sleep(2.5)
        self.assertEqual(len(self.peer.sessions), attempts)
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 0)

    def test_login_delay_is_respected(self):
        self.peer.capabilities = ["TOP", "UIDL", "USER", "PIPELINING", "LOGIN-DELAY 2"]
        self.peer.add(message("delay", 0), uidl="d0")
        pb = self.start_popbridge(self.peer_account())
        wait_until(lambda: len([s for s in self.peer.sessions if s.login_time]) >= 3, 30,
                   "three logins", details=pb.logs)
        logins = [s.login_time for s in self.peer.sessions if s.login_time]
        gaps = [b - a for a, b in zip(logins, logins[1:])]
        # poll_interval is 300ms; LOGIN-DELAY 2 must stretch every gap to 2 s at least.
        self.assertTrue(all(g >= 2.0 for g in gaps), gaps)


if __name__ == "__main__":
    unittest.main()
