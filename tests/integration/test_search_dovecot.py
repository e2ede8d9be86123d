"""SEARCH TEXT and BODY through the daemon, compared with Dovecot: the same MIME messages
(quoted-printable, base64, Latin-1, KOI8-R, RFC 2047 encoded-words, an attached message, a
non-text attachment, a preamble) are APPENDed to popbridge and to a private Debian
dovecot-imapd, and every TEXT/BODY query must give both servers' answers alike. This is what the
full-text index's extraction (store/search_text.h) is modelled on: BODY sees the decoded text
parts only; TEXT also every header block, decoded.

Both fold case with i;unicode-casemap (RFC 5051): "CRÈME" matches "Crème", "σοσ" matches "ΣΟΣ"
and "ΣΟς", and a needle ending in a base letter matches it accented ("cafe" in "café")."""

import base64
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap, open_reference_pair
from test_mime_dovecot import PASSWORD, USER, RawImap

MESSAGES = [
    # A multipart with every kind of part.
    b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
    b"Subject: =?UTF-8?B?UsOpc3Vtw6k=?= of the week\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
    b"preamble-word\r\n--b1\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Cr=E8me br=FBl=E9e for every=\r\nbody, 100% sure_thing.\r\n--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"PHA+U3RyYcOfZSB1bmQgR3LDvMOfZTwvcD4=\r\n--b1\r\n"
    b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"c2VjcmV0IGltYWdlIGJ5dGVz\r\n--b1\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n"
    b"raw-octet-words\r\n--b1\r\n"
    b"Content-Type: message/rfc822\r\n\r\n"
    b"Subject: =?koi8-r?B?8NLJ18XU?= attached\r\n"
    b"Content-Type: text/plain; charset=koi8-r\r\n\r\n"
    b"\xf0\xd2\xc9\xd7\xc5\xd4 inner body\r\n--b1--\r\nepilogue-word\r\n",
    # Plain 7-bit, no MIME.
    b"From: bob@example.net\r\nSubject: Lunch plans\r\n\r\nShall we meet at noon? "
    b"Everybody is welcome.\r\n",
    # Single part, base64 UTF-8.
    b"From: carol@example.com\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"R3LDvMOfZSBhdXMgZGVyIFN0cmHDn2Ugb2YgbnVtYmVycw==\r\n",
    # Single part, quoted-printable windows-1252 with a soft line break.
    b"From: dave@example.org\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=windows-1252\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Amount due: 42 =80, pay=\r\nable now.\r\n",
    # Accented capitals, Greek, Cyrillic, ß, Ø: in an encoded-word subject and a UTF-8 body.
    b"From: erin@example.org\r\n"
    b"Subject: =?UTF-8?B?" + base64.b64encode(
        "\u00c9COLE \u00c4rger \u00d8l \u03a3\u03bf\u03c2 \u0414\u043e\u043c Stra\u00dfe".encode())
    + b"?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    + "\u00e9cole \u00e4rger \u00f8l \u03a3\u039f\u03a3 \u03c3\u03bf\u03c3 \u03bb\u03cc\u03b3\u03bf\u03c2 "
      "\u0434\u043e\u043c STRASSE stra\u00dfe caf\u00e9 CAFE\u0301 na\u00efve "
      "\u00d6ffnung \u00f6FFNUNG\r\n".encode(),
]

