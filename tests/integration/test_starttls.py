"""IMAP login rules: on the STARTTLS port LOGINDISABLED until STARTTLS (RFC 3501 sections 6.2.1,
6.2.3, 7.2.1), LOGIN refused before and accepted after; wrong passwords get
NO [AUTHENTICATIONFAILED] (RFC 5530); AUTHENTICATE PLAIN (RFC 4616) works."""

import imaplib
import unittest

from harness import imap
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase


def plain(user, password, authzid=""):
    return lambda _challenge: f"{authzid}\0{user}\0{password}".encode()


class StarttlsTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge([self.account()])

    def test_logindisabled_until_starttls(self):
        conn = imap.connect(self.pb.imap_port, self.certs.ca_cert, mode="plain")
        self.addCleanup(imap.safe_logout, conn)
        self.assertIn("STARTTLS", conn.capabilities)
        self.assertIn("LOGINDISABLED", conn.capabilities)
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            conn.login(IMAP_USER, IMAP_PASSWORD)
        self.assertNotIn("OK", str(refused.exception)[:2])
        # AUTHENTICATE before TLS is refused as well (plaintext_auth: never).
        with self.assertRaises(imaplib.IMAP4.error):
            conn.authenticate("PLAIN", plain(IMAP_USER, IMAP_PASSWORD))
        typ, _ = conn.starttls(ssl_context=imap.client_context(self.certs.ca_cert))
        self.assertEqual(typ, "OK")
        # imaplib asks for CAPABILITY again after STARTTLS, as RFC 3501 section 6.2.1 requires.
        self.assertNotIn("LOGINDISABLED", conn.capabilities)
        self.assertNotIn("STARTTLS", conn.capabilities)
        self.assertIn("AUTH=PLAIN", conn.capabilities)
        typ, _ = conn.login(IMAP_USER, IMAP_PASSWORD)
        self.assertEqual(typ, "OK")
        typ, _ = conn.select("INBOX")
        self.assertEqual(typ, "OK")

    def test_implicit_port_offers_login(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert, mode="implicit")
        self.addCleanup(imap.safe_logout, conn)
        self.assertNotIn("LOGINDISABLED", conn.capabilities)
        self.assertNotIn("STARTTLS", conn.capabilities)
        self.assertIn("IMAP4REV1", conn.capabilities)
        typ, _ = conn.login(IMAP_USER, IMAP_PASSWORD)
        self.assertEqual(typ, "OK")
        typ, data = conn.list()
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b'"INBOX"' in l or l.upper().endswith(b" INBOX") for l in data), data)

    def test_wrong_password_authenticationfailed(self):
        for mode in ("implicit", "starttls"):
            with self.subTest(mode=mode):
                port = self.pb.imaps_port if mode == "implicit" else self.pb.imap_port
                conn = imap.connect(port, self.certs.ca_cert, mode=mode)
                self.addCleanup(imap.safe_logout, conn)
                with self.assertRaises(imaplib.IMAP4.error) as e:
                    conn.login(IMAP_USER, "not-" + IMAP_PASSWORD)
                self.assertIn("[AUTHENTICATIONFAILED]", str(e.exception))
                # The same answer for an unknown user: no user enumeration.
                with self.assertRaises(imaplib.IMAP4.error) as e:
                    conn.login("nobody-here", IMAP_PASSWORD)
                self.assertIn("[AUTHENTICATIONFAILED]", str(e.exception))
                # The connection is still usable after failures.
                typ, _ = conn.login(IMAP_USER, IMAP_PASSWORD)
                self.assertEqual(typ, "OK")

    def test_authenticate_plain(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            conn.authenticate("PLAIN", plain(IMAP_USER, "wrong"))
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        typ, _ = conn.authenticate("PLAIN", plain(IMAP_USER, IMAP_PASSWORD))
        self.assertEqual(typ, "OK")
        typ, data = conn.select("INBOX")
        self.assertEqual(typ, "OK", data)

    def test_special_characters_in_password(self):
        # LOGIN sends it as a quoted string with escapes (RFC 3501 section 4.3).
        pw = 'p a"s\\s'
        pb = self.new_popbridge([self.account()], user="carol", password=pw)
        conn = imap.connect(pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        typ, _ = conn.login("carol", pw)
        self.assertEqual(typ, "OK")


if __name__ == "__main__":
    unittest.main()
