"""imapflow (npm), the IMAP library behind many Node.js mail apps, against popbridge over implicit
TLS and over STARTTLS, verifying the harness CA: it lists mailboxes, creates one, appends
(APPENDUID), fetches ENVELOPE, BODYSTRUCTURE and the source of every message (compared byte for
byte with what the POP server served), adds and removes flags and keywords, moves a message with
UID MOVE (COPYUID), downloads whole messages and an attachment in 64 KB partial chunks, idles
until a message that popbridge pulls from POP3 meanwhile is announced, and idles again while a
second imapflow session appends and deletes (EXISTS, then EXPUNGE). CONDSTORE/QRESYNC are used
and checked when advertised; without them imapflow falls back to IMAP4rev1.

The same session also runs against Dovecot's own IMAP server, as a reference: that proves the
script's checks (its CONDSTORE branch included) hold for a server known to be right."""

import base64
import email
import email.policy
import hashlib
import os
import re
import time
import unittest

from harness import clients, corpus, dovecot, imap
from harness.case import IMAP_PASSWORD, IMAP_USER, POP_PASSWORD, POP_USER, PopbridgeCase

SCRIPT = "imapflow_session.mjs"
NOTE_ID = "<imapflow-append@popbridge.test>"


class ImapflowTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=4, attachment_size=300_000)
        self.by_id = {r.message_id: r for r in self.ref}

    def popbridge(self):
        pb = self.new_popbridge([self.account()])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, len(self.ref))
        imap.safe_logout(conn)
        return pb

    def run_session(self, port, tls, user, password, deliver_to):
        """Runs the imapflow session; when it idles, delivers one new message to `deliver_to`'s
        POP maildrop (a Dovecot). Returns (result, the delivered corpus message)."""
        session = clients.NodeSession(SCRIPT, {"host": "127.0.0.1", "port": port, "tls": tls,
                                               "ca": self.certs.ca_cert, "user": user,
                                               "pass": password}, self.dir)
        self.addCleanup(session.close)
        event = session.next_event(60)
        self.assertEqual(event["event"], "idling", event)
        self.assertEqual(event["exists"], len(self.ref) - 1)  # one was moved to Work
        late = corpus.small_corpus(self.tag() + "-late", 1, attachment_size=40_000)[0]
        deliver_to.deliver_all(POP_USER, [late])
        result = session.next_event(90)
        self.assertEqual(result["event"], "result", result)
        code = session.close()
        self.assertEqual(code, 0, session.stderr())
        return result, late

    def check(self, result, late):
        """Checks an imapflow report against the POP reference; returns the UIDs it used."""
        caps = set(result["capabilities"])
        self.assertTrue(result["secure"])
        # RFC 4978: imapflow compresses whenever the server offers it; everything below then ran
        # over the DEFLATE stream.
        if "COMPRESS=DEFLATE" in caps:
            self.assertTrue(result["compressed"])
            self.assertIn("COMPRESS DEFLATE", result["commands"])
        else:
            self.assertFalse(result["compressed"])
        for cap in ("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE"):
            self.assertIn(cap.upper(), {c.upper() for c in caps})
        self.assertIn("INBOX", [box["path"] for box in result["list"]])
        self.assertIn("Work", [box["path"] for box in result["list"]])

        # APPEND answered APPENDUID.
        self.assertIsInstance(result["append"]["uid"], int)
        self.assertRegex(result["append"]["uidValidity"] or "", r"^\d+$")

        # Every POP message, byte for byte, with a right ENVELOPE and BODYSTRUCTURE.
        messages = result["messages"]
        self.assertEqual(len(messages), len(self.ref))
        self.assertEqual(result["inboxOpened"]["exists"], len(self.ref))
        uids = [m["uid"] for m in messages]
        self.assertEqual(uids, sorted(set(uids)))
        seen_ids = set()
        for m in messages:
            source = base64.b64decode(m["source"])
            mid = m["envelope"]["messageId"]
            self.assertIn(mid, self.by_id)
            seen_ids.add(mid)
            ref = self.by_id[mid]
            self.assertEqual(source, ref.data, f"{mid}: source differs")
            self.assertEqual(m["size"], len(ref.data), f"{mid}: RFC822.SIZE")
            self.assertEqual(m["envelope"]["to"], ["alice@example.org"])
            self.assertRegex(m["envelope"]["from"][0], r"^sender\d+@example\.net$")
            subject = re.search(rb"^Subject: (.*)$", ref.data, re.M).group(1).decode()
            if "=?" not in subject:
                self.assertEqual(m["envelope"]["subject"], subject.strip())
            kind = mid.split(".")[2]
            structure = m["bodyStructure"]
            if kind == "attachment":
                self.assertEqual(structure["type"], "multipart/mixed", structure)
                self.assertEqual(structure["parts"][-1]["type"], "application/octet-stream",
                                 structure)
            elif kind == "alternative":
                self.assertEqual(structure["type"], "multipart/alternative", structure)
                self.assertEqual([p["type"] for p in structure["parts"]],
                                 ["text/plain", "text/html"])
            else:
                self.assertEqual(structure["type"], "text/plain", structure)
        self.assertEqual(seen_ids, set(self.by_id))

        # Chunked downloads (BODY.PEEK[]<n.64K>, BODY.PEEK[2]<n.64K>): whole messages equal the
        # source; the attachment, decoded, equals the one in the reference message.
        by_uid = {m["uid"]: self.by_id[m["envelope"]["messageId"]] for m in messages}
        whole = {d["uid"]: d for d in result["downloads"] if d["part"] is None}
        self.assertEqual(set(whole), set(by_uid))
        for uid, d in whole.items():
            self.assertEqual((d["size"], d["sha256"]),
                             (len(by_uid[uid].data), hashlib.sha256(by_uid[uid].data).hexdigest()))
        attachments = [d for d in result["downloads"] if d["part"] is not None]
        want = sum(1 for r in self.ref if ".attachment." in r.message_id)
        self.assertGreater(want, 0, "the corpus must hold an attachment")
        self.assertEqual(len(attachments), want, result["downloads"])
        for d in attachments:
            parsed = email.message_from_bytes(by_uid[d["uid"]].data, policy=email.policy.default)
            payload = next(parsed.iter_attachments()).get_payload(decode=True)
            self.assertEqual(d["filename"], "blob.bin")
            self.assertEqual((d["size"], d["sha256"]),
                             (len(payload), hashlib.sha256(payload).hexdigest()))

        # Flags and keywords, as read back by imapflow.
        first, second = uids[0], uids[1]
        after = {int(k): set(v) for k, v in result["flagsAfter"].items()}
        self.assertIn("\\Flagged", after[first])
        self.assertIn("$Important", after[first])
        self.assertNotIn("\\Seen", after[first])
        self.assertLessEqual({"\\Seen", "\\Answered"}, after[second])

        # CONDSTORE (RFC 7162) when advertised: imapflow ENABLEs it, and then HIGHESTMODSEQ,
        # per-message MODSEQ and FETCH CHANGEDSINCE must be right. Without it, no MODSEQ at all.
        if "ENABLE" in caps:
            for extension in ("CONDSTORE", "QRESYNC"):
                if extension in caps:
                    self.assertIn(extension, result["enabled"])
        if "CONDSTORE" in result["enabled"]:
            self.assertIsNotNone(result["inboxOpened"]["highestModseq"])
            self.assertTrue(all(m["modseq"] for m in messages))
            self.assertEqual(result["changedSince"], [first, second])
        if "CONDSTORE" not in caps:
            self.assertIsNone(result["inboxOpened"]["highestModseq"])
            self.assertNotIn("changedSince", result)

        # UID MOVE with COPYUID: the last message is in Work under the reported UID.
        move = result["move"]
        self.assertEqual(move["source"], uids[-1])
        self.assertEqual(len(move["uidMap"]), 1)
        source_uid, dest_uid = move["uidMap"][0]
        self.assertEqual(source_uid, uids[-1])
        commands = result["commands"]
        self.assertTrue([c for c in commands if c.startswith("UID MOVE")], commands)
        work = {w["uid"]: w for w in result["work"]}
        self.assertEqual(set(work), {result["append"]["uid"], dest_uid})
        moved_ref = self.by_id[messages[-1]["envelope"]["messageId"]]
        self.assertEqual(base64.b64decode(work[dest_uid]["source"]), moved_ref.data)
        note = work[result["append"]["uid"]]
        self.assertEqual(note["messageId"], NOTE_ID)
        self.assertLessEqual({"\\Seen", "$Label1"}, set(note["flags"]))
        self.assertIn("Grüße aus imapflow".encode(), base64.b64decode(note["source"]))

        # OBJECTID (RFC 8474) when advertised: imapflow reads MAILBOXID from SELECT and asks for
        # EMAILID (always) and THREADID (asked for here); the moved message keeps its EMAILID.
        object_id = r"^[A-Za-z0-9_-]{1,255}$"
        if "OBJECTID" in caps:
            self.assertRegex(result["inboxOpened"]["mailboxId"] or "", object_id)
            emails = [m["emailId"] for m in messages]
            self.assertEqual(len(set(emails)), len(messages))
            for m in messages:
                self.assertRegex(m["emailId"] or "", object_id)
                self.assertRegex(m["threadId"] or "", object_id)
            self.assertEqual(work[dest_uid]["emailId"], messages[-1]["emailId"])
        else:
            self.assertIsNone(result["inboxOpened"]["mailboxId"])
            self.assertTrue(all(m["emailId"] is None for m in messages))

        # IDLE (not NOOP polling) heard the new message, which arrived byte for byte.
        idle = result["idle"]
        self.assertGreaterEqual(idle["idleCommands"], 1, commands)
        self.assertIn("IDLE", commands)
        self.assertEqual(idle["announced"]["count"], len(self.ref))
        self.assertEqual(idle["fetched"]["messageId"], late.message_id)
        self.assertEqual(base64.b64decode(idle["fetched"]["source"]), late.data)

        # Another session's APPEND and expunge reached the idling session as EXISTS and EXPUNGE.
        other = result["otherSession"]
        count = other["before"]
        self.assertIsInstance(other["appendedUid"], int)
        self.assertEqual(other["deletedUid"], other["appendedUid"])
        self.assertIn({"type": "exists", "count": count + 1}, other["events"])
        expunges = [e for e in other["events"] if e["type"] == "expunge"]
        self.assertEqual(len(expunges), 1, other["events"])
        if expunges[0]["seq"] is not None:
            self.assertEqual(expunges[0]["seq"], count + 1)  # the appended, last message
        remaining = {m["messageId"] for m in other["remaining"]}
        self.assertEqual(len(other["remaining"]), count)
        self.assertNotIn(other["appendedUid"], [m["uid"] for m in other["remaining"]])
        self.assertEqual(remaining, (set(self.by_id) - {moved_ref.message_id}) | {late.message_id})
        return first, second, uids[-1], dest_uid

    def check_compressed(self, pb):
        """popbridge's log shows imapflow's two sessions ran compressed inside TLS, and that the
        DEFLATE stream carried the message sources (more than a MB of output) in fewer bytes."""
        deadline = time.monotonic() + 10  # the totals are logged once the server sees the close
        while True:
            with open(pb.log_file, encoding="utf-8", errors="replace") as f:
                log = f.read()
            if log.count("DEFLATE totals") >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(log.count("COMPRESS DEFLATE active (inside TLS)"), 2, pb.logs())
        totals = [tuple(map(int, m)) for m in re.findall(
            r"DEFLATE totals: sent (\d+) bytes as (\d+), received (\d+) bytes as (\d+)", log)]
        biggest = max(totals, default=None)
        self.assertIsNotNone(biggest, pb.logs())
        sent, sent_wire, received, received_wire = biggest
        self.assertGreater(sent, sum(len(r.data) for r in self.ref))
        self.assertLess(sent_wire, sent)
        self.assertGreater(received, 0)

    def check_with_imaplib(self, conn, result, uids):
        """What imapflow did is what another client sees."""
        first, second, moved, dest_uid = uids
        conn.select("INBOX", readonly=True)
        flags = imap.uid_flags(conn)
        self.assertNotIn(moved, flags)
        self.assertIn("\\Flagged", flags[first])
        self.assertIn("$Important", flags[first])
        self.assertNotIn("\\Seen", flags[first])
        self.assertLessEqual({"\\Seen", "\\Answered"}, flags[second])
        typ, data = conn.select("Work", readonly=True)
        self.assertEqual(typ, "OK")
        self.assertEqual(conn.untagged_responses["UIDVALIDITY"][0].decode(),
                         result["append"]["uidValidity"])
        self.assertEqual(sorted(m.uid for m in imap.fetch_all(conn)),
                         sorted([result["append"]["uid"], dest_uid]))

    def test_imapflow_over_implicit_tls(self):
        pb = self.popbridge()
        result, late = self.run_session(pb.imaps_port, "implicit", IMAP_USER, IMAP_PASSWORD,
                                        self.dovecot)
        uids = self.check(result, late)
        self.check_compressed(pb)
        self.check_with_imaplib(self.imap_login(pb), result, uids)

    def test_imapflow_over_starttls(self):
        pb = self.popbridge()
        result, late = self.run_session(pb.imap_port, "starttls", IMAP_USER, IMAP_PASSWORD,
                                        self.dovecot)
        self.assertIn("STARTTLS", result["commands"])
        self.check(result, late)
        self.check_compressed(pb)

    def test_reference_run_against_dovecot_imap(self):
        # Dovecot's IMAP serves the same maildrop popbridge would pull; it advertises CONDSTORE
        # and QRESYNC, so this run takes the script's CONDSTORE branch.
        reference = dovecot.Dovecot(os.path.join(self.dir, "dovecot-imap"), self.certs, imap=True)
        reference.add_user(POP_USER, POP_PASSWORD)
        reference.start()
        self.addCleanup(reference.stop)
        reference.deliver_all(POP_USER, self.ref)
        result, late = self.run_session(reference.imap_port, "starttls", POP_USER, POP_PASSWORD,
                                        reference)
        self.assertIn("CONDSTORE", result["enabled"])
        self.assertIn("changedSince", result)
        self.check(result, late)


if __name__ == "__main__":
    unittest.main()
