"""Generated test messages: deterministic for a seed, CRLF line endings throughout, each with a
unique Message-ID, covering the shapes popbridge must carry byte-for-byte:

- plain text (US-ASCII),
- multipart/alternative (text + HTML),
- multipart/mixed with a large base64 attachment (1-5 MB by default; configurable),
- RFC 2047 encoded-word headers (Subject, From display name) with a UTF-8 8bit body,
- lines starting with '.' (POP3 dot-stuffing, RFC 1939 section 3) including a lone ".",
- long lines (one at the RFC 5322 998-octet limit, one far beyond it).
"""

import base64
import random
import time
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone, timedelta

KINDS = ("plain", "alternative", "attachment", "nonascii", "dots", "longlines")


@dataclass(frozen=True)
class Message:
    message_id: str  # "<...>" as in the header
    kind: str
    data: bytes  # the full RFC 5322 message, CRLF line endings, ending in CRLF

    @property
    def header(self):
        """The header section including the blank line that ends it (what IMAP BODY[HEADER]
        returns, RFC 3501 section 6.4.5)."""
        return self.data[: self.data.index(b"\r\n\r\n") + 4]


def _encoded_word(text):
    """RFC 2047 'B' encoded-word for a UTF-8 string."""
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _crlf(lines):
    return "".join(line + "\r\n" for line in lines).encode("utf-8")


def _words(rng, n):
    vocab = ("mail", "pop", "imap", "bridge", "folder", "flag", "ledger", "store", "retry",
             "commit", "fsync", "delete", "keep", "quota", "batch", "idle", "notice", "tls")
    return " ".join(rng.choice(vocab) for _ in range(n))


class Corpus:
    """Makes messages. `seed` fixes the content; `tag` goes into every Message-ID so messages of
    different tests or trials never collide."""

    def __init__(self, seed=1, tag="t", attachment_sizes=(1 << 20,)):
        self.rng = random.Random(seed)
        self.tag = tag
        self.attachment_sizes = list(attachment_sizes)
        self.count = 0
        self.base_date = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))

    def _headers(self, kind, subject, extra=()):
        self.count += 1
        n = self.count
        mid = f"<{self.tag}.{n}.{kind}.{self.rng.getrandbits(48):012x}@popbridge.test>"
        date = format_datetime(self.base_date + timedelta(minutes=7 * n))
        lines = [
            f"Return-Path: <sender{n}@example.net>",
            f"From: Sender {n} <sender{n}@example.net>",
            "To: Alice <alice@example.org>",
            f"Subject: {subject}",
            f"Date: {date}",
            f"Message-ID: {mid}",
            "MIME-Version: 1.0",
            *extra,
        ]
        return mid, lines

    def make(self, kind):
        """One message of the given kind (one of KINDS)."""
        rng = self.rng
        if kind == "plain":
            mid, h = self._headers(kind, f"plain {_words(rng, 4)}",
                                   ["Content-Type: text/plain; charset=us-ascii"])
            body = [_words(rng, 12) for _ in range(rng.randint(3, 30))]
            data = _crlf(h + [""] + body)
        elif kind == "alternative":
            b = f"alt-{rng.getrandbits(64):016x}"
            mid, h = self._headers(kind, f"alternative {_words(rng, 3)}",
                                   [f'Content-Type: multipart/alternative; boundary="{b}"'])
            text = _words(rng, 20)
            body = [
                "This is a multi-part message in MIME format.", "",
                f"--{b}", "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 7bit", "", text, "",
                f"--{b}", "Content-Type: text/html; charset=utf-8",
                "Content-Transfer-Encoding: 7bit", "",
                f"<html><body><p>{text}</p></body></html>", "",
                f"--{b}--", "",
            ]
            data = _crlf(h + [""] + body)
        elif kind == "attachment":
            size = self.attachment_sizes[(self.count) % len(self.attachment_sizes)]
            b = f"mix-{rng.getrandbits(64):016x}"
            mid, h = self._headers(kind, f"attachment {size} bytes",
                                   [f'Content-Type: multipart/mixed; boundary="{b}"'])
            payload = rng.randbytes(size)
            enc = base64.b64encode(payload).decode("ascii")
            # RFC 2045 section 6.8: encoded lines are at most 76 characters.
            b64_lines = [enc[i:i + 76] for i in range(0, len(enc), 76)]
            body = [
                f"--{b}", "Content-Type: text/plain; charset=us-ascii", "",
                "See the attached file.", "",
                f"--{b}", "Content-Type: application/octet-stream; name=\"blob.bin\"",
                "Content-Transfer-Encoding: base64",
                "Content-Disposition: attachment; filename=\"blob.bin\"", "",
                *b64_lines, "",
                f"--{b}--", "",
            ]
            data = _crlf(h + [""] + body)
        elif kind == "nonascii":
            subject = _encoded_word("Grüße aus Köln — ünïcödé ✓ 日本語")
            mid, h = self._headers(kind, subject, [
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                f"Cc: {_encoded_word('Zoë Åkesson')} <zoe@example.org>",
            ])
            body = ["Hallo Alice,", "", "schöne Grüße — ça va? Ελληνικά, русский, 中文, emoji 📬.",
                    _words(rng, 8)]
            data = _crlf(h + [""] + body)
        elif kind == "dots":
            mid, h = self._headers(kind, "lines starting with dots",
                                   ["Content-Type: text/plain; charset=us-ascii"])
            body = [".", "..", ".leading dot", "..two leading dots", "middle . dot", ". ",
                    "a line", ".", "last line"]
            data = _crlf(h + [""] + body)
        elif kind == "longlines":
            mid, h = self._headers(kind, "long lines",
                                   ["Content-Type: text/plain; charset=us-ascii"])
            at_limit = ("x" * 997) + "y"  # 998 octets: the RFC 5322 section 2.1.1 maximum
            beyond = " ".join(_words(rng, 700).split())[:4000]  # far beyond it, as seen in the wild
            body = ["short line", at_limit, beyond, "end"]
            data = _crlf(h + [""] + body)
        else:
            raise ValueError(kind)
        return Message(mid, kind, data)

    def generate(self, count):
        """`count` messages cycling through KINDS (so any count >= 6 has every kind)."""
        return [self.make(KINDS[i % len(KINDS)]) for i in range(count)]


def small_corpus(tag, count=6, seed=None, attachment_size=1 << 20):
    """A corpus of `count` messages with one attachment size; `seed` defaults to the clock so
    repeated runs cover different content (the tag keeps Message-IDs distinct either way)."""
    if seed is None:
        seed = time.time_ns()
    return Corpus(seed=seed, tag=tag, attachment_sizes=(attachment_size,)).generate(count)
