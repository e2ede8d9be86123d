"""FETCH through the daemon, compared with Dovecot: the MIME corpus of test_mime_dovecot is
APPENDed to popbridge (over TLS) and to a private Debian dovecot-imapd, and for every message the
ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE, BODY[HEADER], BODY[TEXT], and each part's BODY[n] and
BODY[n.MIME] must be byte-identical. Deliberate differences are the ones test_mime_dovecot lists,
plus one: Dovecot rewrites bare LF line endings to CRLF when it stores an APPEND, popbridge keeps
the bytes it was given, so for those messages only the structures are compared."""

import os
import re
import shutil
import socket
import ssl
import unittest

from harness import dovecot
from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_mime_dovecot import CORPUS, DELIBERATE, PASSWORD, USER, RawImap


class TlsRawImap(RawImap):
    """RawImap over implicit TLS, trusting the harness CA."""

    def __init__(self, port, ca_file):  # noqa: super().__init__ would connect in plaintext
        context = ssl.create_default_context(cafile=ca_file)
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.file = self.sock.makefile("rb")
        self.n = 0
        greeting = self.file.readline()
        if not greeting.startswith(b"* OK"):
            raise AssertionError(f"greeting {greeting!r}")


def has_bare_lf(data):
    return re.search(rb"(?<!\r)\n", data) is not None


def part_sections(bodystructure):
    """Section numbers of the leaf and message parts named in a BODYSTRUCTURE, as popbridge
    and Dovecot agree on it: walks the nested lists (multipart children are lists that start
    with "(")."""
    sections = []

    def walk(text, pos, prefix):
        # text[pos] == "(": a body. Multipart if the next char is "(".
        assert text[pos:pos + 1] == b"("
        if text[pos + 1:pos + 2] != b"(":
            sections.append(prefix or b"1")
            return skip(text, pos)
        n = 0
        pos += 1
        while text[pos:pos + 1] == b"(":
            n += 1
            pos = walk(text, pos, (prefix + b"." if prefix else b"") + str(n).encode())
        return skip(text, pos - 1, depth=1)

    def skip(text, pos, depth=0):
        # Skips to the ")" that closes the list open at `pos` (or the one `depth` levels up).
        in_quote = False
        while pos < len(text):
            c = text[pos:pos + 1]
            if in_quote:
                if c == b"\\":
                    pos += 1
                elif c == b'"':
                    in_quote = False
            elif c == b'"':
                in_quote = True
            elif c == b"{":
                end = text.index(b"}", pos)
                pos = end + 2 + int(text[pos + 1:end])
                continue
            elif c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos += 1
        raise AssertionError("unbalanced BODYSTRUCTURE")

    walk(bodystructure, 0, b"")
    return sections


def open_reference_pair(case):
    """For a PopbridgeCase: a private Dovecot IMAP (Debian's dovecot-imapd) and a new popbridge,
    each logged in over a raw connection closed at cleanup; returns (theirs, ours). Skips the test
    when dovecot-imapd is not installed."""
    if shutil.which("dovecot") is None or not os.path.exists("/usr/lib/dovecot/imap"):
        case.skipTest("dovecot-imapd is not installed (scripts/deps.sh)")
    case.reference = dovecot.Dovecot(os.path.join(case.dir, "dovecot-imap"), case.certs, imap=True)
    case.reference.add_user(USER, PASSWORD)
    case.reference.start()
    case.addCleanup(case.reference.stop)
    theirs = RawImap(case.reference.imap_port)
    case.addCleanup(theirs.close)
    theirs.command(b"LOGIN %s %s" % (USER.encode(), PASSWORD.encode()))
    pb = case.new_popbridge()
    ours = TlsRawImap(pb.imaps_port, case.certs.ca_cert)
    case.addCleanup(ours.close)
    ours.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
    return theirs, ours


class FetchDifferentialTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.theirs, self.ours = open_reference_pair(self)
        self.names = list(CORPUS)
        for name in self.names:
            for server in (self.theirs, self.ours):
                server.command(b"APPEND INBOX", literal=CORPUS[name])
        for server in (self.theirs, self.ours):
            server.command(b"SELECT INBOX")

    def test_fetch_matches_dovecot(self):
        compared = 0
        for seq, name in enumerate(self.names, start=1):
            exempt = DELIBERATE.get(name, set())
            with self.subTest(message=name):
                for item in (b"ENVELOPE", b"BODY", b"BODYSTRUCTURE"):
                    if item.decode() in exempt:
                        continue
                    self.assertEqual(self.ours.fetch_item(seq, item),
                                     self.theirs.fetch_item(seq, item),
                                     f"{name}: {item.decode()}")
                    compared += 1
                if has_bare_lf(CORPUS[name]) or "sections" in exempt:
                    continue
                self.assertEqual(self.ours.fetch_item(seq, b"RFC822.SIZE"),
                                 self.theirs.fetch_item(seq, b"RFC822.SIZE"), name)
                for section in (b"HEADER", b"TEXT"):
                    self.assertEqual(self.ours.fetch_section(seq, section),
                                     self.theirs.fetch_section(seq, section),
                                     f"{name}: BODY[{section.decode()}]")
                structure = self.theirs.fetch_item(seq, b"BODYSTRUCTURE")
                for part in part_sections(structure):
                    self.assertEqual(self.ours.fetch_section(seq, part),
                                     self.theirs.fetch_section(seq, part),
                                     f"{name}: BODY[{part.decode()}]")
                    if structure.startswith(b"(("):
                        self.assertEqual(self.ours.fetch_section(seq, part + b".MIME"),
                                         self.theirs.fetch_section(seq, part + b".MIME"),
                                         f"{name}: BODY[{part.decode()}.MIME]")
                    compared += 1
        self.assertGreater(compared, 3 * len(self.names))

    def test_missing_part_answers_as_dovecot_does(self):
        for part in (b"9", b"9.9", b"1.5"):
            self.assertEqual(self.ours.fetch_item(1, b"BODY.PEEK[%s]" % part, b"BODY[%s]" % part),
                             self.theirs.fetch_item(1, b"BODY.PEEK[%s]" % part,
                                                    b"BODY[%s]" % part), part)


if __name__ == "__main__":
    unittest.main()
