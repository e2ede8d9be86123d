"""APPEND of large messages, streamed to disk as they arrive (RFC 7889 APPENDLIMIT, RFC 3502
MULTIAPPEND, RFC 7888 LITERAL+, RFC 3516 literal8).

popbridge writes each APPEND message literal to a staged file in the user's tmp/ while the client
sends it, so the daemon's memory does not grow with the message: a 40 MiB APPEND must raise the
daemon's peak RSS (VmHWM) by far less than 40 MiB, and FETCH BODY[] returns it byte for byte.
imap.append_limit (here 48M) is advertised as APPENDLIMIT; a larger message gets NO [TOOBIG]
before the continuation. A connection dropped in the middle of a literal leaves no message and
no staged file; a MULTIAPPEND is still all or none; curl uploads a large message with -T; a
SIGKILL during a stream of large APPENDs loses no acknowledged message and leaves the in-flight
one all or nothing (2 trials by default, 10 with POPBRIDGE_LONG_TESTS=1)."""

import hashlib
import os
import random
import re
import socket
import ssl
import threading
import time
import unittest

from harness import clients, imap, raw, util
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase, long_tests

MIB = 1 << 20
LIMIT = 48 * MIB
KILL_TRIALS = 10 if long_tests() else 2


def message(size, key):
    """A message of exactly `size` bytes with a Message-ID of `key` and varied body lines."""
    head = (b"From: big@example.net\r\nTo: alice@example.org\r\nSubject: big %s\r\n"
            b"Message-ID: <%s@big.example.net>\r\n\r\n" % (key, key))
    line = hashlib.sha256(key).hexdigest().encode() * 2 + b"\r\n"  # 130 bytes
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[:size - len(head) - 2] + b"\r\n"


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def fetch_body(conn, uid):
    typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if typ != "OK":
        raise AssertionError(f"FETCH {uid}: {typ} {data}")
    return data[0][1]


def appenduid(data):
    m = re.search(rb"\[APPENDUID (\d+) ([\d:,]+)\]", data[0])
    if not m:
        raise AssertionError(f"no APPENDUID in {data!r}")
    return m.group(2).decode()


