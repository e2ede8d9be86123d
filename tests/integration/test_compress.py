"""COMPRESS=DEFLATE (RFC 4978) with imaplib over a raw DEFLATE stream (harness.imap.Deflated):
over plain TCP, implicit TLS and STARTTLS, a compressed session fetches every message byte for
byte (large bodies streamed through the compressor), hears a message pulled during IDLE at once,
and is refused a second COMPRESS with NO [COMPRESSIONACTIVE]. COMPRESS before login or with an
unknown mechanism is BAD. A client that sends corrupt compressed data loses its connection (with
a log line saying why) and nobody else notices.

With POPBRIDGE_LONG_TESTS=1, test_idle_memory measures the daemon's RSS per idling connection,
uncompressed and compressed (plain TCP, so TLS memory does not blur the difference)."""

import imaplib
import re
import socket
import time
import unittest

from harness import corpus, imap, popbridge
from harness.case import IMAP_PASSWORD, IMAP_USER, POP_USER, PopbridgeCase, long_tests


class CompressTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        # Base64 attachments and text: about 550 KB to stream through the compressor.
        self.ref = self.seed(count=3, attachment_size=400_000)
        self.pb = self.new_popbridge([self.account()], start=False)
        self.pb.plaintext_auth = "loopback"  # the plain-TCP case logs in without TLS
        self.pb.start()
        conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, conn, len(self.ref))
        imap.safe_logout(conn)

    def log_text(self):
        with open(self.pb.log_file, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log_text())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def compressed_session(self, mode):
        conn = self.imap_login(self.pb, mode=mode)
        self.assertIn("COMPRESS=DEFLATE", conn.capabilities)
        deflated = imap.Deflated(conn)
        return conn, deflated

    def run_session(self, mode):
        conn, deflated = self.compressed_session(mode)
        # The capability is still listed; a second COMPRESS is refused (RFC 4978 3).
        typ, data = conn.capability()
        self.assertEqual(typ, "OK")
        self.assertIn(b"COMPRESS=DEFLATE", data[0])
        typ, data = conn._simple_command("COMPRESS", "DEFLATE")
        self.assertEqual(typ, "NO")
        self.assertTrue(data[0].startswith(b"[COMPRESSIONACTIVE]"), data)
        # Large FETCH: every body byte for byte, as literals through the compressor.
        self.assert_store_matches(conn, self.reference())
        self.assertGreater(deflated.plain_in, sum(len(r.data) for r in self.reference()))
        self.assertLess(deflated.wire_in, deflated.plain_in * 0.9, vars(deflated))
        # IDLE over the compressed stream: the pulled message is announced at once (the
        # server flushes its compressor), then DONE (compressed by the client) ends it.
        conn.select("INBOX")
        idle = imap.Idle(conn)
        idle.start()
        count = len(self.reference())
        late = corpus.small_corpus(self.tag() + "-" + mode, 1, attachment_size=1000)
        self.dovecot.deliver_all(POP_USER, late)
        m = idle.wait_for(rb"^\* (\d+) EXISTS", 60)
        self.assertEqual(int(m.group(1)), count + 1, idle.seen)
        self.assertRegex(idle.done(), rb"^\S+ OK")
        fetched = imap.fetch_all(conn)
        self.assertEqual(fetched[-1].body, late[0].data)
        typ, _ = conn.logout()
        self.assertEqual(typ, "BYE")
        return deflated

    def test_plain_tcp(self):
        deflated = self.run_session("plain")
        self.assertTrue(self.wait_for_log(r"COMPRESS DEFLATE active\n"))
        totals = self.wait_for_log(r"DEFLATE totals: sent (\d+) bytes as (\d+), "
                                   r"received (\d+) bytes as (\d+)")
        self.assertTrue(totals, self.pb.logs())
        sent, sent_wire, received, received_wire = map(int, totals.groups())
        # The server's counters agree with the client's: byte for byte for what the client sent;
        # imaplib stops reading at "* BYE", so the tagged OK of LOGOUT is the only difference.
        self.assertEqual((received, received_wire), (deflated.plain_out, deflated.wire_out))
        self.assertTrue(0 <= sent - deflated.plain_in < 64, (sent, deflated.plain_in))
        self.assertTrue(0 <= sent_wire - deflated.wire_in < 64, (sent_wire, deflated.wire_in))

    def test_implicit_tls(self):
        self.run_session("implicit")
        self.assertTrue(self.wait_for_log(r"COMPRESS DEFLATE active \(inside TLS\)"))

    def test_starttls(self):
        self.run_session("starttls")
        self.assertTrue(self.wait_for_log(r"COMPRESS DEFLATE active \(inside TLS\)"))

    def test_refusals(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        self.assertIn("COMPRESS=DEFLATE", conn.capabilities)
        # Not before authentication (RFC 4978 3: authenticated and selected states).
        with self.assertRaises(imaplib.IMAP4.error) as early:
            conn._simple_command("COMPRESS", "DEFLATE")
        self.assertIn("BAD", str(early.exception).upper() + " BAD")
        conn.login(IMAP_USER, IMAP_PASSWORD)
        for bad in ("X-UNKNOWN", "DEFLATE EXTRA"):
            with self.assertRaises(imaplib.IMAP4.error):
                conn._simple_command("COMPRESS", bad)
        # The connection is still uncompressed and usable.
        typ, _ = conn.noop()
        self.assertEqual(typ, "OK")

    def test_corrupt_input_closes_only_that_connection(self):
        conn, deflated = self.compressed_session("implicit")
        other, _ = self.compressed_session("starttls")
        deflated.send_raw(b"\xff\xff\xff\xff\r\n")  # block type 3 does not exist (RFC 1951)
        conn.sock.settimeout(10)
        with self.assertRaises((EOFError, OSError)):
            conn.readline()
        m = self.wait_for_log(r"imap#\d+: connection closed: DEFLATE from 127\.0\.0\.1:\d+: "
                              r"corrupt compressed input \(invalid block type\)")
        self.assertTrue(m, self.pb.logs())
        # The daemon and the other compressed session go on.
        typ, data = other.select("INBOX", readonly=True)
        self.assertEqual((typ, int(data[0])), ("OK", len(self.ref)))
        self.assertTrue(self.pb.running())

    def rss_kib(self):
        with open(f"/proc/{self.pb.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def idle_clients(self, count, compressed):
        clients = []
        for _ in range(count):
            conn = imap.login(self.pb.imap_port, self.certs.ca_cert, IMAP_USER, IMAP_PASSWORD,
                              mode="plain")
            if compressed:
                imap.Deflated(conn)
            conn.select("INBOX")
            idle = imap.Idle(conn)
            idle.start()
            clients.append((conn, idle))
        return clients

    @unittest.skipUnless(long_tests(), "POPBRIDGE_LONG_TESTS=1 measures memory per connection")
    def test_idle_memory(self):
        count = 200
        # Warm up allocator pools and the user's store with a few sessions first.
        warm = self.idle_clients(10, compressed=True) + self.idle_clients(10, compressed=False)
        time.sleep(0.5)
        base = self.rss_kib()
        plain = self.idle_clients(count, compressed=False)
        time.sleep(0.5)
        after_plain = self.rss_kib()
        deflated = self.idle_clients(count, compressed=True)
        time.sleep(0.5)
        after_deflated = self.rss_kib()
        per_plain = (after_plain - base) / count
        per_deflated = (after_deflated - after_plain) / count
        print(f"\nRSS per idling connection: {per_plain:.1f} KiB uncompressed, "
              f"{per_deflated:.1f} KiB with COMPRESS=DEFLATE")
        # While idle a compressed connection holds only the client's short history.
        self.assertLess(per_deflated - per_plain, 8, (per_plain, per_deflated))
        # And it still works: DONE ends each IDLE.
        for conn, idle in warm + plain + deflated:
            self.assertRegex(idle.done(), rb"^\S+ OK")
            imap.safe_logout(conn)


if __name__ == "__main__":
    unittest.main()
