"""Self-test of the harness against the real peer (no daemon needed): the private Dovecot serves
the corpus byte-for-byte over POP3S, STLS and plain POP3, messages can be added while it runs,
instances run side by side and stop cleanly, and POP3 works through the fault proxy."""

import os
import poplib
import re
import socket
import ssl
import threading
import unittest

from harness import certs, corpus, dovecot, util  # noqa: I001  (harness first: it finds fakes/)
from fault_proxy import Direction, FaultProxy
from harness.case import POP_PASSWORD, POP_USER, DovecotCase


class CorpusTest(unittest.TestCase):
    def test_shapes(self):
        msgs = corpus.Corpus(seed=7, tag="shape", attachment_sizes=(2 << 20,)).generate(12)
        self.assertEqual(len({m.message_id for m in msgs}), 12)
        self.assertEqual({m.kind for m in msgs}, set(corpus.KINDS))
        for m in msgs:
            self.assertTrue(m.data.endswith(b"\r\n"))
            self.assertNotRegex(m.data, rb"(?<!\r)\n", f"{m.kind}: bare LF")
            self.assertNotRegex(m.data, rb"\r(?!\n)", f"{m.kind}: bare CR")
            self.assertEqual(dovecot.message_id_of(m.data), m.message_id)
            lines = m.data.split(b"\r\n")
            if m.kind == "dots":
                self.assertIn(b".", lines)
                self.assertTrue(any(l.startswith(b"..") for l in lines))
            if m.kind == "longlines":
                self.assertIn(998, [len(l) for l in lines])
                self.assertTrue(any(len(l) > 2048 for l in lines))
            if m.kind == "attachment":
                self.assertGreater(len(m.data), 2 << 20)
            if m.kind == "nonascii":
                self.assertIn(b"=?UTF-8?B?", m.header)
                m.data.decode("utf-8")  # the 8bit body is valid UTF-8
                self.assertTrue(any(b > 127 for b in m.data))

    def test_deterministic_for_a_seed(self):
        a = corpus.Corpus(seed=3, tag="d").generate(6)
        b = corpus.Corpus(seed=3, tag="d").generate(6)
        self.assertEqual([m.data for m in a], [m.data for m in b])