class RawSession:
    """A TLS connection that logs in and then sends bytes at the test's pace."""

    def __init__(self, port, ca_file):
        context = ssl.create_default_context(cafile=ca_file)
        self.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                        server_hostname="localhost")
        self.file = self.sock.makefile("rb")
        assert self.file.readline().startswith(b"* OK")
        self.sock.sendall(b"l LOGIN %s %s\r\n" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        while not self.file.readline().startswith(b"l OK"):
            pass

    def tagged(self, tag):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError()
            if line.startswith(tag + b" "):
                return line

    def close(self):
        """Closes the TCP connection at once (the file object would keep it open)."""
        try:
            self.file.close()
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        except OSError:
            pass


def sanitized(binary):
    """Whether `binary` is built with AddressSanitizer."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


class BigAppendTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge(start=False)
        self.pb.append_limit = "48M"
        if sanitized(self.binary):
            # ASan keeps freed blocks in a 256 MiB quarantine, which would show every buffer the
            # daemon ever freed as RSS; a small one lets the peak RSS mean what it does in release.
            old = os.environ.get("ASAN_OPTIONS")
            os.environ["ASAN_OPTIONS"] = ((old + ":") if old else "") + "quarantine_size_mb=4"
            self.addCleanup(lambda: os.environ.__setitem__("ASAN_OPTIONS", old) if old is not None
                            else os.environ.pop("ASAN_OPTIONS", None))
        self.pb.start()
        self.conn = self.imap_login(self.pb)
        self.tmp = os.path.join(self.pb.data_dir, "users", IMAP_USER, "tmp")

    def staged_files(self):
        try:
            return [os.path.join(self.tmp, n) for n in os.listdir(self.tmp)]
        except FileNotFoundError:
            return []

    def wait_no_staged_files(self):
        util.wait_until(lambda: not self.staged_files(), 10, "staged files removed",
                        details=lambda: f"{self.staged_files()}\n{self.pb.logs(20)}")

    def check_appendlimit_is_the_configured_limit(self):
        self.assertIn(f"APPENDLIMIT={LIMIT}", self.conn.capabilities)
        typ, data = self.conn.status("INBOX", "(APPENDLIMIT)")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"APPENDLIMIT %d" % LIMIT, data[0])
        # Over the limit, synchronizing: NO [TOOBIG] and no continuation, so nothing is sent.
        _, tagged, continuations = raw.command(
            self.conn, "t1", [b"APPEND INBOX ", ("sync", b"x" * (LIMIT + 1), False)])
        self.assertTrue(tagged.startswith(b"t1 NO [TOOBIG]"), tagged)
        self.assertEqual(continuations, 0)
        self.assertEqual(self.conn.noop()[0], "OK")

    def check_40_mib_append_keeps_memory_flat_and_round_trips(self):
        pid = self.pb.process.pid
        small = message(100_000, b"warm")  # the first APPEND and FETCH warm up every path
        typ, data = self.conn.append("INBOX", None, None, small)
        self.assertEqual(typ, "OK", data)
        self.conn.select("INBOX")
        self.assertEqual(fetch_body(self.conn, appenduid(data)), small)
        before = vm_hwm_kib(pid)

        big = message(40 * MIB, b"forty")
        start = time.monotonic()
        typ, data = self.conn.append("INBOX", "(\\Flagged)", None, big)  # synchronizing literal
        append_s = time.monotonic() - start
        self.assertEqual(typ, "OK", data)
        after_append = vm_hwm_kib(pid)
        uid = appenduid(data)
        start = time.monotonic()
        got = fetch_body(self.conn, uid)
        fetch_s = time.monotonic() - start
        after_fetch = vm_hwm_kib(pid)
        self.assertEqual(len(got), len(big))
        self.assertTrue(got == big, "FETCH BODY[] differs from what was appended")
        typ, data = self.conn.uid("FETCH", uid, "(RFC822.SIZE FLAGS)")
        self.assertIn(b"RFC822.SIZE %d" % len(big), data[0])
        self.assertIn(b"\\Flagged", data[0])
        print(f"\n40 MiB APPEND {append_s:.2f}s, FETCH {fetch_s:.2f}s; VmHWM {before} KiB, "
              f"+{after_append - before} KiB after APPEND, +{after_fetch - before} KiB after "
              f"FETCH")
        # Held in memory the message alone would add 40960 KiB. (ASan's shadow memory and the
        # quarantine left to it add a few MiB.)
        bound = (16 if sanitized(self.binary) else 8) * 1024
        self.assertLess(after_append - before, bound, "APPEND grew the daemon's peak RSS")
        self.assertLess(after_fetch - before, bound, "FETCH grew the daemon's peak RSS")

        # A LITERAL+ literal8 of the same size streams the same way.
        before = vm_hwm_kib(pid)
        big8 = message(40 * MIB, b"forty-eight") + b"\x00\x01"
        _, tagged, _ = raw.command(self.conn, "b1", [b"APPEND INBOX ", ("nonsync", big8, True)])
        self.assertTrue(tagged.startswith(b"b1 OK"), tagged)
        self.assertLess(vm_hwm_kib(pid) - before, bound)
        uid = re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1).decode()
        typ, data = self.conn.uid("FETCH", uid, "(BINARY.SIZE[] RFC822.SIZE)")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"RFC822.SIZE %d" % len(big8), data[0])
        self.assertEqual(self.staged_files(), [])

    def check_connection_dropped_mid_literal_leaves_nothing(self):
        count = imap.status_messages(self.conn)
        for kind in (b"{%d}", b"{%d+}", b"~{%d+}"):
            with self.subTest(kind=kind):
                s = RawSession(self.pb.imaps_port, self.certs.ca_cert)
                size = 20 * MIB
                s.sock.sendall(b"d1 APPEND INBOX " + kind % size + b"\r\n")
                if kind == b"{%d}":
                    self.assertTrue(s.file.readline().startswith(b"+"))
                s.sock.sendall(message(size, b"dropped")[:6 * MIB])
                # The part sent so far reaches a staged file (it is not held in memory)...
                util.wait_until(lambda: any(os.path.getsize(p) >= 4 * MIB
                                            for p in self.staged_files()), 10,
                                "a staged file with the bytes sent",
                                details=lambda: f"{self.staged_files()}")
                # ...and goes away with the connection.
                s.close()
                self.wait_no_staged_files()
                self.assertEqual(imap.status_messages(self.conn), count)

    def check_multiappend_of_large_messages_is_all_or_none(self):
        bodies = [message(6 * MIB + i, b"multi-%d" % i) for i in range(3)]
        # All stored, consecutive UIDs, byte-identical.
        parts = [b"APPEND INBOX"]
        for i, body in enumerate(bodies):
            parts += [b" ", ("sync" if i == 1 else "nonsync", body, False)]
        _, tagged, continuations = raw.command(self.conn, "m1", parts)
        self.assertTrue(tagged.startswith(b"m1 OK [APPENDUID "), tagged)
        self.assertEqual(continuations, 1)
        uids = re.search(rb"APPENDUID \d+ (\d+):(\d+)", tagged)
        self.assertIsNotNone(uids, tagged)
        first, last = int(uids.group(1)), int(uids.group(2))
        self.assertEqual(last - first, 2)
        self.conn.select("INBOX", readonly=True)
        for i, uid in enumerate(range(first, last + 1)):
            self.assertTrue(fetch_body(self.conn, uid) == bodies[i], f"message {i} differs")
        count = imap.status_messages(self.conn)

        # The third is over the limit after two were streamed: NO [TOOBIG], none stored.
        _, tagged, _ = raw.command(self.conn, "m2", [
            b"APPEND INBOX ", ("nonsync", bodies[0], False), b" ", ("nonsync", bodies[1], False),
            b" ", ("sync", b"x" * (LIMIT + 1), False)])
        self.assertTrue(tagged.startswith(b"m2 NO [TOOBIG]"), tagged)
        # A mailbox that does not exist: NO [TRYCREATE] as the first literal is announced; the
        # LITERAL+ bytes are read and dropped, none staged.
        _, tagged, _ = raw.command(self.conn, "m3", [
            b"APPEND Nowhere ", ("nonsync", bodies[0], False), b" ",
            ("nonsync", bodies[1], False)])
        self.assertTrue(tagged.startswith(b"m3 NO [TRYCREATE]"), tagged)
        # A syntax error after the literals (a bad date-time): BAD, none stored.
        _, tagged, _ = raw.command(self.conn, "m4", [
            b"APPEND INBOX ", ("nonsync", bodies[0], False), b" \"99-Xyz-2020 00:00:00 +0000\" ",
            ("nonsync", bodies[1], False)])
        self.assertTrue(tagged.startswith(b"m4 BAD"), tagged)
        self.assertEqual(imap.status_messages(self.conn), count)
        self.wait_no_staged_files()

    def check_curl_uploads_a_large_message(self):
        body = message(24 * MIB, b"curl")
        path = os.path.join(self.dir, "big.eml")
        with open(path, "wb") as f:
            f.write(body)
        url = f"imaps://127.0.0.1:{self.pb.imaps_port}/INBOX"
        r = clients.curl(self.certs.ca_cert, url, user=IMAP_USER, password=IMAP_PASSWORD,
                         upload=path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.conn.select("INBOX", readonly=True)
        typ, data = self.conn.uid("SEARCH", "HEADER", "Message-ID", "curl@big.example.net")
        self.assertEqual(typ, "OK", data)
        uids = data[0].split()
        self.assertEqual(len(uids), 1, data)
        self.assertTrue(fetch_body(self.conn, uids[0].decode()) == body)


    # Each test starts its own Dovecot and daemon, so related checks share one.

    def test_limit_memory_and_curl(self):
        self.check_appendlimit_is_the_configured_limit()
        self.check_40_mib_append_keeps_memory_flat_and_round_trips()
        self.check_curl_uploads_a_large_message()

    def test_dropped_connections_and_multiappend(self):
        self.check_connection_dropped_mid_literal_leaves_nothing()
        self.check_multiappend_of_large_messages_is_all_or_none()


class BigAppendKillTest(PopbridgeCase):
    """SIGKILL while large messages stream in: every APPEND that got its OK is there, byte for
    byte; the one in flight is all or nothing; tmp/ is clean after the restart."""

    def test_kill_during_large_appends(self):
        seed = int(os.environ.get("POPBRIDGE_KILL_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        print(f"\nPOPBRIDGE_KILL_SEED={seed}")
        pb = self.new_popbridge(start=False)
        pb.append_limit = "48M"
        pb.start()
        acked = {}  # Message-ID key -> body
        for trial in range(KILL_TRIALS):
            in_flight = {}
            stop = threading.Event()

            def storm(trial=trial):
                try:
                    s = RawSession(pb.imaps_port, self.certs.ca_cert)
                except (OSError, AssertionError, EOFError):
                    return
                n = 0
                while not stop.is_set():
                    n += 1
                    key = b"kill-%d-%d" % (trial, n)
                    body = message(rng.randrange(2 * MIB, 12 * MIB), key)
                    in_flight.clear()
                    in_flight[key] = body
                    tag = b"k%d" % n
                    try:
                        s.sock.sendall(tag + b" APPEND INBOX {%d+}\r\n" % len(body) + body +
                                       b"\r\n")
                        line = s.tagged(tag)
                    except (OSError, EOFError, ssl.SSLError):
                        return
                    if not line.startswith(tag + b" OK"):
                        raise AssertionError(line)
                    acked[key] = body
                    in_flight.clear()

            worker = threading.Thread(target=storm)
            worker.start()
            time.sleep(rng.uniform(0.3, 1.5))
            pb.kill()
            stop.set()
            worker.join(30)
            self.assertFalse(worker.is_alive())
            pb.start()
            conn = self.imap_login(pb)
            conn.select("INBOX", readonly=True)
            stored = {}
            for m in imap.fetch_all(conn):
                key = re.search(rb"Message-ID: <([^@]+)@big", m.body).group(1)
                self.assertNotIn(key, stored)
                stored[key] = m.body
            for key, body in acked.items():
                self.assertIn(key, stored, f"acknowledged {key} lost (seed {seed})")
                self.assertTrue(stored[key] == body, f"{key} differs (seed {seed})")
            extra = set(stored) - set(acked)
            self.assertLessEqual(extra, set(in_flight), f"unexpected {extra} (seed {seed})")
            for key in extra:
                self.assertTrue(stored[key] == in_flight[key], f"{key} partial (seed {seed})")
                acked[key] = stored[key]
            tmp = os.path.join(pb.data_dir, "users", IMAP_USER, "tmp")
            self.assertEqual(os.listdir(tmp) if os.path.isdir(tmp) else [], [])
            imap.safe_logout(conn)
        self.assertGreater(len(acked), 0, "no APPEND completed before the kills")
        pb.stop()
        r = pb.store_check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pb.start()


if __name__ == "__main__":
    unittest.main()
