"""The LIST family with a real IMAP client (imaplib) against the real daemon: the special-use
mailboxes a new user gets (RFC 6154), subscriptions and LSUB (RFC 3501 6.3.6-6.3.9),
LIST-EXTENDED selection and return options (RFC 5258), LIST-STATUS (RFC 5819), CHILDREN
(RFC 3348), XLIST, CREATE with USE, and non-ASCII names round-tripping through modified UTF-7
(RFC 3501 5.1.3) while the store keeps UTF-8."""

import imaplib
import os
import re
import sqlite3
import unittest

from harness import imap
from harness.case import PopbridgeCase

imaplib.Commands.setdefault("XLIST", ("AUTH", "SELECTED"))

SPECIAL = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk", "Sent": "\\Sent",
           "Trash": "\\Trash"}

LIST_LINE = re.compile(rb'^\((?P<attrs>[^)]*)\) "/" (?P<name>"(?:[^"\\]|\\.)*"|\S+)(?P<rest>.*)$')


def parse_list(line):
    """(attributes as a set of str, name as str, the rest after the name) of a LIST reply."""
    if isinstance(line, tuple):  # a name sent as a literal
        head, name = line
        match = re.match(rb"^\(([^)]*)\) \"/\" \{\d+\}$", head)
        return set(match.group(1).decode().split()), name.decode(), ""
    match = LIST_LINE.match(line)
    assert match, line
    name = match.group("name")
    if name.startswith(b'"'):
        name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
    return set(match.group("attrs").decode().split()), name.decode(), match.group("rest").decode()


class ListTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        self.conn = self.imap_login(self.pb)

    def run_list(self, verb, *args):
        """Sends `verb args...` as written; returns {name: (attributes, rest)} of its replies and
        the untagged STATUS lines."""
        self.conn.untagged_responses.pop(verb, None)
        self.conn.untagged_responses.pop("STATUS", None)
        typ, data = self.conn._simple_command(verb, *args)
        self.assertEqual(typ, "OK", data)
        _, lines = self.conn._untagged_response(typ, data, verb)
        replies = {}
        for line in lines:
            if line is None:
                continue
            attrs, name, rest = parse_list(line)
            self.assertNotIn(name, replies, f"{name} listed twice")
            replies[name] = (attrs, rest)
        status = self.conn.untagged_responses.pop("STATUS", [])
        return replies, status

    def ok(self, typ_data):
        typ, data = typ_data
        self.assertEqual(typ, "OK", data)

    def test_capabilities(self):
        for cap in ("CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE",
                    "XLIST"):
            self.assertIn(cap, self.conn.capabilities)

    def test_new_user_has_special_use_mailboxes_subscribed(self):
        replies, _ = self.run_list("LIST", '""', "*")
        self.assertEqual(sorted(replies), sorted(["INBOX", *SPECIAL]))
        self.assertEqual(replies["INBOX"][0], {"\\HasNoChildren"})
        for name, attribute in SPECIAL.items():
            self.assertEqual(replies[name][0], {"\\HasNoChildren", attribute}, name)
        lsub, _ = self.run_list("LSUB", '""', "*")
        self.assertEqual(sorted(lsub), sorted(["INBOX", *SPECIAL]))
        # RFC 6154 3: the SPECIAL-USE selection option lists only those.
        special, _ = self.run_list("LIST", "(SPECIAL-USE)", '""', "*")
        self.assertEqual(sorted(special), sorted(SPECIAL))
        special, _ = self.run_list("LIST", '""', "%", "RETURN", "(SPECIAL-USE)")
        self.assertEqual(special["Sent"][0], {"\\HasNoChildren", "\\Sent"})

    def test_subscriptions_lsub_and_list_subscribed(self):
        self.ok(self.conn.create("Work"))
        self.ok(self.conn.create("Work/2026"))
        self.ok(self.conn.create("Work/2026/Q1"))
        self.ok(self.conn.subscribe("Work/2026/Q1"))
        self.ok(self.conn.subscribe("Nowhere/Box"))  # RFC 3501 6.3.6: need not exist
        self.ok(self.conn.unsubscribe("Junk"))
        self.ok(self.conn.unsubscribe("Junk"))  # twice is once, as in Dovecot

        lsub, _ = self.run_list("LSUB", '""', "*")
        self.assertEqual(sorted(lsub), sorted(["Archive", "Drafts", "INBOX", "Nowhere/Box", "Sent",
                                               "Trash", "Work/2026/Q1"]))
        self.assertEqual(lsub["INBOX"][0], set())
        # RFC 3501 6.3.9: "%" hides a subscribed child; its parent comes back \Noselect.
        lsub, _ = self.run_list("LSUB", '""', "%")
        self.assertEqual(lsub["Work"][0], {"\\Noselect"})
        self.assertEqual(lsub["Nowhere"][0], {"\\Noselect"})
        self.assertEqual(lsub["Sent"][0], set())
        self.assertNotIn("Junk", lsub)
        lsub, _ = self.run_list("LSUB", '""', "Work/%")
        self.assertEqual(lsub, {"Work/2026": ({"\\Noselect"}, "")})

        # RFC 5258: LIST (SUBSCRIBED) marks \Subscribed and \NonExistent.
        listed, _ = self.run_list("LIST", "(SUBSCRIBED)", '""', "*")
        self.assertEqual(listed["Nowhere/Box"][0],
                         {"\\Subscribed", "\\NonExistent", "\\HasNoChildren"})
        self.assertEqual(listed["Sent"][0], {"\\Subscribed", "\\HasNoChildren", "\\Sent"})
        self.assertNotIn("Work", listed)
        self.assertNotIn("Junk", listed)
        # RECURSIVEMATCH: a level with a subscribed name below it, with CHILDINFO.
        listed, _ = self.run_list("LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', "%")
        self.assertEqual(listed["Work"], ({"\\HasChildren"}, ' ("CHILDINFO" ("SUBSCRIBED"))'))
        self.assertEqual(listed["Nowhere"],
                         ({"\\NonExistent", "\\HasNoChildren"}, ' ("CHILDINFO" ("SUBSCRIBED"))'))
        self.assertEqual(listed["INBOX"], ({"\\Subscribed", "\\HasNoChildren"}, ""))
        # Without it, "%" shows no unsubscribed level.
        listed, _ = self.run_list("LIST", "(SUBSCRIBED)", '""', "%")
        self.assertNotIn("Work", listed)
        # RETURN (SUBSCRIBED) on a plain selection.
        listed, _ = self.run_list("LIST", '""', "Work*", "RETURN", "(SUBSCRIBED CHILDREN)")
        self.assertEqual(listed["Work"][0], {"\\HasChildren"})
        self.assertEqual(listed["Work/2026/Q1"][0], {"\\Subscribed", "\\HasNoChildren"})

        # DELETE keeps the subscription (RFC 9051 6.3.4); RENAME does not move it.
        self.ok(self.conn.delete("Work/2026/Q1"))
        self.ok(self.conn.rename("Trash", "Bin"))
        listed, _ = self.run_list("LIST", "(SUBSCRIBED)", '""', "*")
        self.assertEqual(listed["Work/2026/Q1"][0],
                         {"\\Subscribed", "\\NonExistent", "\\HasNoChildren"})
        self.assertIn("\\NonExistent", listed["Trash"][0])
        self.assertNotIn("Bin", listed)
        plain, _ = self.run_list("LIST", '""', "Bin")
        self.assertEqual(plain["Bin"][0], {"\\HasNoChildren", "\\Trash"})  # the use goes along

    def test_missing_levels_children_and_multiple_patterns(self):
        self.ok(self.conn.create("Projects/Alpha/Docs"))  # superiors are not created
        listed, _ = self.run_list("LIST", '""', "%")
        self.assertEqual(listed["Projects"][0], {"\\Noselect", "\\HasChildren"})
        listed, _ = self.run_list("LIST", '""', "*")
        self.assertNotIn("Projects", listed)  # "*" shows the child itself
        self.assertEqual(listed["Projects/Alpha/Docs"][0], {"\\HasNoChildren"})
        # RFC 5258 extended syntax reports missing levels as \NonExistent.
        listed, _ = self.run_list("LIST", '""', "Projects/%", "RETURN", "(CHILDREN)")
        self.assertEqual(listed["Projects/Alpha"][0], {"\\NonExistent", "\\HasChildren"})
        # Several patterns: the union, each name once.
        listed, _ = self.run_list("LIST", '""', "(INBOX Sent S* Projects/*)")
        self.assertEqual(sorted(listed), ["INBOX", "Projects/Alpha/Docs", "Sent"])
        # The reference is joined to the pattern.
        listed, _ = self.run_list("LIST", "Projects/", "*/Docs")
        self.assertEqual(sorted(listed), ["Projects/Alpha/Docs"])
        # The delimiter query.
        typ, data = self.conn.list('""', '""')
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b'(\\Noselect) "/" ""'])

    def test_list_status(self):
        self.ok(self.conn.append("Sent", "(\\Seen)", None, b"Subject: a\r\n\r\nx\r\n"))
        self.ok(self.conn.append("Sent", None, None, b"Subject: b\r\n\r\ny\r\n"))
        self.ok(self.conn.create("Old/Box"))
        listed, status = self.run_list("LIST", '""', "%", "RETURN",
                                       "(STATUS (MESSAGES UNSEEN UIDNEXT))")
        self.assertIn("Old", listed)
        by_name = {}
        for line in status:
            match = re.match(rb'^("?)(.*)\1 \((.*)\)$', line)
            by_name[match.group(2).decode()] = match.group(3).decode()
        # RFC 5819: one STATUS for each selectable mailbox listed, none for "Old".
        self.assertEqual(sorted(by_name), sorted(["INBOX", *SPECIAL]))
        self.assertEqual(by_name["Sent"], "MESSAGES 2 UNSEEN 1 UIDNEXT 3")
        self.assertEqual(by_name["INBOX"], "MESSAGES 0 UNSEEN 0 UIDNEXT 1")

    def test_xlist_marks_inbox(self):
        listed, _ = self.run_list("XLIST", '""', "*")
        self.assertEqual(listed["INBOX"][0], {"\\HasNoChildren", "\\Inbox"})
        self.assertEqual(listed["Junk"][0], {"\\HasNoChildren", "\\Junk"})

    def test_create_with_use(self):
        typ, data = self.conn._simple_command("CREATE", "Outbox", "(USE (\\Drafts))")
        self.assertEqual(typ, "OK", data)
        listed, _ = self.run_list("LIST", "(SPECIAL-USE)", '""', "Outbox")
        self.assertEqual(listed["Outbox"][0], {"\\HasNoChildren", "\\Drafts"})
        # RFC 6154 5: an attribute popbridge cannot honour creates nothing, with USEATTR.
        typ, data = self.conn._simple_command("CREATE", "Everything", "(USE (\\All))")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[USEATTR]", data[0])
        typ, _ = self.conn.select("Everything")
        self.assertEqual(typ, "NO")

    def test_non_ascii_names_round_trip_through_modified_utf7(self):
        drafts = "Entw&APw-rfe"  # "Entwürfe"
        self.ok(self.conn.create(drafts))
        self.ok(self.conn.create(f"{drafts}/&ZeVnLIqe-"))  # "日本語" below it
        listed, _ = self.run_list("LIST", '""', "Entw*")
        self.assertEqual(sorted(listed), [drafts, f"{drafts}/&ZeVnLIqe-"])
        self.assertEqual(listed[drafts][0], {"\\HasChildren"})
        self.ok(self.conn.append(drafts, None, None, b"Subject: umlaut\r\n\r\nx\r\n"))
        typ, data = self.conn.select(drafts)
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.conn.close()
        typ, data = self.conn.status(drafts, "(MESSAGES)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"Entw&APw-rfe (MESSAGES 1)"])
        self.ok(self.conn.subscribe(drafts))
        lsub, _ = self.run_list("LSUB", '""', "Entw&APw-rfe")
        self.assertEqual(list(lsub), [drafts])
        # The store keeps UTF-8.
        db = os.path.join(self.pb.data_dir, "users", "alice", "meta.sqlite")
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            names = {row[0] for row in con.execute("SELECT name FROM mailboxes")}
            subscribed = {row[0] for row in con.execute("SELECT name FROM subscriptions")}
        self.assertIn("Entwürfe", names)
        self.assertIn("Entwürfe/日本語", names)
        self.assertIn("Entwürfe", subscribed)
        # What is not valid modified UTF-7, or names a control character, is refused.
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD.*modified UTF-7"):
            self.conn.create("Entw&AGE-")  # "a" must not be encoded
        typ, data = self.conn.create("Ctl&AAE-")
        self.assertEqual(typ, "NO")
        for bad in ("../escape", "a//b", "/rooted"):
            typ, _ = self.conn.create(bad)
            self.assertEqual(typ, "NO", bad)
        listed, _ = self.run_list("LIST", '""', "*")
        self.assertFalse([n for n in listed if "escape" in n or n.startswith("/")], listed)


if __name__ == "__main__":
    unittest.main()
