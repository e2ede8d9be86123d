"""How popbridge logs in to a POP3 server (the account key `auth`): APOP (RFC 1939 7) and SASL
LOGIN and PLAIN (RFC 5034) against a private Dovecot, which offers APOP when its passdb holds
plaintext passwords and `auth_mechanisms` includes apop; a wrong APOP secret takes the [AUTH]
path (three failures stop the account); a mechanism the server does not offer fails at once
instead of falling back. XOAUTH2 against the scripted peer (Dovecot's needs an OAuth server):
the SASL string on the wire, a token file re-read each session, and a refused token answered
with an empty line after the JSON challenge."""

import os
import re
import time
import unittest

import harness  # noqa: F401  (first: puts tests/fakes on sys.path)
from harness import imap, popbridge
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase
from harness.util import wait_until
from pop3_peer import Pop3Peer, stored_form


class AuthKeysPopbridge(popbridge.Popbridge):
    """Writes the account keys in `a.extra` after `folder`; with `a.no_password` it leaves out
    the password_file line (auth xoauth2 takes a token instead)."""

    def config_text(self):
        lines = super().config_text().split("\n")
        for user in self.users:
            for a in user.accounts:
                at = lines.index(f"      - name: {popbridge._q(a.name)}")
                folder = next(i for i in range(at, len(lines))
                              if lines[i].startswith("        folder: "))
                extra = getattr(a, "extra", None) or {}
                lines[folder + 1:folder + 1] = [f"        {k}: {v}" for k, v in extra.items()]
                if getattr(a, "no_password", False):
                    pw = next(i for i in range(at, len(lines))
                              if lines[i].startswith("        password_file: "))
                    del lines[pw]
        return "\n".join(lines)


def full_log(pb):
    with open(pb.log_file, encoding="utf-8", errors="replace") as f:
        return f.read()


class AuthCase(PopbridgeCase):
    def start(self, account, **extra):
        account.extra = extra
        self._instances += 1
        pb = AuthKeysPopbridge(self.binary, os.path.join(self.dir, f"popbridge{self._instances}"),
                               self.certs)
        pb.add_user(IMAP_USER, IMAP_PASSWORD, [account])
        self.addCleanup(self._stop_at_cleanup, pb)
        pb.start()
        return pb

    def pulled_with(self, pb, mechanism):
        """Waits for the seeded maildrop in the store and checks the log names `mechanism` as the
        login of the session (debug log)."""
        reference = self.reference()
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(reference))
        self.assert_store_matches(conn, reference)
        wait_until(lambda: f"logged in with {mechanism}" in full_log(pb), 20,
                   f"a login with {mechanism}", details=pb.logs)
        self.assertNotRegex(full_log(pb), r"logged in with (?!" + re.escape(mechanism) + ")")


class DovecotApopTest(AuthCase):
    dovecot_options = {"auth_mechanisms": "plain login apop"}

    def test_apop_pulls_everything(self):
        self.seed(3, attachment_size=2000)
        # Over plain POP3 (no TLS) so APOP's point, the secret never on the wire, is what runs.
        pb = self.start(self.account(tls="none", poll_interval="300ms"), auth="apop")
        self.pulled_with(pb, "APOP")

    def test_wrong_apop_secret_is_an_auth_failure(self):
        self.seed(1, attachment_size=100)
        account = self.account(tls="none", poll_interval="300ms")
        account.password = "not-the-secret"
        pb = self.start(account, auth="apop")
        wait_until(lambda: "polling stopped after 3 authentication failures" in full_log(pb), 60,
                   "the account to be disabled", details=pb.logs)
        log = full_log(pb)
        self.assertRegex(log, r"login failed: \[AUTH\].* \(APOP\)")
        self.assertNotIn("not-the-secret", log)
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 0)


class DovecotSaslTest(AuthCase):
    def test_sasl_login(self):
        self.seed(3, attachment_size=2000)
        pb = self.start(self.account(tls="starttls", poll_interval="300ms"), auth="login")
        self.pulled_with(pb, "SASL LOGIN")

    def test_auto_prefers_sasl_plain(self):
        self.seed(2, attachment_size=2000)
        pb = self.start(self.account(tls="implicit", poll_interval="300ms"))
        self.pulled_with(pb, "SASL PLAIN")

    def test_user_when_chosen(self):
        self.seed(2, attachment_size=2000)
        pb = self.start(self.account(tls="implicit", poll_interval="300ms"), auth="user")
        self.pulled_with(pb, "USER")

    def test_apop_without_timestamp_fails_without_fallback(self):
        # This Dovecot has no apop mechanism: its greeting carries no timestamp.
        self.seed(1, attachment_size=100)
        pb = self.start(self.account(tls="implicit", poll_interval="300ms"), auth="apop")
        wait_until(lambda: "the server's greeting has no APOP timestamp" in full_log(pb), 30,
                   "the APOP refusal", details=pb.logs)
        self.assertNotIn("logged in with", full_log(pb))
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 0)


