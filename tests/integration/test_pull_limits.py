"""Per-account limits and the server's EXPIRE, against the scripted POP3 peer
(tests/fakes/pop3_peer.py): max_message_size with oversize skip (left on the server, logged once,
fetched once the limit is raised) and fetch, max_messages_per_session and max_bytes_per_session
over three polls (oldest first), and EXPIRE (RFC 2449 6.7) 0, 5 and a per-user value shown after
login, warned about once per session when it contradicts the retention. `popbridge status` (text
and --json) shows the last poll's skipped and deferred counts and the EXPIRE conflict."""

import re
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from harness.util import wait_until
from test_control import account_state
from test_pull_quirks import QuirksCase, message


def status_text(pb):
    r = pb.run("status", "-c", pb.config_file, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"status exited {r.returncode}: {r.stderr}")
    return r.stdout


def retr_numbers(session):
    return [int(c.split()[1]) for c in session.commands if c.startswith("RETR ")]


class OversizeTest(QuirksCase):
    def test_oversize_skip_then_fetched_after_the_limit_is_raised(self):
        small = [message("small", n) for n in range(3)]
        big = message("big", 0, body=b"x" * 4000 + b"\r\n")
        for n, d in enumerate(small[:2]):
            self.peer.add(d, uidl=f"s{n}")
        self.peer.add(big, uidl="big")
        self.peer.add(small[2], uidl="s2")
        account = self.peer_account(retention="delete", max_message_size="2K")
        pb = self.start_popbridge(account)
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        self.wait_sessions(3, pb)
        self.assert_stored_exactly(conn, small)
        # Left on the server, neither fetched nor deleted, although retention is delete.
        self.assertEqual([m.uidl for m in self.peer.live()], ["big"])
        for s in self.peer.sessions:
            for n in retr_numbers(s):
                self.assertNotEqual(self.peer.messages[s.order[n - 1]].uidl, "big")
        log = self.full_log(pb)
        self.assertEqual(len(re.findall(r"over max_message_size \d+: left on the server", log)), 1,
                         log)
        # Every poll counts it again, and status says so.
        state = account_state(pb, "quirky")
        self.assertEqual((state["oversize_skipped"], state["deferred"]), (1, 0), state)
        self.assertIn("  left:       1 over max_message_size\n", status_text(pb))
        # A raised limit: the next poll fetches it (no ledger row kept it out).
        pb.stop()
        account.extra["max_message_size"] = "8K"
        pb.start()
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 4)
        self.assert_stored_exactly(conn, small + [big])
        wait_until(lambda: not self.peer.live(), 30, "the big message deleted", details=pb.logs)

    def test_oversize_fetch_fetches_and_logs_once(self):
        big = message("bigfetch", 0, body=b"y" * 4000 + b"\r\n")
        self.peer.add(big, uidl="big")
        self.peer.add(message("bigfetch", 1), uidl="small")
        pb = self.start_popbridge(self.peer_account(max_message_size="1K", oversize="fetch"))
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 2)
        self.wait_sessions(2, pb)
        self.assert_stored_exactly(conn, [big, message("bigfetch", 1)])
        self.assertEqual(self.full_log(pb).count("fetched anyway (oversize fetch)"), 1)


