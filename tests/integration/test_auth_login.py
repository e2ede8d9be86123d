"""AUTHENTICATE LOGIN (draft-murchison-sasl-login): the two challenges, a wrong password, "*"
cancelling at either step, the same gating as AUTH=PLAIN before STARTTLS, and a user name sent
as an initial response."""

import base64
import imaplib
import unittest

from harness import imap, raw
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase


def login_answers(user, password, seen=None):
    answers = [user, password]

    def answer(challenge):
        if seen is not None:
            seen.append(challenge)
        return answers.pop(0).encode() if answers else None

    return answer


class AuthLoginTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge([self.account()])

    def test_login_mechanism(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        self.assertIn("AUTH=LOGIN", conn.capabilities)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            conn.authenticate("LOGIN", login_answers(IMAP_USER, "wrong"))
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        seen = []
        typ, _ = conn.authenticate("LOGIN", login_answers(IMAP_USER, IMAP_PASSWORD, seen))
        self.assertEqual(typ, "OK")
        self.assertEqual(seen, [b"Username:", b"Password:"])
        typ, data = conn.select("INBOX")
        self.assertEqual(typ, "OK", data)

    def test_cancel_at_each_step(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        # imaplib answers "*" when the callback returns None (RFC 3501 6.2.2).
        for answers in ([], [IMAP_USER]):
            with self.subTest(steps=len(answers)):
                queue = list(answers)
                with self.assertRaises(imaplib.IMAP4.error) as e:
                    conn.authenticate("LOGIN", lambda _c: queue.pop(0).encode() if queue else None)
                self.assertIn("cancelled", str(e.exception))
        typ, _ = conn.authenticate("LOGIN", login_answers(IMAP_USER, IMAP_PASSWORD))
        self.assertEqual(typ, "OK")

    def test_user_name_as_initial_response(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        user = base64.b64encode(IMAP_USER.encode())
        conn.send(b"a1 AUTHENTICATE LOGIN " + user + b"\r\n")
        self.assertEqual(conn.readline(), b"+ UGFzc3dvcmQ6\r\n")
        conn.send(base64.b64encode(IMAP_PASSWORD.encode()) + b"\r\n")
        untagged, tagged, _ = raw.command(conn, "a2", [b"NOOP"])
        # a1's tagged OK arrives before a2's.
        self.assertTrue(any(p[0].startswith(b"a1 OK") for p in untagged), untagged)
        self.assertTrue(tagged.startswith(b"a2 OK"), tagged)

    def test_refused_before_starttls(self):
        conn = imap.connect(self.pb.imap_port, self.certs.ca_cert, mode="plain")
        self.addCleanup(imap.safe_logout, conn)
        self.assertNotIn("AUTH=LOGIN", conn.capabilities)
        self.assertIn("LOGINDISABLED", conn.capabilities)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            conn.authenticate("LOGIN", login_answers(IMAP_USER, IMAP_PASSWORD))
        self.assertIn("PRIVACYREQUIRED", str(e.exception))
        conn.starttls(ssl_context=imap.client_context(self.certs.ca_cert))
        self.assertIn("AUTH=LOGIN", conn.capabilities)
        typ, _ = conn.authenticate("LOGIN", login_answers(IMAP_USER, IMAP_PASSWORD))
        self.assertEqual(typ, "OK")


if __name__ == "__main__":
    unittest.main()
