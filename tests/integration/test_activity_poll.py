"""Client activity polls at once: with an hour-long poll interval, new mail on the POP server
reaches a client that SELECTs, NOOPs or IDLEs on the account's folder without waiting for the
interval (at most once per 10 s per account, so a chatty client cannot hammer the server)."""

import time
import unittest

from harness import corpus, imap
from harness.case import POP_USER, PopbridgeCase
from harness.util import wait_until

# Scheduler::kActivityMinInterval: activity does not poll sooner than this after a poll began.
MIN_INTERVAL = 10


class ActivityPollTest(PopbridgeCase):
    def start_idle_popbridge(self):
        self.seed(count=1, attachment_size=1000, tag="first")
        self.spawned = time.monotonic()  # the start-up poll begins after this
        pb = self.new_popbridge([self.account(tls="implicit", poll_interval="1h")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 1)  # the poll at start-up
        started = time.monotonic()
        late = corpus.small_corpus(self.tag() + "-late", 1, attachment_size=1000)
        self.dovecot.deliver_all(POP_USER, late)
        return pb, conn, started

    def test_noop_polls_the_selected_folder(self):
        pb, conn, started = self.start_idle_popbridge()
        conn.select("INBOX")
        # Within the minimum interval activity does not poll: the message stays on the server.
        # (Checked only while surely inside the interval; a loaded machine may be past it.)
        time.sleep(1)
        if time.monotonic() - self.spawned < MIN_INTERVAL - 3:
            conn.noop()
            self.assertEqual(imap.status_messages(conn), 1)
        time.sleep(max(0.0, MIN_INTERVAL + 0.5 - (time.monotonic() - started)))

        def arrived():
            conn.noop()
            return imap.status_messages(conn) == 2
        wait_until(arrived, 20, "the message pulled because of NOOP", details=pb.logs)

    def test_idle_polls_and_reports_exists(self):
        pb, conn, started = self.start_idle_popbridge()
        conn.select("INBOX")
        time.sleep(max(0.0, MIN_INTERVAL + 0.5 - (time.monotonic() - started)))
        idle = imap.Idle(conn)
        idle.start()
        idle.wait_for(rb"^\* 2 EXISTS", 20)
        idle.done()


if __name__ == "__main__":
    unittest.main()
