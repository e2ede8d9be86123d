"""A POP account's upstream failure reaches its owner: at IMAP login popbridge sends an
untagged OK [ALERT] naming the account and the error (RFC 3501 7.1: clients must show ALERT
text), and keeps saying so after repeated authentication failures stop the account."""

import unittest

from harness.case import PopbridgeCase
from harness.util import wait_until


class LoginAlertTest(PopbridgeCase):
    def alerts_at_login(self, pb):
        conn = self.imap_login(pb)
        # imaplib keeps the text of untagged OKs received so far, codes included.
        return [line.decode()[len("[ALERT] "):]
                for line in conn.untagged_responses.get("OK", [])
                if line.startswith(b"[ALERT] ")]

    def test_failing_account_is_announced_at_login(self):
        account = self.account(tls="implicit", name="provider")
        account.password = "not-the-password"
        pb = self.new_popbridge([account])
        wait_until(lambda: "login failed" in pb.logs(200), 30, "a failed POP login",
                   details=pb.logs)
        alerts = self.alerts_at_login(pb)
        self.assertTrue(any("provider" in a and "login failed" in a for a in alerts), alerts)
        # Three failures stop the account; the alert says so.
        wait_until(lambda: any("stopped" in a for a in self.alerts_at_login(pb)), 60,
                   "the account stopped after repeated failures", details=pb.logs)

    def test_healthy_account_gives_no_alert(self):
        self.seed(count=1, attachment_size=1000)
        pb = self.new_popbridge([self.account(tls="implicit")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 1)
        self.assertEqual(self.alerts_at_login(pb), [])


if __name__ == "__main__":
    unittest.main()
