"""Quotas over IMAP (RFC 9208) with a real client (imaplib): the capabilities, GETQUOTAROOT and
GETQUOTA on the one root "" per user, SETQUOTA refused (limits come from the config), APPEND and
COPY over a limit refused with NO [OVERQUOTA] leaving nothing behind, MOVE still allowed, and a
POP pull that is never blocked by the quota but warns once; `popbridge store check` agrees with
the usage. STATUS=SIZE (RFC 8438) is advertised and SIZE sums RFC822.SIZE."""

import imaplib
import os
import re
import shutil
import unittest

from harness import dovecot
from harness.case import PopbridgeCase


def message(n, filler=0):
    return (f"From: sender{n}@example.net\r\nTo: alice@example.net\r\n"
            f"Subject: message {n}\r\nMessage-ID: <q{n}@example.net>\r\n\r\n"
            f"body of message {n}\r\n" + "x" * filler + "\r\n").encode()


def quota_of(conn):
    """(storage usage KiB, storage limit KiB, messages, message limit) from GETQUOTA ""."""
    typ, data = conn.getquota('""')
    if typ != "OK":
        raise AssertionError(f"GETQUOTA: {typ} {data}")
    m = re.fullmatch(rb'"" \(STORAGE (\d+) (\d+) MESSAGE (\d+) (\d+)\)', data[0])
    if m is None:
        raise AssertionError(f"QUOTA response: {data}")
    return tuple(int(g) for g in m.groups())


def status(conn, mailbox, items="(MESSAGES UIDNEXT SIZE)"):
    typ, data = conn.status(mailbox, items)
    if typ != "OK":
        raise AssertionError(f"STATUS: {typ} {data}")
    inner = re.search(rb"\((.*)\)", data[0]).group(1).split()
    return {inner[i].decode(): int(inner[i + 1]) for i in range(0, len(inner), 2)}


