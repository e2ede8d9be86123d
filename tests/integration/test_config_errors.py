"""`popbridge check-config` (and `serve`) on broken files: non-zero exit and a message naming
file:line and the key path, e.g. "FILE:14:9: users[0].accounts[0].tls: ..."."""

import os
import re
import subprocess
import unittest

from harness.case import PopbridgeCase


class ConfigErrorsTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge([self.account(tls="implicit")], start=False)
        self.pb.write_config()
        with open(self.pb.config_file) as f:
            self.good = f.read()

    def broken(self, old, new, name="broken.yaml"):
        """Writes the good config with the first line matching regex `old` replaced by `new`;
        returns (path, 1-based line number of the change)."""
        lines = self.good.split("\n")
        for i, line in enumerate(lines):
            if re.search(old, line):
                lines[i] = re.sub(old, new, line)
                break
        else:
            self.fail(f"no line matches {old!r}")
        path = os.path.join(self.pb.root, name)
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path, i + 1

    def assert_rejected(self, path, line, key_path):
        r = self.pb.check_config(path)
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn(f"{path}:{line}", out)
        self.assertIn(key_path, out)
        return out

    def test_good_config_passes(self):
        r = self.pb.check_config()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(self.pb.config_file, r.stdout + r.stderr)

    def test_unknown_key(self):
        path, line = self.broken(r"poll_interval:", "pol_interval:")
        self.assert_rejected(path, line, "users[0].accounts[0].pol_interval")

    def test_unknown_top_level_key(self):
        path, line = self.broken(r"^log_level:", "loglevel:")
        self.assert_rejected(path, line, "loglevel")

    def test_bad_enum(self):
        path, line = self.broken(r"tls: implicit$", "tls: tsl")
        out = self.assert_rejected(path, line, "users[0].accounts[0].tls")
        self.assertIn("tsl", out)

    def test_bad_retention(self):
        path, line = self.broken(r"retention: keep", "retention: sometimes")
        self.assert_rejected(path, line, "users[0].accounts[0].retention")

    def test_bad_listener_mode(self):
        path, line = self.broken(r"tls: starttls \}", "tls: maybe }")
        self.assert_rejected(path, line, "imap.listen[0].tls")

    def test_missing_password_file_is_named(self):
        secret = re.search(r'password_file: "([^"]+)"', self.good).group(1)
        os.unlink(secret)
        r = self.pb.check_config()
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn(secret, out)
        self.assertIn("password_file", out)

    def test_serve_refuses_a_broken_file(self):
        path, line = self.broken(r"retention: keep", "retention: sometimes")
        r = subprocess.run([self.binary, "serve", "-c", path], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{path}:{line}", r.stdout + r.stderr)

    def test_yaml_syntax_error_names_file_and_line(self):
        path, line = self.broken(r"^users:", "users: [")
        r = self.pb.check_config(path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(path, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