QUERIES = [
    ("BODY", "everybody"), ("BODY", "=E8me"), ("BODY", "Cr\u00e8me br\u00fbl\u00e9e"),
    ("BODY", "PHA+"), ("BODY", "Stra\u00dfe und"), ("BODY", "secret image"), ("BODY", "c2VjcmV0"),
    ("BODY", "raw-octet-words"), ("BODY", "preamble-word"), ("BODY", "epilogue-word"),
    ("BODY", "quoted-printable"), ("BODY", "Content-Type"), ("BODY", "of the week"),
    ("TEXT", "of the week"), ("TEXT", "R\u00e9sum\u00e9"), ("TEXT", "=?UTF-8?B"),
    ("BODY", "\u041f\u0440\u0438\u0432\u0435\u0442 attached"),
    ("TEXT", "\u041f\u0440\u0438\u0432\u0435\u0442 attached"), ("BODY", "inner body"),
    ("TEXT", "From: Andr\u00e9"), ("TEXT", "Subject:"), ("BODY", "b1"), ("TEXT", "quoted-printable"),
    ("TEXT", "charset=koi8-r"), ("TEXT", "image/png"), ("TEXT", "preamble-word"),
    ("BODY", "attached"), ("BODY", "100% sure"), ("BODY", "EVERYBODY"), ("TEXT", "lunch"),
    ("BODY", "lunch"), ("BODY", "noon"), ("TEXT", "Gr\u00fc\u00dfe"), ("BODY", "Gr\u00fc\u00dfe aus"),
    ("BODY", "of numbers"), ("BODY", "R3LD"), ("BODY", "42 \u20ac, payable"), ("BODY", "=80"),
    ("TEXT", "windows-1252"), ("BODY", "windows-1252"), ("TEXT", "Invoice"), ("BODY", "invoice"),
    ("BODY", "CR\u00c8ME BR\u00dbL\u00c9E"), ("TEXT", "r\u00c9SUM\u00c9"),
    ("BODY", "GR\u00dc\u00dfE"), ("TEXT", "\u043f\u0440\u0418\u0432\u0415\u0442"),
    ("SUBJECT", "\u00e9cole"), ("SUBJECT", "\u00c4RGER"), ("SUBJECT", "\u00f8l"),
    ("SUBJECT", "ol"), ("SUBJECT", "\u03c3\u03bf\u03c3"), ("SUBJECT", "\u03a3\u039f\u03a3"),
    ("SUBJECT", "\u0434\u043e\u043c"), ("SUBJECT", "STRA\u00dfE"), ("SUBJECT", "strasse"),
    ("SUBJECT", "ecole"), ("BODY", "\u00c9COLE \u00c4RGER \u00d8L"),
    ("BODY", "\u03c3\u03bf\u03c2 \u03a3\u039f\u03a3"), ("BODY", "\u039b\u038c\u0393\u039f\u03a3"),
    ("BODY", "\u039b\u039f\u0393\u039f\u03a3"), ("BODY", "\u0414\u041e\u041c"),
    ("BODY", "dom"), ("BODY", "Stra\u00dfe"), ("BODY", "strasse stra"), ("BODY", "Caf\u00e9 cafe"),
    ("BODY", "CAFE"), ("BODY", "cafe caf"), ("BODY", "NA\u00cfVE"), ("BODY", "naive"),
    ("BODY", "\u00f6ffnung \u00d6ffnung"), ("BODY", "offnung"), ("TEXT", "\u00c9COLE \u00e4rger"),
    ("TEXT", "\u00e9cole \u00e4rger \u00f8l"), ("BODY", "\u00e9cole \u00e4rger \u00f8l"),
]


def search(server, key, needle):
    data = needle.encode()
    if data.isascii():
        untagged = server.command(b'SEARCH %s "%s"' % (key.encode(), data))
    else:
        untagged = server.command(b"SEARCH CHARSET UTF-8 %s" % key.encode(), literal=data)
    for r in untagged:
        if r.startswith(b"* SEARCH"):
            return sorted(int(x) for x in r[len(b"* SEARCH"):].split())
    raise AssertionError(f"no SEARCH response to {key} {needle!r}: {untagged!r}")


class SearchDifferentialTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.theirs, self.ours = open_reference_pair(self)
        for message in MESSAGES:
            for server in (self.theirs, self.ours):
                server.command(b"APPEND INBOX", literal=message)
        for server in (self.theirs, self.ours):
            server.command(b"SELECT INBOX")

    def test_text_and_body_match_dovecot(self):
        matched = 0
        for key, needle in QUERIES:
            theirs = search(self.theirs, key, needle)
            self.assertEqual(search(self.ours, key, needle), theirs, f"{key} {needle!r}")
            matched += bool(theirs)
        # Both kinds of answer occur: the comparison cannot pass by finding nothing.
        self.assertGreater(matched, 15)
        self.assertLess(matched, len(QUERIES) - 10)


if __name__ == "__main__":
    unittest.main()
