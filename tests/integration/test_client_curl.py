"""curl as an IMAP client (RFC 5092 URLs): over imap:// with STARTTLS required (--ssl-reqd) and
over imaps://, it lists the mailboxes, runs EXAMINE and UID SEARCH as custom requests, fetches
whole messages, headers, parts and partial ranges by UID (and by sequence number) byte for byte,
and appends an uploaded file (-T). A wrong password is curl's "login denied" (exit code 67), and
so is any login over imap:// without TLS (popbridge advertises LOGINDISABLED there)."""

import os
import re
import unittest

from harness import clients, imap
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase

CURLE_LOGIN_DENIED = 67

UPLOAD = (b"From: Curl <curl@example.net>\r\nTo: alice@example.org\r\n"
          b"Subject: uploaded by curl\r\nMessage-ID: <curl-upload@popbridge.test>\r\n"
          b"Date: Sat, 02 Mar 2024 10:00:00 +0000\r\n\r\n"
          b"first line\r\n.\r\n..leading dots stay\r\nlast line\r\n")


class CurlClientTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=4, attachment_size=80_000)
        self.pb = self.new_popbridge([self.account()])
        self.conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, self.conn, len(self.ref))
        self.conn.select("INBOX", readonly=True)
        self.validity = self.conn.untagged_responses["UIDVALIDITY"][0]
        # UID of each reference message, found by Message-ID through imaplib.
        self.uids = {}
        for m in imap.fetch_all(self.conn):
            self.uids[m.uid] = next(r for r in self.ref if r.data == m.body)
        self.assertEqual(len(self.uids), len(self.ref))

    TRANSPORTS = ("starttls", "imaps")

    def url(self, transport, path=""):
        """(url, extra curl arguments) of `path` over imap:// with STARTTLS required or imaps://."""
        if transport == "starttls":
            return f"imap://127.0.0.1:{self.pb.imap_port}/{path}", ["--ssl-reqd"]
        return f"imaps://127.0.0.1:{self.pb.imaps_port}/{path}", []

    def urls(self, path=""):
        """The same resource over both transports: (name, url, extra curl arguments)."""
        return [(t, *self.url(t, path)) for t in self.TRANSPORTS]

    def curl(self, url, *args, password=IMAP_PASSWORD, **kw):
        return clients.curl(self.certs.ca_cert, url, *args, user=IMAP_USER, password=password,
                            **kw)

    def ok(self, url, *args, **kw):
        r = self.curl(url, *args, **kw)
        self.assertEqual(r.returncode, 0, f"curl {url} {args}: {r.stderr}\n{self.pb.logs(30)}")
        return r.stdout

    def test_list_mailboxes(self):
        for name, url, extra in self.urls():
            with self.subTest(transport=name):
                # A custom request on the server URL: CREATE, then the plain URL lists.
                self.ok(url, *extra, "-X", f"CREATE Curl-{name}")
                out = self.ok(url, *extra)
                names = re.findall(rb'^\* LIST \([^)]*\) "/" "?([^"\r\n]+)"?\r?$', out, re.M)
                self.assertIn(b"INBOX", names, out)
                self.assertIn(f"Curl-{name}".encode(), names, out)

    def test_examine(self):
        for name, url, extra in self.urls():
            with self.subTest(transport=name):
                out = self.ok(url, *extra, "-X", "EXAMINE INBOX")
                self.assertRegex(out, rf"(?m)^\* {len(self.ref)} EXISTS\r?$".encode())
                self.assertIn(b"[UIDVALIDITY " + self.validity + b"]", out)
                self.assertRegex(out, rf"\[UIDNEXT {max(self.uids) + 1}\]".encode())

    def test_fetch_by_uid_is_byte_identical(self):
        for name in self.TRANSPORTS:
            for uid, ref in self.uids.items():
                with self.subTest(transport=name, uid=uid):
                    url, extra = self.url(name, f"INBOX;UID={uid}")
                    self.assertEqual(self.ok(url, *extra), ref.data)
                    url, extra = self.url(name, f"INBOX;UID={uid};SECTION=HEADER")
                    header = ref.data[: ref.data.index(b"\r\n\r\n") + 4]
                    self.assertEqual(self.ok(url, *extra), header)
        # curl fetches BODY[] (not BODY.PEEK[]), which sets \Seen (RFC 3501 section 6.4.5).
        self.conn.select("INBOX", readonly=True)
        flags = imap.uid_flags(self.conn)
        self.assertEqual({uid: "\\Seen" in f for uid, f in flags.items()},
                         {uid: True for uid in self.uids})

    def test_sections_partial_and_mailindex(self):
        # Both transports carry the same bytes (test_fetch_by_uid_is_byte_identical); the
        # section forms go over imaps:// only.
        for uid, ref in self.uids.items():
            with self.subTest(uid=uid):
                text = ref.data[ref.data.index(b"\r\n\r\n") + 4:]
                url, _ = self.url("imaps", f"INBOX;UID={uid};SECTION=TEXT;PARTIAL=10.50")
                self.assertEqual(self.ok(url), text[10:60])
                if b"Content-Type: multipart/" not in ref.data:
                    # A non-multipart message's part 1 is its body (RFC 3501 section 6.4.5).
                    url, _ = self.url("imaps", f"INBOX;UID={uid};SECTION=1")
                    self.assertEqual(self.ok(url), text)
        for name in self.TRANSPORTS:
            with self.subTest(transport=name):
                # ;MAILINDEX= is a sequence number (curl sends FETCH, not UID FETCH).
                url, extra = self.url(name, "INBOX/;MAILINDEX=1")
                self.assertEqual(self.ok(url, *extra), self.uids[min(self.uids)].data)

    def test_uid_search_custom_request(self):
        for name, url, extra in self.urls("INBOX"):
            with self.subTest(transport=name):
                out = self.ok(url, *extra, "-X", "UID SEARCH ALL")
                m = re.search(rb"^\* SEARCH((?: \d+)*)\r?$", out, re.M)
                self.assertIsNotNone(m, out)
                self.assertEqual(sorted(int(u) for u in m.group(1).split()), sorted(self.uids))
                # The URL search form (RFC 5092 "?" query) sends SEARCH with sequence numbers.
                search_url, _ = self.url(name, "INBOX?ALL")
                out = self.ok(search_url, *extra)
                self.assertRegex(out, rb"(?m)^\* SEARCH 1 2 3 4\r?$")

    def test_append_by_upload(self):
        path = os.path.join(self.dir, "upload.eml")
        with open(path, "wb") as f:
            f.write(UPLOAD)
        self.conn.create("Uploads")
        for name, url, extra in self.urls("Uploads"):
            with self.subTest(transport=name):
                self.ok(url, *extra, upload=path)
        self.conn.select("Uploads", readonly=True)
        stored = imap.fetch_all(self.conn)
        self.assertEqual([m.body for m in stored], [UPLOAD, UPLOAD])
        self.assertEqual([m.size for m in stored], [len(UPLOAD)] * 2)
        # And back out through curl, byte for byte.
        for name, url, extra in self.urls(f"Uploads;UID={stored[1].uid}"):
            with self.subTest(transport=name, direction="fetch"):
                self.assertEqual(self.ok(url, *extra), UPLOAD)

    def test_wrong_password_is_login_denied(self):
        for name, url, extra in self.urls():
            with self.subTest(transport=name):
                r = self.curl(url, *extra, password="not-the-password")
                self.assertEqual(r.returncode, CURLE_LOGIN_DENIED, r.stderr)
                self.assertEqual(r.stdout, b"")

    def test_no_login_without_tls(self):
        # Without --ssl-reqd curl does not ask for STARTTLS; popbridge (plaintext_auth: never)
        # advertises LOGINDISABLED and no AUTH= mechanism, so no credentials can be sent.
        url = f"imap://127.0.0.1:{self.pb.imap_port}/"
        r = self.curl(url)
        self.assertEqual(r.returncode, CURLE_LOGIN_DENIED, r.stderr)
        self.assertEqual(r.stdout, b"")


if __name__ == "__main__":
    unittest.main()