class QuotaTest(PopbridgeCase):
    def start(self, quota, accounts=()):
        pb = self.new_popbridge(accounts=accounts, start=False)
        pb.users[0].quota = quota
        pb.start()
        return pb

    def append(self, conn, mailbox, n, filler=0):
        typ, data = conn.append(mailbox, None, None, message(n, filler))
        return typ, data[0]

    def test_capabilities_and_quota_commands(self):
        pb = self.start({"storage": "8K", "messages": 3})
        conn = self.imap_login(pb)
        for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "STATUS=SIZE"):
            self.assertIn(cap, conn.capabilities)
        self.assertNotIn("QUOTASET", conn.capabilities)
        self.assertEqual(quota_of(conn), (0, 8, 0, 3))
        sizes = []
        for n in (1, 2):
            typ, data = self.append(conn, "INBOX" if n == 1 else "Archive", n, filler=700)
            self.assertEqual(typ, "OK", data)
            sizes.append(len(message(n, 700)))
        used = sum(sizes)
        # STORAGE is in KiB, rounded up (RFC 9208 5.1).
        self.assertEqual(quota_of(conn), (-(-used // 1024), 8, 2, 3))
        # STATUS SIZE (RFC 8438) is the sum of RFC822.SIZE.
        self.assertEqual(status(conn, "INBOX")["SIZE"], sizes[0])
        self.assertEqual(status(conn, "Archive")["SIZE"], sizes[1])

        # GETQUOTAROOT: the one root "" for every mailbox, then its QUOTA (RFC 9208 4.3).
        typ, data = conn.getquotaroot("Archive")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0], [b'Archive ""'])
        self.assertEqual(data[1], [f'"" (STORAGE {-(-used // 1024)} 8 MESSAGE 2 3)'.encode()])
        typ, data = conn.getquotaroot("Nowhere")
        self.assertEqual(typ, "NO")
        typ, data = conn.getquota("other")
        self.assertEqual(typ, "NO")
        # SETQUOTA: the limits are the operator's.
        typ, data = conn.setquota('""', "(STORAGE 100)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"configuration", data[0])
        self.assertEqual(quota_of(conn), (-(-used // 1024), 8, 2, 3))

    def test_append_and_copy_over_quota_leave_nothing_behind(self):
        pb = self.start({"storage": "4K", "messages": 3})
        conn = self.imap_login(pb)
        typ, data = self.append(conn, "INBOX", 1, filler=1500)
        self.assertEqual(typ, "OK", data)
        typ, data = self.append(conn, "INBOX", 2, filler=1500)
        self.assertEqual(typ, "OK", data)
        before = status(conn, "INBOX")
        quota_before = quota_of(conn)

        # Storage: a third 1.5K message would pass 4K.
        typ, data = self.append(conn, "INBOX", 3, filler=1500)
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[OVERQUOTA]", data)
        self.assertEqual(status(conn, "INBOX"), before)
        self.assertEqual(quota_of(conn), quota_before)

        # COPY of both would double the usage: refused, nothing in the target.
        conn.select("INBOX")
        typ, data = conn.uid("COPY", "1:*", "Archive")
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[OVERQUOTA]", data[0])
        self.assertEqual(status(conn, "Archive"), {"MESSAGES": 0, "UIDNEXT": 1, "SIZE": 0})

        # MOVE does not raise the usage: allowed.
        typ, data = conn.uid("MOVE", "1", "Archive")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(status(conn, "Archive")["MESSAGES"], 1)
        self.assertEqual(quota_of(conn), quota_before)

        # The message limit: two small ones fit (3 messages), a fourth does not.
        typ, data = self.append(conn, "INBOX", 4)
        self.assertEqual(typ, "OK", data)
        typ, data = self.append(conn, "INBOX", 5)
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[OVERQUOTA]", data)
        self.assertEqual(quota_of(conn)[2], 3)

        # Expunging makes room again.
        conn.select("Archive")
        conn.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
        conn.expunge()
        typ, data = self.append(conn, "INBOX", 6)
        self.assertEqual(typ, "OK", data)
        conn.logout()
        pb.stop()
        check = pb.store_check()
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_user_without_limits_has_no_quota_root(self):
        pb = self.start({})
        conn = self.imap_login(pb)
        self.assertIn("QUOTA", conn.capabilities)
        typ, data = conn.getquotaroot("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0], [b"INBOX"])
        typ, _ = conn.getquota('""')
        self.assertEqual(typ, "NO")
        typ, data = self.append(conn, "INBOX", 1, filler=5000)
        self.assertEqual(typ, "OK", data)

    def test_appendlimit_and_toobig(self):
        pb = self.new_popbridge(start=False)
        pb.append_limit = "1536K"  # imap.append_limit
        pb.start()
        conn = self.imap_login(pb)
        limits = [c for c in conn.capabilities if c.startswith("APPENDLIMIT=")]
        self.assertEqual(len(limits), 1, conn.capabilities)
        limit = int(limits[0].split("=")[1])
        self.assertEqual(limit, 1536 << 10)
        # RFC 7889 4: STATUS and LIST-STATUS give the same limit for every mailbox.
        self.assertEqual(status(conn, "Archive", "(APPENDLIMIT)"), {"APPENDLIMIT": limit})
        typ, data = conn._simple_command("LIST", '""', "INBOX", "RETURN", "(STATUS (APPENDLIMIT))")
        self.assertEqual(typ, "OK", data)
        self.assertIn(f"(APPENDLIMIT {limit})".encode(), b" ".join(
            conn.untagged_responses.pop("STATUS", [])))

        head = b"Subject: big\r\n\r\n"
        exact = head + b"x" * (limit - len(head))
        typ, data = conn.append("INBOX", None, None, exact)
        self.assertEqual(typ, "OK", data)
        before = status(conn, "INBOX")
        # A synchronizing literal over the limit: NO [TOOBIG] instead of the continuation.
        typ, data = conn.append("INBOX", None, None, exact + b"y")
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[TOOBIG]", data[0])
        # A LITERAL+ one is read and thrown away (RFC 7888 4), then the session goes on.
        body = exact + b"z"
        conn.send(b"big1 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
        line = conn.readline()
        self.assertTrue(line.startswith(b"big1 NO [TOOBIG]"), line)
        typ, data = conn.noop()
        self.assertEqual(typ, "OK", data)
        self.assertEqual(status(conn, "INBOX"), before)

    def test_pull_is_never_blocked_and_warns_once(self):
        reference = self.seed(4, attachment_size=2000)
        pb = self.start({"messages": 2}, accounts=[self.account()])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(reference))
        self.assert_store_matches(conn, reference)
        # Over the limit now: 4 messages of 2.
        typ, data = conn.getquotaroot("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[1], [b'"" (MESSAGE 4 2)'])
        typ, data = self.append(conn, "INBOX", 1)
        self.assertEqual(typ, "NO", data)
        self.assertIn(b"[OVERQUOTA]", data)
        # More mail upstream is still pulled; the warning is not repeated.
        more = self.seed(2, attachment_size=100, tag=self.tag() + "-more")
        self.wait_for_inbox(pb, conn, len(more))
        with open(pb.log_file, errors="replace") as f:
            log = f.read()
        self.assertEqual(log.count("over quota after a POP pull"), 1, pb.logs())


# Dovecot's quota plugin with the same limits: one root over all mailboxes, counting what is
# stored (quota_vsizes: RFC822.SIZE, as popbridge counts).
DOVECOT_QUOTA = """
mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage=8K:messages=3
}
"""


def quota_shape(untagged):
    """QUOTA responses with the root name replaced (it is the server's choice, RFC 9208 3.2)."""
    out = []
    for line in untagged:
        m = re.fullmatch(rb'(?:"[^"]*"|\S+) \((.*)\)', line)
        assert m, line
        out.append(m.group(1).decode())
    return out


class QuotaDovecotTest(PopbridgeCase):
    """The same appends against popbridge and Dovecot's quota plugin give the same QUOTA
    resources, usage and limits, and the same refusals."""

    def test_same_answers_as_dovecot(self):
        if shutil.which("dovecot") is None or not os.path.exists("/usr/lib/dovecot/imap"):
            self.skipTest("dovecot-imapd is not installed (scripts/deps.sh)")
        if not os.path.exists("/usr/lib/dovecot/modules/lib11_imap_quota_plugin.so"):
            self.skipTest("Dovecot's imap_quota plugin is not installed")
        reference = dovecot.Dovecot(os.path.join(self.dir, "dovecot-imap"), self.certs, imap=True,
                                    imap_conf=DOVECOT_QUOTA)
        reference.add_user("quota", "quota-secret")
        reference.start()
        self.addCleanup(reference.stop)
        theirs = imaplib.IMAP4("127.0.0.1", reference.imap_port)
        self.addCleanup(theirs.logout)
        theirs.login("quota", "quota-secret")
        theirs.create("Archive")
        pb = self.new_popbridge(start=False)
        pb.users[0].quota = {"storage": "8K", "messages": 3}
        pb.start()
        ours = self.imap_login(pb)

        typ, caps = theirs.capability()
        self.assertIn(b"QUOTA", caps[0].split())  # the plugin is loaded

        def both(step):
            return {"dovecot": step(theirs), "popbridge": step(ours)}

        def getquotaroot(conn):
            typ, data = conn.getquotaroot("INBOX")
            # The mailbox and how many roots (RFC 9208 7.2), then the QUOTA of each.
            return typ, len(re.findall(rb'"[^"]*"|\S+', data[0][0])), quota_shape(data[1])

        def append(n, filler, mailbox="INBOX"):
            def run(conn):
                typ, data = conn.append(mailbox, None, None, message(n, filler))
                code = re.match(rb"\[(\w+)", data[0] or b"")
                return typ, code.group(1) if code and typ != "OK" else None
            return run

        steps = [("empty", getquotaroot)]
        steps.append(("append 1", append(1, 2000)))
        steps.append(("append 2 to Archive", append(2, 3000, "Archive")))
        steps.append(("after two", getquotaroot))
        steps.append(("append over storage", append(3, 4000)))
        steps.append(("after refusal", getquotaroot))
        steps.append(("append 3", append(4, 10)))
        steps.append(("append over messages", append(5, 10)))
        steps.append(("at the limit", getquotaroot))
        for name, step in steps:
            answers = both(step)
            self.assertEqual(answers["popbridge"], answers["dovecot"], name)


if __name__ == "__main__":
    unittest.main()