class SessionCapTest(QuirksCase):
    def caps_over_polls(self, count, sizes_expected, **extra):
        datas = [message("cap", n, body=b"z" * 900 + b"\r\n") for n in range(count)]
        for n, d in enumerate(datas):
            self.peer.add(d, uidl=f"c{n}")
        pb = self.start_popbridge(self.peer_account(**extra))
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, count)
        self.wait_sessions(1, pb)
        fetching = [s for s in self.peer.sessions if retr_numbers(s)]
        self.assertEqual([len(retr_numbers(s)) for s in fetching], sizes_expected)
        # Oldest first: every session takes the lowest numbers not yet stored.
        retrieved = [s.order[n - 1] for s in fetching for n in retr_numbers(s)]
        self.assertEqual(retrieved, list(range(count)))
        self.assert_stored_exactly(conn, datas)
        self.assertIn("per-session limit reached", self.full_log(pb))

    def test_message_cap_over_three_polls(self):
        self.caps_over_polls(7, [3, 3, 1], max_messages_per_session=3)

    def test_status_shows_what_the_caps_left(self):
        for n in range(5):
            self.peer.add(message("left", n), uidl=f"l{n}")
        account = self.peer_account(max_messages_per_session=2)
        account.poll_interval = "1h"  # one session only
        pb = self.start_popbridge(account)
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 2)
        state = wait_until(lambda: (s := account_state(pb, "quirky")).get("last_result") == "ok"
                           and s, 30, "the first poll in status", details=pb.logs)
        self.assertEqual((state["oversize_skipped"], state["deferred"]), (0, 3), state)
        self.assertFalse(state["expire_conflict"])
        text = status_text(pb)
        self.assertIn("  left:       3 for the next polls (per-session limits)\n", text)
        self.assertNotIn("warning:", text)

    def test_byte_cap_over_three_polls(self):
        # Each message is a little over 1000 octets: two fit in 2500, a third does not.
        self.caps_over_polls(5, [2, 2, 1], max_bytes_per_session=2500)


class ExpireTest(QuirksCase):
    CAPS = ["TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"]

    def warnings(self, pb):
        return re.findall(r"warn pop\[alice/quirky\]: account quirky: the server deletes "
                          r"retrieved mail ([^,]*),", self.full_log(pb))

    def test_expire_0_contradicts_keep_once_per_session(self):
        self.peer.capabilities = self.CAPS + ["EXPIRE 0"]
        self.peer.add(message("exp", 0), uidl="e0")
        pb = self.start_popbridge(self.peer_account(retention="keep"))
        self.wait_sessions(3, pb)
        pb.stop()
        sessions = len(self.finished_sessions())
        found = self.warnings(pb)
        self.assertEqual(found, ["as soon as it is retrieved (EXPIRE 0)"] * sessions)

    def test_expire_5_against_delete_after(self):
        self.peer.capabilities = self.CAPS + ["EXPIRE 5"]
        self.peer.add(message("exp", 1), uidl="e1")
        pb = self.start_popbridge(self.peer_account(retention="delete_after", delete_after="7d"))
        self.wait_sessions(2, pb)
        self.assertIn("after 5 days (EXPIRE)", self.warnings(pb))
        self.assertIn("earlier than retention delete_after asks", self.full_log(pb))
        state = account_state(pb, "quirky")
        self.assertEqual((state["expire_conflict"], state["expire_days"]), (True, 5), state)
        self.assertIn("  warning:    the server deletes retrieved mail after 5 days (EXPIRE), "
                      "earlier than the retention asks\n", status_text(pb))

    def test_expire_5_within_delete_after_is_quiet(self):
        self.peer.capabilities = self.CAPS + ["EXPIRE 5"]
        self.peer.add(message("exp", 2), uidl="e2")
        pb = self.start_popbridge(self.peer_account(retention="delete_after", delete_after="3d"))
        self.wait_sessions(2, pb)
        self.assertEqual(self.warnings(pb), [])
        state = account_state(pb, "quirky")
        self.assertEqual((state["expire_conflict"], state["expire_days"]), (False, 5), state)
        self.assertNotIn("warning:", status_text(pb))

    def test_per_user_expire_after_login(self):
        # RFC 2449 6.7: "EXPIRE NEVER USER" before login, the user's own value after it.
        self.peer.capabilities = self.CAPS + ["EXPIRE NEVER USER"]
        self.peer.capabilities_after_login = self.CAPS + ["EXPIRE 5"]
        self.peer.add(message("exp", 3), uidl="e3")
        pb = self.start_popbridge(self.peer_account(retention="keep"))
        self.wait_sessions(2, pb)
        session = self.finished_sessions()[0]
        self.assertEqual([c for c in session.commands if c == "CAPA"], ["CAPA", "CAPA"])
        self.assertGreaterEqual(session.commands.index("CAPA", 1), session.commands.index("PASS ***"))
        self.assertIn("after 5 days (EXPIRE)", self.warnings(pb))


if __name__ == "__main__":
    unittest.main()