class PeerXoauth2Test(AuthCase):
    def setUp(self):
        super().setUp()
        self.peer = Pop3Peer(user="oauth@example.net").start()
        self.addCleanup(self.peer.stop)
        self.peer.capabilities = ["TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES",
                                  "AUTH-RESP-CODE", "SASL PLAIN XOAUTH2"]
        self.token_file = os.path.join(self.dir, "oauth2-token")

    def peer_account(self):
        a = popbridge.Account(name="oauth", host="127.0.0.1", port=self.peer.port, tls="none",
                              username=self.peer.user, password="unused",
                              poll_interval="300ms")
        a.no_password = True
        return a

    def write_token(self, token):
        with open(self.token_file + ".tmp", "w") as f:
            f.write(token + "\n")
        os.replace(self.token_file + ".tmp", self.token_file)

    def test_xoauth2_with_a_token_file_read_each_session(self):
        self.peer.oauth2_token = "ya29.first"
        self.write_token("ya29.first")
        data = b"From: a@example.net\r\nSubject: oauth 1\r\nMessage-ID: <o1@peer.test>\r\n\r\nhi\r\n"
        self.peer.add(data, uidl="o1")
        pb = self.start(self.peer_account(), auth="xoauth2", oauth2_token_file=self.token_file)
        conn = self.imap_login(pb)
        imap.wait_for_count(conn, 1, 30, details=pb.logs)
        session = next(s for s in self.peer.sessions if s.auth_response)
        self.assertEqual(session.auth_response,
                         "user=oauth@example.net\x01auth=Bearer ya29.first\x01\x01")
        # The server rotates the token; so does the file: the next session uses the new one.
        self.peer.oauth2_token = "ya29.second"
        self.write_token("ya29.second")
        data2 = data.replace(b"oauth 1", b"oauth 2").replace(b"<o1@", b"<o2@")
        self.peer.add(data2, uidl="o2")
        imap.wait_for_count(conn, 2, 30, details=pb.logs)
        conn.select("INBOX", readonly=True)
        self.assertEqual(sorted(m.body for m in imap.fetch_all(conn)),
                         sorted([stored_form(data), stored_form(data2)]))
        self.assertNotIn("ya29.", full_log(pb))

    def test_long_token_goes_after_the_empty_challenge(self):
        # RFC 5034 4: an AUTH line over 255 octets may not carry the initial response.
        token = "ya29." + "x" * 300
        self.peer.oauth2_token = token
        self.write_token(token)
        self.peer.add(b"Subject: long\r\nMessage-ID: <l@peer.test>\r\n\r\nx\r\n", uidl="l")
        pb = self.start(self.peer_account(), auth="xoauth2", oauth2_token_file=self.token_file)
        conn = self.imap_login(pb)
        imap.wait_for_count(conn, 1, 30, details=pb.logs)
        auth_lines = [c for s in self.peer.sessions for c in s.commands if c.startswith("AUTH")]
        self.assertIn("AUTH XOAUTH2", auth_lines)

    def test_refused_token_answers_the_challenge_and_is_an_auth_failure(self):
        self.peer.oauth2_token = "ya29.right"
        self.write_token("ya29.wrong")
        self.peer.add(b"Subject: no\r\nMessage-ID: <n@peer.test>\r\n\r\nx\r\n", uidl="n")
        pb = self.start(self.peer_account(), auth="xoauth2", oauth2_token_file=self.token_file)
        wait_until(lambda: "polling stopped after 3 authentication failures" in full_log(pb), 60,
                   "the account to be disabled", details=pb.logs)
        refused = [s for s in self.peer.sessions if s.auth_response]
        self.assertEqual(len(refused), 3)
        # The JSON challenge is answered with an empty line, then the server's -ERR [AUTH].
        self.assertTrue(all(s.after_challenge == "" for s in refused))
        self.assertRegex(full_log(pb), r"login failed: \[AUTH\].* \(SASL XOAUTH2\)")
        self.assertIn('XOAUTH2 refused: {"status": "401"', full_log(pb))
        conn = self.imap_login(pb)
        self.assertEqual(imap.status_messages(conn), 0)

    def test_xoauth2_not_offered_fails_without_fallback(self):
        self.peer.capabilities = ["TOP", "UIDL", "USER", "PIPELINING", "SASL PLAIN"]
        self.peer.oauth2_token = "ya29.t"
        self.write_token("ya29.t")
        pb = self.start(self.peer_account(), auth="xoauth2", oauth2_token_file=self.token_file)
        wait_until(lambda: "does not offer SASL XOAUTH2" in full_log(pb), 30,
                   "the refusal", details=pb.logs)
        commands = [c.split()[0] for s in self.peer.sessions for c in s.commands]
        self.assertNotIn("USER", commands)
        self.assertNotIn("AUTH", commands)


if __name__ == "__main__":
    unittest.main()
