"""unittest base classes. Each test gets its own temp dir, certificates, private Dovecot (with a POP
user `alice`), and creates its own popbridge instances; cleanups stop every process the test
started (popbridge first, then Dovecot) and remove the temp dir."""

import os
import unittest

from . import certs, corpus, dovecot, imap, popbridge, util

IMAP_USER = "alice"
IMAP_PASSWORD = "imap-secret-1"
POP_USER = "alice"
POP_PASSWORD = "pop-secret-2"


def long_tests():
    return os.environ.get("POPBRIDGE_LONG_TESTS") == "1"


class DovecotCase(unittest.TestCase):
    """A private Dovecot per test; no daemon needed. A subclass may set `dovecot_options` (keyword
    arguments of dovecot.Dovecot, e.g. {"auth_mechanisms": "plain login apop"})."""

    dovecot_options = {}

    def setUp(self):
        self.dir = util.make_temp_dir()
        self.addCleanup(util.remove_temp_dir, self.dir)
        self.certs = certs.make_certs(os.path.join(self.dir, "certs"))
        self.dovecot = dovecot.Dovecot(os.path.join(self.dir, "dovecot"), self.certs,
                                       **self.dovecot_options)
        self.dovecot.add_user(POP_USER, POP_PASSWORD)
        self.dovecot.start()
        self.addCleanup(self.dovecot.stop)

    def tag(self):
        """A short Message-ID tag unique to this test."""
        return self.id().rsplit(".", 1)[-1].replace("_", "-")


class PopbridgeCase(DovecotCase):
    """DovecotCase plus helpers to run popbridge against it and read it back over IMAP."""

    def setUp(self):
        binary = popbridge.find_binary()
        if binary is None:
            self.skipTest("no popbridge binary: set POPBRIDGE_BIN or build build/*/proxy/popbridge")
        if not os.access(binary, os.X_OK):
            self.fail(f"POPBRIDGE_BIN={binary} is not an executable file")
        self.binary = binary
        super().setUp()
        self._instances = 0

    # ----------------------------------------------------------------- daemon

    def account(self, tls="implicit", retention="keep", name="dovecot", port=None, user=POP_USER,
                **kw):
        """A POP account pointing at this test's Dovecot (or at `port`, e.g. a fault proxy)."""
        if port is None:
            port = self.dovecot.pop3s_port if tls == "implicit" else self.dovecot.pop3_port
        kw.setdefault("ca_file", self.certs.ca_cert)
        return popbridge.Account(name=name, host="127.0.0.1", port=port, tls=tls, username=user,
                                 password=self.dovecot.password(user), retention=retention, **kw)

    def new_popbridge(self, accounts=(), start=True, user=IMAP_USER, password=IMAP_PASSWORD):
        """A popbridge with one local user owning `accounts`, stopped at cleanup."""
        self._instances += 1
        pb = popbridge.Popbridge(self.binary, os.path.join(self.dir, f"popbridge{self._instances}"),
                                 self.certs)
        pb.add_user(user, password, accounts)
        self.addCleanup(self._stop_at_cleanup, pb)
        if start:
            pb.start()
        return pb

    @staticmethod
    def _stop_at_cleanup(pb):
        """Every test ends with a SIGTERM shutdown that must exit 0: under ASan this is where
        leaks and shutdown bugs surface (a failing cleanup fails the test)."""
        try:
            code = pb.stop()
        finally:
            pb.kill()
        if code not in (None, 0):
            raise AssertionError(f"popbridge exited with {code} after SIGTERM\n{pb.logs()}")

    def assert_clean_stop(self, pb):
        """SIGTERM; the daemon must exit 0 (loop closed cleanly, no sanitizer report)."""
        logs = pb.logs
        code = pb.stop()
        self.assertEqual(code, 0, f"popbridge exit code after SIGTERM\n{logs()}")

    # ----------------------------------------------------------------- IMAP

    def imap_login(self, pb, mode="implicit", user=IMAP_USER, password=IMAP_PASSWORD):
        port = pb.imaps_port if mode == "implicit" else pb.imap_port
        conn = imap.login(port, self.certs.ca_cert, user, password, mode)
        self.addCleanup(imap.safe_logout, conn)
        return conn

    def wait_for_inbox(self, pb, conn, count, timeout=60, exact=True):
        return imap.wait_for_count(conn, count, timeout,
                                   details=lambda: pb.logs() + "\n" + self.dovecot.logs(),
                                   exact=exact)

    def assert_store_matches(self, conn, reference, mailbox="INBOX", check_headers=False):
        """Every reference message (dovecot.PopMessage) is in `mailbox` exactly once and
        byte-identical (BODY.PEEK[]), RFC822.SIZE equals its length, nothing else is there.
        Returns the fetched messages keyed by Message-ID."""
        typ, _ = conn.select(mailbox, readonly=True)
        self.assertEqual(typ, "OK")
        fetched = imap.fetch_all(conn)
        by_id = {}
        for m in fetched:
            mid = dovecot.message_id_of(m.body)
            self.assertIsNotNone(mid, f"UID {m.uid}: no Message-ID in {m.body[:200]!r}")
            self.assertNotIn(mid, by_id, f"{mid} stored twice (UIDs {by_id.get(mid) and by_id[mid].uid}"
                                         f" and {m.uid})")
            by_id[mid] = m
        expected = {r.message_id: r for r in reference}
        self.assertEqual(len(expected), len(reference), "reference has duplicate Message-IDs")
        self.assertEqual(sorted(by_id), sorted(expected), "stored Message-IDs differ")
        for mid, ref in expected.items():
            got = by_id[mid]
            if got.body != ref.data:
                self.fail(f"{mid}: stored bytes differ from what Dovecot serves "
                          f"({len(got.body)} vs {len(ref.data)} bytes; first difference at "
                          f"{_first_difference(got.body, ref.data)})")
            self.assertEqual(got.size, len(ref.data), f"{mid}: RFC822.SIZE")
            if check_headers:
                header = imap.fetch_item(conn, got.uid, "BODY.PEEK[HEADER]")
                want = ref.data[: ref.data.index(b"\r\n\r\n") + 4]
                self.assertEqual(header, want, f"{mid}: BODY[HEADER]")
        uids = [m.uid for m in fetched]
        self.assertEqual(uids, sorted(set(uids)), "UIDs must ascend and be unique")
        return by_id

    def seed(self, count=6, user=POP_USER, attachment_size=1 << 20, tag=None):
        """Delivers `count` corpus messages to `user` and returns the reference: the messages as
        Dovecot serves them over POP3 (read back without deleting)."""
        msgs = corpus.small_corpus(tag or self.tag(), count, attachment_size=attachment_size)
        self.dovecot.deliver_all(user, msgs)
        return self.reference(user)

    def reference(self, user=POP_USER):
        return self.dovecot.retrieve_all(user)


def _first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))
