// One mail client session of imapflow (https://imapflow.com) against an IMAP server, driven by
// tests/integration/test_client_imapflow.py. It does what a mail app does and reports what it
// saw; the Python test checks the report against what the POP server served.
//
//   node imapflow_session.mjs CONFIG_JSON
//
// CONFIG_JSON: {host, port, tls: "implicit"|"starttls", ca: PEM file, user, pass}. The session
// verifies the server certificate against `ca` (the harness' own CA; nothing is disabled).
//
// stdout carries JSON lines: {"event": "idling"} once IDLE is running (the driver then has new
// mail pulled into INBOX; later a second session appends and deletes while it idles again),
// then {"event": "result", ...} with everything observed, or
// {"event": "error", ...}. CONDSTORE and QRESYNC are used when the server advertises them and
// checked then; without them imapflow falls back to plain IMAP4rev1, which is fine.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';

const config = JSON.parse(process.argv[2]);
const IDLE_TIMEOUT_MS = 60_000;

function emit(event, data = {}) {
    process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}

// imapflow logs every command it sends as a debug record with src "c"; keep them so the test
// can tell which IMAP commands the library chose (IDLE, UID MOVE, ...).
const sent = [];
const logger = {
    debug: entry => {
        if (entry && entry.src === 'c' && typeof entry.msg === 'string') {
            sent.push(entry.msg);
        }
    },
    trace: () => {},
    info: () => {},
    warn: () => {},
    error: entry => process.stderr.write(`imapflow error: ${JSON.stringify(entry)}\n`)
};

function clientFor(cfg) {
    return new ImapFlow({
        host: cfg.host,
        port: cfg.port,
        secure: cfg.tls === 'implicit',
        doSTARTTLS: cfg.tls === 'starttls',
        auth: { user: cfg.user, pass: cfg.pass },
        tls: { ca: [fs.readFileSync(cfg.ca)], rejectUnauthorized: true },
        qresync: true,
        logger,
        connectionTimeout: 20_000,
        greetingTimeout: 20_000
    });
}

function commandsLike(pattern) {
    return sent.filter(line => pattern.test(line.replace(/^\S+ /, '')));
}

const NOTE = Buffer.from(
    'From: App <app@example.net>\r\nTo: alice@example.org\r\nSubject: saved by imapflow\r\n' +
        'Message-ID: <imapflow-append@popbridge.test>\r\nDate: Mon, 04 Mar 2024 08:00:00 +0000\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe aus imapflow\r\n',
    'utf8'
);

const OTHER = Buffer.from(
    'From: Other <other@example.net>\r\nTo: alice@example.org\r\nSubject: from another session\r\n' +
        'Message-ID: <imapflow-other@popbridge.test>\r\n\r\nappended while the first session idled\r\n'
);

async function waitFor(condition, ms, what) {
    const deadline = Date.now() + ms;
    while (!condition()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise(resolve => setTimeout(resolve, 20));
    }
}

