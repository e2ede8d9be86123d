"""A TCP proxy for fault injection between popbridge and a real peer (the integration suite's only
fake: it never speaks a protocol, it only delays, holds, cuts or reports bytes).

    proxy = FaultProxy("127.0.0.1", dovecot_port).start()
    trigger = proxy.at_offset(Direction.DOWNSTREAM, 150_000, callback=lambda conn: kill_daemon())
    hold = proxy.hold_line(Direction.UPSTREAM, rb"^DELE ")
    ...
    hold.held.wait(10); kill_daemon(); hold.release()
    proxy.stop()

Directions: UPSTREAM is client -> target (what popbridge sends), DOWNSTREAM is target -> client.

Hooks, each per direction and optionally limited to one connection (by accept order, from 0):
- at_offset(offset, callback, action): when the byte count reaches `offset`, forward exactly the
  bytes before it, call `callback(conn)`, then FORWARD the rest, CUT the connection (both sockets
  closed, nothing more delivered) or STALL (stop forwarding until released). Offsets count bytes
  of one connection when `connection` is given, else bytes across all connections in that
  direction.
- stall(after): shorthand for at_offset(..., action=STALL).
- cut(at): shorthand for at_offset(..., action=CUT).
- drip(chunk, delay): forward at most `chunk` bytes, then sleep `delay` seconds.
- hold_line(pattern): when a complete line (CRLF/LF-terminated) matches the regex, forward what
  came before it and hold that line and everything after until release(); the hold fires once.

Stalled or held data keeps being read from the source (so a peer that dies while held is noticed)
and is buffered; if the source closes while data is held, the held bytes are dropped, as if they
had never left the sender, and the close is passed on.

Thread model: one accept thread plus two pump threads per connection, all daemon threads. Hook
registration, release() and stop() may be called from any thread. Callbacks run on a pump thread
with that direction's lock held: they may kill processes or set events, but must not call
release() on a hook of the same direction.
"""

import enum
import re
import socket
import threading
import time


class Direction(enum.Enum):
    UPSTREAM = "client->target"
    DOWNSTREAM = "target->client"


class Action(enum.Enum):
    FORWARD = "forward"
    CUT = "cut"
    STALL = "stall"


class Trigger:
    """A byte-offset hook. `fired` is set once it ran; `connection` then holds the index of the
    connection it fired on. release() resumes a STALL."""

    def __init__(self, proxy, direction, offset, callback, action, connection):
        self._proxy = proxy
        self.direction = direction
        self.offset = offset
        self.callback = callback
        self.action = action
        self.connection_filter = connection
        self.connection = None
        self.fired = threading.Event()

    def release(self):
        """Resumes forwarding after a STALL (no-op for other actions or before it fired)."""
        if self.connection is not None:
            self._proxy._resume(self.connection, self.direction)


class Hold:
    """A line hook. `held` is set when a line matched; `line` is that line (with its terminator).
    release() forwards the held bytes and everything buffered after them; drop() cuts the
    connection without forwarding them."""

    def __init__(self, proxy, direction, pattern, connection):
        self._proxy = proxy
        self.direction = direction
        self.pattern = re.compile(pattern) if isinstance(pattern, (bytes, str)) else pattern
        if isinstance(self.pattern.pattern, str):
            self.pattern = re.compile(self.pattern.pattern.encode())
        self.connection_filter = connection
        self.connection = None
        self.line = None
        self.held = threading.Event()
        self.done = False

    def release(self):
        if self.connection is not None:
            self._proxy._resume(self.connection, self.direction)

    def drop(self):
        if self.connection is not None:
            self._proxy.connections[self.connection].close()


class _Flow:
    """One direction of one connection."""

    def __init__(self, src, dst):
        self.src = src
        self.dst = dst
        self.lock = threading.RLock()
        self.count = 0  # bytes forwarded
        self.received = 0  # bytes read from src
        self.paused = False  # stalled or held
        self.pending = bytearray()  # read while paused, or the held line onwards
        self.linebuf = bytearray()  # partial line while a hold_line hook is armed
        self.eof = False