class DovecotTest(DovecotCase):
    def test_serves_corpus_bytes_on_every_transport(self):
        msgs = corpus.Corpus(seed=11, tag="bytes", attachment_sizes=(3 << 20,)).generate(7)
        self.dovecot.deliver_all(POP_USER, msgs)
        for tls in ("implicit", "starttls", "none"):
            with self.subTest(tls=tls):
                got = self.dovecot.retrieve_all(POP_USER, tls)
                self.assertEqual(len(got), len(msgs))
                for g, m in zip(got, msgs):
                    # CRLF files are served unchanged: the corpus bytes are the POP bytes.
                    self.assertEqual(g.data, m.data, m.kind)
                    self.assertEqual(g.size, len(m.data), f"LIST size of {m.kind}")
                    self.assertEqual(g.message_id, m.message_id)
                self.assertEqual(len({g.uidl for g in got}), len(msgs))

    def test_stls_offered_and_plain_capa(self):
        pop = poplib.POP3("127.0.0.1", self.dovecot.pop3_port, timeout=10)
        try:
            caps = pop.capa()
            self.assertIn("STLS", caps)
            self.assertIn("UIDL", caps)
            pop.stls(context=self.dovecot.ssl_context())
            self.assertIsInstance(pop.sock, ssl.SSLSocket)
        finally:
            pop.quit()

    def test_certificate_is_verified_against_the_harness_ca(self):
        ctx = ssl.create_default_context()  # system trust store: must not trust the test CA
        with self.assertRaises(ssl.SSLCertVerificationError):
            poplib.POP3_SSL("127.0.0.1", self.dovecot.pop3s_port, context=ctx, timeout=10)
        other = certs.make_certs(os.path.join(self.dir, "other-ca"))
        ctx = ssl.create_default_context(cafile=other.ca_cert)
        with self.assertRaises(ssl.SSLCertVerificationError):
            poplib.POP3_SSL("127.0.0.1", self.dovecot.pop3s_port, context=ctx, timeout=10)
        # localhost is in the SAN as well as 127.0.0.1.
        with socket.create_connection(("127.0.0.1", self.dovecot.pop3s_port), timeout=10) as raw:
            with self.dovecot.ssl_context().wrap_socket(raw, server_hostname="localhost") as s:
                self.assertTrue(s.recv(100).startswith(b"+OK"))

    def test_wrong_password_refused(self):
        pop = poplib.POP3("127.0.0.1", self.dovecot.pop3_port, timeout=10)
        try:
            pop.user(POP_USER)
            with self.assertRaises(poplib.error_proto):
                pop.pass_("not-" + POP_PASSWORD)
        finally:
            pop.close()

    def test_deliver_while_running_keeps_uidls_stable(self):
        first = corpus.small_corpus("live", 2, seed=1, attachment_size=1000)
        self.dovecot.deliver_all(POP_USER, first)
        before = self.dovecot.uidl_list(POP_USER)
        self.assertEqual(len(before), 2)
        late = corpus.small_corpus("late", 1, seed=2)
        self.dovecot.deliver_all(POP_USER, late)
        after = self.dovecot.uidl_list(POP_USER)
        self.assertEqual(after[:2], before)
        self.assertEqual(len(after), 3)
        self.assertEqual(self.dovecot.retrieve_all(POP_USER)[2].data, late[0].data)

    def test_delete_and_quit_empties_the_maildir(self):
        self.dovecot.deliver_all(POP_USER, corpus.small_corpus("del", 3, seed=5, attachment_size=10))
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 3)
        pop = self.dovecot.pop_connect(POP_USER)
        for n in (1, 2, 3):
            pop.dele(n)
        # RFC 1939 section 6: nothing is removed before QUIT enters the UPDATE state.
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 3)
        pop.quit()
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 0)

    def test_dele_without_quit_deletes_nothing(self):
        self.dovecot.deliver_all(POP_USER, corpus.small_corpus("noquit", 2, seed=6,
                                                               attachment_size=10))
        pop = self.dovecot.pop_connect(POP_USER, tls="none")
        pop.dele(1)
        pop.close()  # connection dropped, as by a killed client
        self.assertEqual(len(self.dovecot.uidl_list(POP_USER)), 2)

    def test_two_instances_side_by_side_and_clean_stop(self):
        other = dovecot.Dovecot(os.path.join(self.dir, "dovecot2"), self.certs)
        other.add_user("bob", "bobpw")
        other.start()
        try:
            self.assertNotIn(other.pop3_port, (self.dovecot.pop3_port, self.dovecot.pop3s_port))
            other.deliver("bob", corpus.small_corpus("bob", 1, seed=3)[0].data)
            self.dovecot.deliver(POP_USER, corpus.small_corpus("al", 1, seed=4)[0].data)
            self.assertEqual(len(other.retrieve_all("bob")), 1)
            self.assertEqual(len(self.dovecot.retrieve_all(POP_USER)), 1)
            with self.assertRaises(poplib.error_proto):  # users are per instance
                self._login(other.pop3_port, POP_USER, POP_PASSWORD)
        finally:
            master = other.process
            other.stop()
        self.assertIsNotNone(master.returncode)
        self.assertFalse(util.port_accepts(other.pop3_port))
        self.assertFalse(util.port_accepts(other.pop3s_port))
        self.assertFalse(os.path.exists(f"/proc/{master.pid}"))
        # The first instance is unaffected.
        self.assertEqual(len(self.dovecot.uidl_list(POP_USER)), 1)

    @staticmethod
    def _login(port, user, password):
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        try:
            pop.user(user)
            pop.pass_(password)
        finally:
            pop.close()

    def test_pop3_through_fault_proxy_with_held_dele(self):
        self.dovecot.deliver_all(POP_USER, corpus.small_corpus("px", 2, seed=8, attachment_size=10))
        proxy = FaultProxy("127.0.0.1", self.dovecot.pop3_port).start()
        self.addCleanup(proxy.stop)
        hold = proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
        pop = poplib.POP3("127.0.0.1", proxy.port, timeout=10)
        pop.user(POP_USER)
        pop.pass_(POP_PASSWORD)
        self.assertEqual(len(pop.uidl()[1]), 2)
        done = threading.Event()

        def dele():
            try:
                pop.dele(1)
                pop.quit()
            except (OSError, poplib.error_proto):
                pass
            done.set()

        threading.Thread(target=dele, daemon=True).start()
        self.assertTrue(hold.held.wait(10))
        self.assertTrue(re.match(rb"DELE 1\r\n", hold.line))
        self.assertFalse(done.wait(0.2))  # the client waits for the held command's reply
        hold.release()
        self.assertTrue(done.wait(10))
        self.assertEqual(len(self.dovecot.uidl_list(POP_USER)), 1)


if __name__ == "__main__":
    unittest.main()
