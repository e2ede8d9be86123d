"""Retention policies. keep: the maildrop is never changed (same UIDL list after several polls)
and nothing is stored twice. delete: DELE only after every message is in the store, and the
maildrop ends empty (RFC 1939 section 6: deletions happen at QUIT)."""

import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from fault_proxy import Direction, FaultProxy
from harness import corpus, imap
from harness.case import POP_USER, PopbridgeCase
from harness.util import wait_until


class RetentionTest(PopbridgeCase):
    def test_keep_leaves_maildrop_untouched(self):
        ref = self.seed(count=5, attachment_size=1 << 20)
        uidls = self.dovecot.uidl_list(POP_USER)
        pb = self.new_popbridge([self.account(retention="keep")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 5)
        # Each late message can only arrive through a poll after the previous one: three more
        # polls at least, with the old messages still listed each time.
        for i in range(3):
            late = corpus.small_corpus(f"{self.tag()}-{i}", 1, attachment_size=100)
            self.dovecot.deliver_all(POP_USER, late)
            self.wait_for_inbox(pb, conn, 6 + i)
        now = self.dovecot.uidl_list(POP_USER)
        self.assertEqual(now[:5], uidls)
        self.assertEqual(len(now), 8)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 8)
        self.assert_store_matches(conn, self.reference())
        self.assertEqual(len(ref), 5)

    def test_delete_only_after_everything_is_stored(self):
        ref = self.seed(count=5, attachment_size=2 << 20)
        # Plain POP3 through the fault proxy so the first DELE can be seen and held.
        proxy = FaultProxy("127.0.0.1", self.dovecot.pop3_port).start()
        self.addCleanup(proxy.stop)
        hold = proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
        pb = self.new_popbridge([self.account(tls="none", port=proxy.port, retention="delete")])
        self.assertTrue(hold.held.wait(60), pb.logs())
        # While the first DELE is held back, every message must already be visible in the store.
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 5)
        self.assert_store_matches(conn, ref)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 5)
        hold.release()
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 0, 60,
                   "an empty maildrop", details=pb.logs)
        self.assert_store_matches(conn, ref)

    def test_delete_over_tls_keeps_draining(self):
        ref = self.seed(count=4, attachment_size=1 << 20)
        pb = self.new_popbridge([self.account(tls="implicit", retention="delete")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 4)
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 0, 60,
                   "an empty maildrop", details=pb.logs)
        late = corpus.small_corpus(self.tag() + "-late", 2, attachment_size=100)
        self.dovecot.deliver_all(POP_USER, late)
        # popbridge may take these before a POP read here could; the corpus bytes are what
        # Dovecot serves (verified by test_harness), so they are the reference.
        late_ref = late
        self.wait_for_inbox(pb, conn, 6)
        wait_until(lambda: self.dovecot.maildrop_file_count(POP_USER) == 0, 60,
                   "an empty maildrop again", details=pb.logs)
        self.assert_store_matches(conn, ref + late_ref)


if __name__ == "__main__":
    unittest.main()
