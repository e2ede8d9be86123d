"""COMPRESS=DEFLATE (RFC 4978) next to Dovecot's imap_zlib as a reference: the same script, over
a raw DEFLATE stream from imaplib (harness.imap.Deflated), gets the same answers from both:
COMPRESS refused before login, OK once logged in, NO [COMPRESSIONACTIVE] the second time, then
SELECT, FETCH of every message byte for byte, NOOP and LOGOUT through the compressed stream,
with IMAP's STARTTLS underneath on both.

One deliberate difference: an unknown mechanism ("COMPRESS X-UNKNOWN") is BAD from popbridge,
as RFC 4978 3 lists "invalid or unknown argument" under BAD; Dovecot answers NO."""

import imaplib
import os
import unittest

from harness import dovecot, imap
from harness.case import IMAP_PASSWORD, IMAP_USER, POP_PASSWORD, POP_USER, PopbridgeCase

DOVECOT_ZLIB = """
mail_plugins = $mail_plugins zlib
protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
"""


def status(conn, *args):
    """(status, response code or None) of a command, BAD included (imaplib raises on BAD)."""
    try:
        typ, data = conn._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return ("BAD", None) if "BAD" in str(e).upper() or "COMMAND" in str(e).upper() else (
            "ERROR", str(e))
    text = (data[-1] or b"").decode() if data else ""
    code = text[1:text.index("]")] if text.startswith("[") else None
    return typ, code


class CompressDovecotTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=3, attachment_size=100_000)
        self.pb = self.new_popbridge([self.account()])
        conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, conn, len(self.ref))
        imap.safe_logout(conn)
        self.reference = dovecot.Dovecot(os.path.join(self.dir, "dovecot-imap"), self.certs,
                                         imap=True, imap_conf=DOVECOT_ZLIB)
        self.reference.add_user(POP_USER, POP_PASSWORD)
        self.reference.start()
        self.addCleanup(self.reference.stop)
        self.reference.deliver_all(POP_USER, self.ref)

    def script(self, port, user, password):
        conn = imap.connect(port, self.certs.ca_cert, mode="starttls")
        self.addCleanup(imap.safe_logout, conn)
        out = {"before login": status(conn, "COMPRESS", "DEFLATE")[0]}
        conn.login(user, password)
        typ, data = conn.capability()
        out["advertised"] = b"COMPRESS=DEFLATE" in data[0].split()
        out["unknown"] = status(conn, "COMPRESS", "X-UNKNOWN")[0]
        deflated = imap.Deflated(conn)  # asserts OK
        out["second"] = status(conn, "COMPRESS", "DEFLATE")
        typ, data = conn.select("INBOX", readonly=True)
        out["select"] = (typ, int(data[0]))
        out["bodies"] = sorted(m.body for m in imap.fetch_all(conn))
        out["noop"] = conn.noop()[0]
        out["logout"] = conn.logout()[0]
        out["compressed"] = deflated.wire_in < deflated.plain_in
        return out

    def test_same_answers_as_dovecot(self):
        theirs = self.script(self.reference.imap_port, POP_USER, POP_PASSWORD)
        ours = self.script(self.pb.imap_port, IMAP_USER, IMAP_PASSWORD)
        self.assertTrue(theirs["advertised"], "Dovecot's imap_zlib is not active")
        self.assertEqual(theirs["second"], ("NO", "COMPRESSIONACTIVE"))
        self.assertEqual(len(theirs["bodies"]), len(self.ref))
        self.assertTrue(theirs["compressed"])
        # The one deliberate difference (see the module docstring).
        self.assertEqual((ours.pop("unknown"), theirs.pop("unknown")), ("BAD", "NO"))
        self.assertEqual(ours, theirs)


if __name__ == "__main__":
    unittest.main()
