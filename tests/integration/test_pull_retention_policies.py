"""Retention policies beyond keep and delete, against the real Dovecot POP3:
- delete_after: a message stays on the server until delete_after has passed since it was first
  stored, then goes;
- delete_when_expunged: a message expunged over IMAP is deleted upstream at the next poll, the
  others stay;
- keep_under: the oldest pulled messages are deleted until the maildrop is under the size target.
In every case the store keeps every message exactly once."""

import os
import time
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from harness.case import IMAP_PASSWORD, IMAP_USER, POP_USER, PopbridgeCase
from harness.util import wait_until
from test_pull_quirks import ExtraKeysPopbridge


class RetentionPoliciesTest(PopbridgeCase):
    def start_with(self, retention, **extra):
        account = self.account(tls="implicit", retention=retention, poll_interval="300ms")
        account.extra = extra
        self._instances += 1
        pb = ExtraKeysPopbridge(self.binary, os.path.join(self.dir, f"popbridge{self._instances}"),
                                self.certs)
        pb.add_user(IMAP_USER, IMAP_PASSWORD, [account])
        self.addCleanup(self._stop_at_cleanup, pb)
        pb.start()
        return pb

    def test_delete_after(self):
        ref = self.seed(count=3, attachment_size=2000)
        pb = self.start_with("delete_after", delete_after="3s")
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        stored_at = time.monotonic()
        # Stored, but younger than 3 s: several polls later the maildrop is untouched.
        wait_until(lambda: "nothing new (3 on server)" in pb.logs(), 30, "a poll after the pull",
                   details=pb.logs)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 3)
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 0, 30,
                   "an empty maildrop", details=pb.logs)
        # first_seen has one-second resolution: allow for the part of a second already gone.
        self.assertGreaterEqual(time.monotonic() - stored_at, 2.0)
        self.assert_store_matches(conn, ref)

    def test_delete_when_expunged(self):
        ref = self.seed(count=3, attachment_size=2000)
        uidls = self.dovecot.uidl_list(POP_USER)
        pb = self.start_with("delete_when_expunged")
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        typ, _ = conn.select("INBOX")
        self.assertEqual(typ, "OK")
        # Sequence 2 is the second message pulled, which Dovecot lists second.
        typ, data = conn.fetch("2", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        self.assertEqual(typ, "OK")
        gone = next(r for r in ref if r.message_id.encode() in data[0][1])
        self.assertEqual(conn.store("2", "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(conn.expunge()[0], "OK")
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 2, 30,
                   "the expunged message to leave the maildrop", details=pb.logs)
        self.assertEqual(self.dovecot.uidl_list(POP_USER), [u for u in uidls if u != gone.uidl])
        # The two kept messages stay in the store and on the server over later polls.
        for _ in range(3):
            wait_until(lambda: "nothing new (2 on server)" in pb.logs(), 30, "another poll",
                       details=pb.logs)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 2)
        self.assert_store_matches(conn, [r for r in ref if r is not gone])

    def test_keep_under(self):
        ref = self.seed(count=4, attachment_size=60_000)
        sizes = [r.size for r in ref]
        target = sizes[-1] + sizes[-2] + 10
        pb = self.start_with("keep_under", keep_under=str(target))
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 4)
        # The oldest go first (same commit: lowest message number first) until under target.
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 2, 30,
                   "the maildrop under its size target", details=pb.logs)
        self.assertEqual(self.dovecot.uidl_list(POP_USER), [r.uidl for r in ref[2:]])
        wait_until(lambda: "nothing new (2 on server)" in pb.logs(), 30, "another poll",
                   details=pb.logs)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 2)
        self.assert_store_matches(conn, ref)


if __name__ == "__main__":
    unittest.main()
