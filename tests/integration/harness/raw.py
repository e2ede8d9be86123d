"""Raw IMAP exchanges over an imaplib connection, for what imaplib has no helper for: several
literals in one command, literal8, continuation requests, responses holding literal8."""

import re

_LITERAL_END = re.compile(rb"(~?)\{(\d+)\}\r\n$")


def read_response_line(conn):
    """One server response with its literals inlined: a list of pieces, bytes for the text and
    (binary, data) tuples for each literal or literal8."""
    pieces = []
    while True:
        line = conn.readline()
        if not line:
            raise EOFError("connection closed")
        m = _LITERAL_END.search(line)
        if not m:
            pieces.append(line)
            return pieces
        pieces.append(line[: m.start()])
        pieces.append((m.group(1) == b"~", conn.read(int(m.group(2)))))


def text_of(pieces):
    """The response with each literal replaced by "{n}" or "~{n}", for matching."""
    out = b""
    for p in pieces:
        if isinstance(p, tuple):
            out += (b"~" if p[0] else b"") + b"{%d}" % len(p[1])
        else:
            out += p
    return out


def command(conn, tag, parts):
    """Sends `tag` + parts and reads to the tagged response. `parts` is a list of bytes: plain
    text, or ("sync"|"nonsync", data, binary) tuples for literals; a synchronizing literal waits
    for the continuation request (or a tagged response, which ends the command early).
    Returns (untagged responses as piece lists, tagged line bytes, continuation count)."""
    untagged = []
    continuations = 0
    buf = tag.encode() + b" "
    for part in parts:
        if not isinstance(part, tuple):
            buf += part
            continue
        kind, data, binary = part
        prefix = b"~" if binary else b""
        if kind == "nonsync":
            buf += prefix + b"{%d+}\r\n" % len(data) + data
            continue
        buf += prefix + b"{%d}\r\n" % len(data)
        conn.send(buf)
        buf = b""
        while True:
            pieces = read_response_line(conn)
            first = pieces[0]
            if first.startswith(b"+"):
                continuations += 1
                break
            if first.startswith(tag.encode() + b" "):
                return untagged, text_of(pieces), continuations
            untagged.append(pieces)
        buf = data
    conn.send(buf + b"\r\n")
    while True:
        pieces = read_response_line(conn)
        if pieces[0].startswith(tag.encode() + b" "):
            return untagged, text_of(pieces), continuations
        untagged.append(pieces)
