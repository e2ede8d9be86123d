"""IDLE (RFC 2177): a message pulled while a client idles is announced as "* n EXISTS"; DONE ends
IDLE with a tagged OK."""

import unittest

from harness import corpus, imap
from harness.case import POP_USER, PopbridgeCase


class IdleTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=2, attachment_size=50000)
        self.pb = self.new_popbridge([self.account()])
        conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, conn, 2)
        imap.safe_logout(conn)

    def idling_client(self, mode="implicit"):
        conn = self.imap_login(self.pb, mode=mode)
        self.assertIn("IDLE", conn.capabilities)
        typ, data = conn.select("INBOX")
        self.assertEqual((typ, int(data[0])), ("OK", 2))
        idle = imap.Idle(conn)
        idle.start()
        return conn, idle

    def test_pull_during_idle_reports_exists(self):
        conn, idle = self.idling_client()
        late = corpus.small_corpus(self.tag(), 1, attachment_size=3 << 20)
        self.dovecot.deliver_all(POP_USER, late)
        m = idle.wait_for(rb"^\* (\d+) EXISTS", 60)
        self.assertEqual(int(m.group(1)), 3, idle.seen)
        tagged = idle.done()
        self.assertRegex(tagged, rb"^\S+ OK")
        # The announced message is the one delivered, byte for byte.
        fetched = imap.fetch_all(conn)
        self.assertEqual(len(fetched), 3)
        self.assertEqual(fetched[2].body, self.reference()[2].data)

    def test_two_idlers_both_hear_it(self):
        _a, idle_a = self.idling_client("implicit")
        _b, idle_b = self.idling_client("starttls")
        self.dovecot.deliver_all(POP_USER, corpus.small_corpus(self.tag(), 2, attachment_size=10))
        # Two messages may come in one pull or two: wait for the final count on both.
        for idle in (idle_a, idle_b):
            idle.wait_for(rb"^\* 4 EXISTS", 60)
            self.assertRegex(idle.done(), rb"^\S+ OK")

    def test_done_without_news(self):
        _conn, idle = self.idling_client()
        self.assertRegex(idle.done(), rb"^\S+ OK")
        self.assertFalse([l for l in idle.seen if b"EXISTS" in l], idle.seen)


if __name__ == "__main__":
    unittest.main()
