"""The LIST family next to Dovecot's (dovecot-imapd, a private instance): the same mailboxes and
subscriptions made on both, then LIST, LSUB, LIST-EXTENDED and LIST-STATUS replies compared by
shape. Dovecot's Maildir++ layout uses "." as the hierarchy delimiter, so names are compared
with each server's own delimiter turned into "/". popbridge's default special-use mailboxes and
INBOX (which every popbridge user has subscribed) are left out of the comparison."""

import re
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap, open_reference_pair
from test_mime_dovecot import PASSWORD, USER, RawImap

IGNORED = {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}
CHILDREN = {"\\HasChildren", "\\HasNoChildren"}
REPLY = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) "(.)" ("(?:[^"\\]|\\.)*"|[^ \r]+)(.*)\r\n$')
STATUS = re.compile(rb'^\* STATUS ("(?:[^"\\]|\\.)*"|[^ ]+) \((.*)\)\r\n$')


def unquote(name):
    return name[1:-1] if name.startswith(b'"') else name


def shape(lines, keep_children):
    """The replies as a sorted list of comparable tuples."""
    out = []
    for line in lines:
        match = REPLY.match(line)
        if match:
            verb, attrs, delimiter, name, rest = match.groups()
            name = unquote(name).decode().replace(delimiter.decode(), "/")
            if name.split("/")[0] in IGNORED:
                continue
            attrs = set(attrs.decode().split())
            if not keep_children:
                attrs -= CHILDREN
            # RFC 5258 9: the CHILDINFO tag is an astring, quoted or not.
            rest = rest.decode().replace('"CHILDINFO"', "CHILDINFO")
            out.append((verb.decode(), name, tuple(sorted(attrs)), rest))
            continue
        match = STATUS.match(line)
        assert match, line
        name = unquote(match.group(1)).decode()
        if name.split(".")[0].split("/")[0] not in IGNORED:
            out.append(("STATUS", name.replace(".", "/"), match.group(2).decode(), ""))
    return sorted(out)


class ListDifferentialTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.theirs, self.ours = open_reference_pair(self)
        self.servers = {"dovecot": (self.theirs, b"."), "popbridge": (self.ours, b"/")}

    def both(self, command):
        """Runs `command` ("/" standing for the delimiter) on both servers."""
        return {name: server.command(command.replace(b"/", delimiter))
                for name, (server, delimiter) in self.servers.items()}

    def compare(self, command, keep_children=False):
        replies = self.both(command)
        self.assertEqual(shape(replies["popbridge"], keep_children),
                         shape(replies["dovecot"], keep_children), command.decode())

    def test_list_replies_match_dovecot(self):
        for name in (b"Work", b"Work/2026", b"Work/2026/Q1", b"Projects/Alpha/Docs",
                     b"Entw&APw-rfe", b"Entw&APw-rfe/&ZeVnLIqe-", b"Papers"):
            self.both(b"CREATE " + name)
        for name in (b"Work/2026/Q1", b"Entw&APw-rfe", b"Papers"):
            self.both(b"SUBSCRIBE " + name)
        for server, _ in self.servers.values():
            server.command(b"APPEND Work (\\Seen)", literal=b"Subject: x\r\n\r\nx\r\n")
            server.command(b"APPEND Work", literal=b"Subject: y\r\n\r\ny\r\n")
        for command in (b'LIST "" %', b'LIST "" Projects/%', b'LIST "" Entw*'):
            self.compare(command, keep_children=True)
        for command in (b'LSUB "" *', b'LSUB "" %', b'LSUB "" Work/%',
                        b'LIST "" Projects/% RETURN (CHILDREN)',
                        b'LIST (SUBSCRIBED) "" *', b'LIST (SUBSCRIBED) "" %',
                        b'LIST (SUBSCRIBED RECURSIVEMATCH) "" %',
                        b'LIST "" Work* RETURN (SUBSCRIBED CHILDREN)',
                        b'LIST "" % RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))'):
            self.compare(command)
        # Subscriptions outlive DELETE and stay with the old name through RENAME.
        self.both(b"DELETE Work/2026/Q1")
        self.both(b"RENAME Papers Letters")
        self.both(b"UNSUBSCRIBE Nothing")  # not subscribed: OK on both
        self.compare(b'LIST (SUBSCRIBED) "" *')
        self.compare(b'LIST "" Letters', keep_children=True)


if __name__ == "__main__":
    unittest.main()
