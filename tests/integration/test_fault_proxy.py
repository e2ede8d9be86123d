"""Self-test of tests/fakes/fault_proxy.py against a local TCP peer (no daemon needed)."""

import socket
import threading
import time
import unittest

import harness  # noqa: F401  (puts tests/fakes on sys.path)
from fault_proxy import Action, Direction, FaultProxy
from harness.util import wait_until


class Peer:
    """A TCP server that records what each connection sent, answers with `reply` (once, on
    connect) and notes when the client closed."""

    def __init__(self, reply=b""):
        self.reply = reply
        self.received = []  # bytearray per connection
        self.eof = []  # threading.Event per connection
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            buf = bytearray()
            ev = threading.Event()
            self.received.append(buf)
            self.eof.append(ev)
            threading.Thread(target=self._serve, args=(c, buf, ev), daemon=True).start()

    def _serve(self, c, buf, ev):
        with c:
            if self.reply:
                try:
                    c.sendall(self.reply)
                except OSError:
                    pass
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    break
                if not d:
                    break
                buf += d
        ev.set()

    def close(self):
        self.sock.close()


class FaultProxyTest(unittest.TestCase):
    def setUp(self):
        self.peer = Peer(reply=bytes(range(256)) * 400)  # 102400 bytes downstream
        self.addCleanup(self.peer.close)
        self.proxy = FaultProxy("127.0.0.1", self.peer.port).start()
        self.addCleanup(self.proxy.stop)

    def first_received(self):
        """Bytes the peer got on its first connection so far (b"" until it accepted one)."""
        return bytes(self.peer.received[0]) if self.peer.received else b""

    def client(self):
        c = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10)
        self.addCleanup(c.close)
        return c

    def read_all(self, c):
        out = bytearray()
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                break
            if not d:
                break
            out += d
        return bytes(out)

    def test_plain_forwarding_both_ways_and_half_close(self):
        c = self.client()
        payload = b"x" * 300000
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        wait_until(lambda: self.peer.eof and self.peer.eof[0].is_set(), 10, "peer sees EOF")
        self.assertEqual(bytes(self.peer.received[0]), payload)
        got = self.read_all(c)
        self.assertEqual(got, self.peer.reply)
        self.assertEqual(self.proxy.total_bytes(Direction.UPSTREAM), len(payload))
        self.assertEqual(self.proxy.total_bytes(Direction.DOWNSTREAM), len(self.peer.reply))

    def test_offset_callback_sees_exact_count_then_cut(self):
        seen = []
        trig = self.proxy.at_offset(
            Direction.DOWNSTREAM, 12345, action=Action.CUT,
            callback=lambda conn: seen.append(conn.bytes_forwarded(Direction.DOWNSTREAM)))
        c = self.client()
        got = self.read_all(c)
        self.assertTrue(trig.fired.is_set())
        self.assertEqual(seen, [12345])
        self.assertEqual(got, self.peer.reply[:12345])
        self.assertEqual(trig.connection, 0)

    def test_offset_forward_keeps_stream_intact(self):
        hits = []
        self.proxy.at_offset(Direction.DOWNSTREAM, 777, callback=lambda conn: hits.append(1))
        c = self.client()
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(self.read_all(c), self.peer.reply)
        self.assertEqual(hits, [1])

    def test_offset_only_on_selected_connection(self):
        trig = self.proxy.cut(Direction.DOWNSTREAM, 100, connection=1)
        first = self.client()
        first.shutdown(socket.SHUT_WR)
        self.assertEqual(self.read_all(first), self.peer.reply)
        self.assertFalse(trig.fired.is_set())
        second = self.client()
        self.assertEqual(self.read_all(second), self.peer.reply[:100])
        self.assertEqual(trig.connection, 1)

    def test_stall_then_release(self):
        trig = self.proxy.stall(Direction.UPSTREAM, after=5)
        c = self.client()
        c.sendall(b"hello world")
        trig.fired.wait(10)
        wait_until(lambda: self.proxy.connections[0].bytes_received(Direction.UPSTREAM) == 11, 10,
                   "proxy reads everything")
        wait_until(lambda: self.first_received() == b"hello", 10,
                   "the bytes before the stall point")
        time.sleep(0.2)  # a stalled flow must stay stalled: nothing may arrive meanwhile
        self.assertEqual(bytes(self.peer.received[0]), b"hello")
        trig.release()
        wait_until(lambda: self.first_received() == b"hello world", 10, "resumed data")

    def test_drip_delivers_everything_slowly(self):
        self.proxy.drip(Direction.UPSTREAM, chunk=10, delay=0.01)
        c = self.client()
        start = time.monotonic()
        c.sendall(b"a" * 300)
        wait_until(lambda: len(self.first_received()) == 300, 10, "300 B")
        self.assertGreaterEqual(time.monotonic() - start, 0.25)  # 30 chunks x 10 ms

    def test_hold_line_until_release(self):
        hold = self.proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
        c = self.client()
        c.sendall(b"USER a\r\nLIST\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n")
        self.assertTrue(hold.held.wait(10))
        self.assertEqual(hold.line, b"DELE 1\r\n")
        wait_until(lambda: self.first_received() == b"USER a\r\nLIST\r\n", 10, "lines before")
        time.sleep(0.2)
        self.assertEqual(bytes(self.peer.received[0]), b"USER a\r\nLIST\r\n")
        hold.release()
        wait_until(lambda: self.first_received().endswith(b"QUIT\r\n"), 10, "released")
        self.assertEqual(bytes(self.peer.received[0]),
                         b"USER a\r\nLIST\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n")

    def test_hold_line_split_across_writes(self):
        hold = self.proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
        c = self.client()
        for piece in (b"NO", b"OP\r\nDE", b"LE 3", b"\r\nQUIT\r\n"):
            c.sendall(piece)
            time.sleep(0.02)
        self.assertTrue(hold.held.wait(10))
        wait_until(lambda: self.first_received() == b"NOOP\r\n", 10, "NOOP forwarded")
        self.assertEqual(hold.line, b"DELE 3\r\n")

    def test_sender_dies_while_held_drops_held_bytes(self):
        hold = self.proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
        c = self.client()
        c.sendall(b"STAT\r\nDELE 1\r\nQUIT\r\n")
        self.assertTrue(hold.held.wait(10))
        c.close()
        wait_until(lambda: self.peer.eof and self.peer.eof[0].is_set(), 10, "peer sees the close")
        self.assertEqual(bytes(self.peer.received[0]), b"STAT\r\n")

    def test_global_offset_counts_across_connections(self):
        first = self.client()
        first.shutdown(socket.SHUT_WR)
        self.assertEqual(len(self.read_all(first)), len(self.peer.reply))
        trig = self.proxy.cut(Direction.DOWNSTREAM, len(self.peer.reply) + 50)
        second = self.client()
        self.assertEqual(self.read_all(second), self.peer.reply[:50])
        self.assertEqual(trig.connection, 1)

    def test_stop_cuts_live_connections(self):
        c = self.client()
        self.assertTrue(self.proxy.wait_for_connections(1, 10))
        self.proxy.stop()
        c.settimeout(10)
        self.read_all(c)  # returns (EOF or reset) instead of hanging
        wait_until(lambda: self.peer.eof and self.peer.eof[0].is_set(), 10, "peer sees the close")


if __name__ == "__main__":
    unittest.main()
