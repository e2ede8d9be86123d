"""Pulls over POP3S (implicit TLS, RFC 8314) and POP3 with STLS (RFC 2595): every message Dovecot
serves ends up in INBOX exactly once and byte-identical (BODY.PEEK[], RFC822.SIZE and
BODY[HEADER] checked against the bytes Dovecot sends)."""

import os
import unittest

from harness import corpus, imap
from harness.case import POP_USER, PopbridgeCase
from harness.certs import make_certs
from harness.util import wait_until


class PullTlsTest(PopbridgeCase):
    def pull_and_verify(self, tls):
        ref = self.seed(count=7, attachment_size=2 << 20)
        self.assertEqual(len(ref), 7)
        pb = self.new_popbridge([self.account(tls=tls)])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(ref))
        self.assert_store_matches(conn, ref, check_headers=True)

        # Exactly once across later polls: a message delivered now can only show up through a
        # later poll, and when it does, nothing seen before may have come back.
        late = corpus.small_corpus(self.tag() + "-late", 1, attachment_size=1000)
        self.dovecot.deliver_all(POP_USER, late)
        self.wait_for_inbox(pb, conn, len(ref) + 1)
        self.assert_store_matches(conn, self.reference())

    def test_implicit_tls(self):
        self.pull_and_verify("implicit")

    def test_starttls(self):
        self.pull_and_verify("starttls")

    def test_two_accounts_one_inbox(self):
        self.dovecot.add_user("bob", "bob-pop-pw")
        ref_alice = self.seed(count=3, attachment_size=4 << 20, tag="alice")
        ref_bob = self.seed(count=3, user="bob", attachment_size=1 << 20, tag="bob")
        pb = self.new_popbridge([self.account(tls="implicit", name="a"),
                                 self.account(tls="starttls", name="b", user="bob")])
        conn = self.imap_login(pb, mode="starttls")
        self.wait_for_inbox(pb, conn, 6)
        self.assert_store_matches(conn, ref_alice + ref_bob)

    def test_untrusted_certificate_is_not_pulled_from(self):
        # verify_certificates is on and ca_file names a CA that did not sign Dovecot's cert: the
        # handshake must fail and nothing may be fetched (or deleted).
        self.seed(count=2, attachment_size=1000)
        logins = self.dovecot.logs().count("Login: user=<alice>")  # the seed's own read-back
        other = make_certs(os.path.join(self.dir, "other-ca"))
        pb = self.new_popbridge([self.account(tls="implicit", retention="delete",
                                              ca_file=other.ca_cert)])
        wait_until(lambda: "TLS handshaking" in self.dovecot.logs()
                   or "SSL_accept" in self.dovecot.logs(), 30,
                   "a refused TLS handshake at Dovecot", details=pb.logs)
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 0)
        self.assertEqual(self.dovecot.maildrop_file_count(POP_USER), 2)
        self.assertEqual(self.dovecot.logs().count("Login: user=<alice>"), logins)


if __name__ == "__main__":
    unittest.main()