class Connection:
    """One proxied connection. `index` is its accept order; counters are per direction."""

    def __init__(self, index, client, upstream):
        self.index = index
        self.client = client
        self.upstream = upstream
        self.flows = {
            Direction.UPSTREAM: _Flow(client, upstream),
            Direction.DOWNSTREAM: _Flow(upstream, client),
        }
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._open_pumps = 2

    def bytes_forwarded(self, direction):
        return self.flows[direction].count

    def bytes_received(self, direction):
        return self.flows[direction].received

    def close(self):
        """Cuts the connection: both sockets are shut down, so both peers see it end at once."""
        self.closed.set()
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump_finished(self):
        with self._lock:
            self._open_pumps -= 1
            last = self._open_pumps == 0
        if last:
            self.closed.set()
            for s in (self.client, self.upstream):
                try:
                    s.close()
                except OSError:
                    pass


class FaultProxy:
    """See the module docstring. start() returns self; `port` is the listening port."""

    def __init__(self, target_host, target_port, listen_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = None
        self.connections = []
        self._triggers = []
        self._holds = []
        self._drip = {}
        self._lock = threading.Lock()
        self._listener = None
        self._stopping = threading.Event()
        self._accept_thread = None
        self._new_connection = threading.Condition(self._lock)

    # ----------------------------------------------------------------- lifecycle

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.listen_host, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, name="fault-proxy-accept",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def stop(self):
        """Stops accepting and cuts every connection. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in list(self.connections):
            conn.close()
        if self._accept_thread is not None:
            self._accept_thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----------------------------------------------------------------- hooks

    def at_offset(self, direction, offset, callback=None, action=Action.FORWARD, connection=None):
        if offset < 0:
            raise ValueError("offset must be >= 0")
        t = Trigger(self, direction, offset, callback, action, connection)
        with self._lock:
            self._triggers.append(t)
        return t

    def stall(self, direction, after=0, connection=None):
        return self.at_offset(direction, after, action=Action.STALL, connection=connection)

    def cut(self, direction, at, connection=None, callback=None):
        return self.at_offset(direction, at, callback=callback, action=Action.CUT,
                              connection=connection)

    def drip(self, direction, chunk=1, delay=0.01):
        """Slows every connection's `direction` to `chunk` bytes per `delay` seconds; chunk=None
        turns dripping off."""
        with self._lock:
            if chunk is None:
                self._drip.pop(direction, None)
            else:
                self._drip[direction] = (max(1, chunk), delay)

    def hold_line(self, direction, pattern, connection=None):
        h = Hold(self, direction, pattern, connection)
        with self._lock:
            self._holds.append(h)
        return h

    def release_all(self):
        for conn in list(self.connections):
            for d in Direction:
                self._resume(conn.index, d)

    def total_bytes(self, direction):
        """Bytes forwarded in `direction` over all connections so far."""
        return sum(c.bytes_forwarded(direction) for c in list(self.connections))

    def wait_for_connections(self, n, timeout):
        """Blocks until at least `n` connections were accepted; returns whether that happened."""
        deadline = time.monotonic() + timeout
        with self._new_connection:
            while len(self.connections) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._new_connection.wait(left)
        return True

    # ----------------------------------------------------------------- internals

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the target is down: the client sees a closed connection
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._new_connection:
                conn = Connection(len(self.connections), client, upstream)
                self.connections.append(conn)
                self._new_connection.notify_all()
            if self._stopping.is_set():
                conn.close()
            for d in Direction:
                threading.Thread(target=self._pump, args=(conn, d), daemon=True,
                                 name=f"fault-proxy-{conn.index}-{d.name.lower()}").start()

    def _pump(self, conn, direction):
        flow = conn.flows[direction]
        try:
            while not conn.closed.is_set():
                try:
                    data = flow.src.recv(65536)
                except OSError:
                    conn.close()
                    break
                if not data:
                    with flow.lock:
                        flow.eof = True
                        # Held or stalled bytes never reached the peer: drop them and pass the
                        # close on, like a sender that died before its data left.
                        flow.pending.clear()
                        if not flow.paused and flow.linebuf:
                            self._forward(conn, direction, bytes(flow.linebuf))
                        flow.linebuf.clear()
                    try:
                        flow.dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                with flow.lock:
                    flow.received += len(data)
                    self._handle(conn, direction, data)
        finally:
            conn._pump_finished()

    def _holds_for(self, conn, direction):
        with self._lock:
            return [h for h in self._holds
                    if not h.done and h.direction is direction
                    and h.connection_filter in (None, conn.index)]

    def _handle(self, conn, direction, data):
        """Called with flow.lock held: routes new bytes through holds, then offset triggers."""
        flow = conn.flows[direction]
        if flow.paused:
            flow.pending += data
            return
        holds = self._holds_for(conn, direction)
        if not holds and not flow.linebuf:
            self._forward(conn, direction, data)
            return
        flow.linebuf += data
        while True:
            nl = flow.linebuf.find(b"\n")
            if nl < 0:
                if not holds:  # the last hold fired meanwhile: no more line buffering
                    rest = bytes(flow.linebuf)
                    flow.linebuf.clear()
                    if rest:
                        self._forward(conn, direction, rest)
                return
            line = bytes(flow.linebuf[: nl + 1])
            bare = line.rstrip(b"\r\n")
            match = None
            for h in holds:
                if h.pattern.search(bare):
                    match = h
                    break
            if match is not None:
                with self._lock:
                    if match.done:  # another connection took it
                        match = None
                    else:
                        match.done = True
            if match is not None:
                match.connection = conn.index
                match.line = line
                flow.paused = True
                flow.pending += flow.linebuf
                flow.linebuf.clear()
                match.held.set()
                return
            del flow.linebuf[: nl + 1]
            if conn.closed.is_set():
                return
            self._forward(conn, direction, line)
            if flow.paused:  # an offset trigger stalled the flow inside that line
                flow.pending += flow.linebuf
                flow.linebuf.clear()
                return
            holds = self._holds_for(conn, direction)

    def _forward(self, conn, direction, data):
        """Called with flow.lock held: sends `data`, firing offset triggers exactly where they
        fall, and applies their action."""
        flow = conn.flows[direction]
        while data:
            if conn.closed.is_set():
                return
            trigger, split = self._next_trigger(conn, direction, len(data))
            if trigger is None:
                self._send(conn, direction, data)
                return
            self._send(conn, direction, data[:split])
            data = data[split:]
            trigger.connection = conn.index
            if trigger.callback is not None:
                trigger.callback(conn)
            trigger.fired.set()
            if trigger.action is Action.CUT:
                conn.close()
                return
            if trigger.action is Action.STALL:
                flow.paused = True
                flow.pending += data
                return

    def _next_trigger(self, conn, direction, length):
        """The earliest unfired trigger whose offset falls within the next `length` bytes, and
        how many of those bytes precede it. Claims it (fires once, even across connections)."""
        flow = conn.flows[direction]
        best = None
        best_split = None
        with self._lock:
            global_base = sum(c.flows[direction].count for c in self.connections)
            for t in self._triggers:
                if t.fired.is_set() or t.connection is not None or t.direction is not direction:
                    continue
                if t.connection_filter is None:
                    base = global_base
                elif t.connection_filter == conn.index:
                    base = flow.count
                else:
                    continue
                # A trigger registered after its offset went by fires at the next byte.
                split = max(0, t.offset - base)
                if split < length:
                    if best is None or split < best_split:
                        best, best_split = t, split
            if best is not None:
                best.connection = conn.index  # claimed
        return best, best_split

    def _send(self, conn, direction, data):
        if not data:
            return
        flow = conn.flows[direction]
        with self._lock:
            drip = self._drip.get(direction)
        try:
            if drip is None:
                flow.dst.sendall(data)
                flow.count += len(data)
            else:
                chunk, delay = drip
                for i in range(0, len(data), chunk):
                    piece = data[i:i + chunk]
                    flow.dst.sendall(piece)
                    flow.count += len(piece)
                    time.sleep(delay)
        except OSError:
            conn.close()

    def _resume(self, index, direction):
        conn = self.connections[index]
        flow = conn.flows[direction]
        with flow.lock:
            if not flow.paused:
                return
            flow.paused = False
            data = bytes(flow.pending)
            flow.pending.clear()
            if data:
                self._handle(conn, direction, data)