async function main() {
    const client = clientFor(config);
    client.on('error', err => process.stderr.write(`imapflow: ${err.stack || err}\n`));
    await client.connect();
    const result = {
        capabilities: [...client.capabilities.keys()].sort(),
        enabled: [...(client.enabled || [])].sort(),
        secure: Boolean(client.secureConnection),
        // imapflow negotiates COMPRESS=DEFLATE (RFC 4978) by itself when it is advertised; its
        // raw deflate stream then exists (a private field, read only to report it).
        compressed: Boolean(client._deflate)
    };
    const condstore = client.enabled.has('CONDSTORE');

    // Mailboxes: list, create, append (APPENDUID with UIDPLUS).
    await client.mailboxCreate('Work');
    result.list = (await client.list()).map(box => ({ path: box.path, delimiter: box.delimiter }));
    const appended = await client.append('Work', NOTE, ['\\Seen', '$Label1'], new Date('2024-03-04T08:00:00Z'));
    result.append = { uid: appended.uid ?? null, uidValidity: appended.uidValidity?.toString() ?? null };

    // INBOX: everything a mail app fetches to show and cache messages.
    let lock = await client.getMailboxLock('INBOX');
    let modseqBefore = null;
    try {
        result.inboxOpened = {
            exists: client.mailbox.exists,
            uidValidity: client.mailbox.uidValidity.toString(),
            uidNext: client.mailbox.uidNext,
            highestModseq: client.mailbox.highestModseq?.toString() ?? null,
            mailboxId: client.mailbox.mailboxId ?? null
        };
        result.messages = [];
        for await (const msg of client.fetch(
            '1:*',
            { uid: true, flags: true, size: true, internalDate: true, envelope: true, bodyStructure: true, source: true, threadId: true },
            {}
        )) {
            result.messages.push({
                seq: msg.seq,
                uid: msg.uid,
                emailId: msg.emailId ?? null,
                threadId: msg.threadId ?? null,
                flags: [...msg.flags].sort(),
                size: msg.size,
                internalDate: msg.internalDate ? new Date(msg.internalDate).toISOString() : null,
                modseq: msg.modseq?.toString() ?? null,
                envelope: {
                    subject: msg.envelope.subject ?? null,
                    messageId: msg.envelope.messageId ?? null,
                    from: (msg.envelope.from || []).map(a => a.address),
                    to: (msg.envelope.to || []).map(a => a.address),
                    date: msg.envelope.date ? new Date(msg.envelope.date).toISOString() : null
                },
                bodyStructure: summarize(msg.bodyStructure),
                source: msg.source.toString('base64')
            });
        }
        assert.equal(result.messages.length, client.mailbox.exists);

        // Downloads as a mail app saves an attachment or a whole message: imapflow asks for
        // BODY.PEEK[part]<offset.64K> chunks until a short one, decodes the transfer encoding.
        result.downloads = [];
        for (const msg of result.messages) {
            const parts = (msg.bodyStructure.parts || []).filter(p => p.part && p.name);
            for (const target of [null, ...parts.map(p => p.part)]) {
                const { meta, content } = await client.download(String(msg.uid), target || undefined, { uid: true });
                const data = await readAll(content);
                result.downloads.push({
                    uid: msg.uid,
                    part: target,
                    contentType: meta.contentType,
                    filename: meta.filename ?? null,
                    size: data.length,
                    sha256: crypto.createHash('sha256').update(data).digest('hex')
                });
            }
        }
        modseqBefore = client.mailbox.highestModseq ?? null;

        // Flags: add and remove, read back by UID.
        const first = result.messages[0].uid;
        const second = result.messages[1].uid;
        await client.messageFlagsAdd(String(first), ['\\Flagged', '$Important'], { uid: true });
        await client.messageFlagsRemove(String(first), ['\\Seen'], { uid: true });
        await client.messageFlagsAdd(String(second), ['\\Seen', '\\Answered'], { uid: true });
        const reread = await client.fetchOne(String(first), { uid: true, flags: true }, { uid: true });
        result.flagsAfter = {
            [first]: [...reread.flags].sort(),
            [second]: [...(await client.fetchOne(String(second), { flags: true }, { uid: true })).flags].sort()
        };
        if (condstore) {
            // CONDSTORE (RFC 7162): the flag changes raised HIGHESTMODSEQ, and CHANGEDSINCE
            // returns exactly the two changed messages.
            const changed = [];
            for await (const msg of client.fetch('1:*', { uid: true, flags: true }, { changedSince: modseqBefore })) {
                changed.push(msg.uid);
            }
            result.changedSince = changed.sort((a, b) => a - b);
        }

        // MOVE (RFC 6851) with UIDPLUS' COPYUID: the last message goes to Work.
        const last = result.messages[result.messages.length - 1].uid;
        const moved = await client.messageMove(String(last), 'Work', { uid: true });
        result.move = {
            source: last,
            destination: moved.destination,
            uidMap: moved.uidMap ? [...moved.uidMap.entries()] : null
        };
    } finally {
        lock.release();
    }

    // The moved message, as seen in Work, and the appended one.
    lock = await client.getMailboxLock('Work');
    try {
        result.work = [];
        for await (const msg of client.fetch('1:*', { uid: true, flags: true, source: true, envelope: true })) {
            result.work.push({
                uid: msg.uid,
                emailId: msg.emailId ?? null,
                flags: [...msg.flags].sort(),
                messageId: msg.envelope.messageId ?? null,
                source: msg.source.toString('base64')
            });
        }
    } finally {
        lock.release();
    }

    // IDLE in INBOX until new mail is announced; the driver makes it arrive once told.
    const opened = await client.mailboxOpen('INBOX');
    const before = opened.exists;
    let announced = null;
    client.on('exists', data => {
        if (data.path === 'INBOX' && data.count > before && announced === null) {
            announced = { count: data.count, prevCount: data.prevCount };
        }
    });
    const idling = client.idle();
    await waitFor(() => client.idling, 10_000, 'IDLE to start');
    emit('idling', { exists: before });
    await waitFor(() => announced !== null, IDLE_TIMEOUT_MS, 'new mail announced during IDLE');
    result.idle = { before, announced, idleCommands: commandsLike(/^IDLE\b/).length };
    // Any command ends IDLE (imapflow sends DONE first); fetch what was announced.
    const fresh = await client.fetchOne('*', { uid: true, source: true, envelope: true });
    await idling;
    result.idle.fetched = {
        uid: fresh.uid,
        messageId: fresh.envelope.messageId ?? null,
        source: fresh.source.toString('base64')
    };

    // Changes another session makes reach the idling one at once (RFC 2177): an APPEND as
    // EXISTS, an expunge as EXPUNGE.
    // (Counted by a FETCH: with QRESYNC imapflow does not lower mailbox.exists on VANISHED.)
    let before2 = 0;
    for await (const msg of client.fetch('1:*', { uid: true })) {
        before2 += msg.uid > 0 ? 1 : 0;
    }
    const events = [];
    client.on('exists', data => events.push({ type: 'exists', count: data.count }));
    client.on('expunge', data => events.push({ type: 'expunge', seq: data.seq ?? null, uid: data.uid ?? null }));
    const idlingAgain = client.idle();
    await waitFor(() => client.idling, 10_000, 'IDLE to start again');
    const other = clientFor(config);
    other.on('error', err => process.stderr.write(`imapflow (other): ${err.stack || err}\n`));
    await other.connect();
    const appendedByOther = await other.append('INBOX', OTHER);
    await waitFor(() => events.some(e => e.type === 'exists'), IDLE_TIMEOUT_MS, 'EXISTS for the other session\'s APPEND');
    const otherLock = await other.getMailboxLock('INBOX');
    const deletedUid = appendedByOther.uid;
    try {
        await other.messageDelete(String(deletedUid), { uid: true });
    } finally {
        otherLock.release();
    }
    await waitFor(() => events.some(e => e.type === 'expunge'), IDLE_TIMEOUT_MS, 'EXPUNGE for the other session\'s delete');
    await other.logout();
    const remaining = [];
    for await (const msg of client.fetch('1:*', { uid: true, envelope: true })) {
        remaining.push({ uid: msg.uid, messageId: msg.envelope.messageId ?? null });
    }
    await idlingAgain;
    result.otherSession = {
        before: before2,
        appendedUid: appendedByOther.uid ?? null,
        deletedUid,
        events,
        remaining
    };

    await client.logout();
    result.commands = sent.map(line => line.replace(/^\S+ /, ''));
    emit('result', result);
}

async function readAll(stream) {
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(chunk);
    }
    return Buffer.concat(chunks);
}

// BODYSTRUCTURE as a small tree: type, and the parts' types in order.
function summarize(node) {
    if (!node) {
        return null;
    }
    const out = { type: node.type, part: node.part ?? null };
    if (node.childNodes) {
        out.parts = node.childNodes.map(summarize);
    }
    const name = node.parameters?.name || node.dispositionParameters?.filename;
    if (name) {
        out.name = name;
    }
    if (node.size !== undefined) {
        out.size = node.size;
    }
    return out;
}

main().catch(err => {
    emit('error', { message: String(err && err.message), stack: String(err && err.stack), commands: sent });
    process.exitCode = 1;
});
