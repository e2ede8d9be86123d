#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/message.h"
#include "store/body_reader.h"
#include "store/error.h"
#include "store/file_ops.h"
#include "store/search.h"
#include "store/staged_message.h"
#include "store/types.h"

namespace popbridge::store {

namespace sql {
class Database;
}

struct NewMessage {
  StagedMessage body;
  std::int64_t internaldate;
  int tz_offset_minutes = 0;
  Flags flags;
  std::optional<LedgerKey> pop;  // set when pulled from a POP account: ledger row committed in
                                 // the same transaction
};

enum class FlagOp { Add, Remove, Replace };

// COPY keeps the source messages; MOVE removes them in the same transaction (RFC 6851).
enum class TransferMode { Copy, Move };

// What a COPY or MOVE committed. source_uids[i] became destination.appended[i].uid (for
// UIDPLUS COPYUID, RFC 4315 3). source.expunged lists the moved uids (empty for Copy).
struct TransferResult {
  std::vector<std::uint32_t> source_uids;  // ascending
  ChangeSet destination;
  ChangeSet source;
};

// What a conditional flag change committed: `changes` as storeFlags() returns it, and the
// uids left alone because they had changed since the given modseq (ascending).
struct ConditionalStore {
  ChangeSet changes;
  std::vector<std::uint32_t> modified;
};

// One user's folder store: data_dir/users/<user>/ with meta.sqlite and blobs/. Obtain it from
// Store::user(). Every method is synchronous and thread-safe: writes are serialised on one
// connection, reads use a pool of connections and see a committed snapshot (SQLite WAL), so a
// reader never observes half of a write. No method calls back.
//
// A UserStore holds an exclusive flock on the user directory for its life: one process at a time.
class UserStore {
 public:
  // Opens (creating if needed) the user directory at `dir`, migrates the schema, creates INBOX
  // if absent and removes leftovers in tmp/ (and, if the last process to open it was killed,
  // blob files no message references). Io if another process has it open. A new user (and
  // a store migrated to schema version 4) gets the default mailboxes Archive, Drafts, Junk, Sent
  // and Trash with their special-use attributes (RFC 6154), subscribed like INBOX; an existing
  // mailbox of such a name is kept and given the attribute.
  static Result<std::shared_ptr<UserStore>> open(const std::filesystem::path& dir);
  ~UserStore();
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;

  // ---- Mailboxes
  // Every mailbox, ordered by name.
  Result<std::vector<MailboxInfo>> listMailboxes();
  // NotFound if absent, InvalidName if the name is not valid; "inbox" finds INBOX.
  Result<MailboxInfo> mailbox(std::string_view name);
  // The same errors as mailbox(), but reads only the mailbox's row (mailbox() also counts its
  // messages): for a check that it exists.
  Result<void> requireMailbox(std::string_view name);
  // NotFound if no mailbox has this id.
  Result<MailboxInfo> mailboxById(std::int64_t mailbox_id);
  // Creates an empty mailbox with a fresh UIDVALIDITY, larger than any this user had before,
  // carrying the SpecialUse bits `special_use` (RFC 6154 5). Superior levels are not created.
  // AlreadyExists / InvalidName (also for bits outside kSupportedSpecialUse).
  Result<MailboxInfo> createMailbox(std::string_view name, std::uint32_t special_use = 0);
  // Renames a mailbox and its inferiors ("a" -> "b" also turns "a/x" into "b/x"), keeping ids,
  // UIDVALIDITY and UIDs. Renaming INBOX moves its messages into a new mailbox `to` and leaves
  // INBOX empty and its inferiors alone (RFC 9051 6.3.6). AlreadyExists if a target name is
  // taken, NotFound if `from` is absent, InvalidName for bad names or a rename into itself.
  Result<MailboxInfo> renameMailbox(std::string_view from, std::string_view to);
  // Deletes a mailbox and its messages (blobs removed when unreferenced). Inferior mailboxes are
  // left alone. InvalidName for INBOX, NotFound if absent. POP ledger rows keep their uidl
  // (with uid 0 and mailbox "") so the pull never downloads those messages again.
  // Subscriptions are by name and stay (RFC 9051 6.3.4).
  Result<void> deleteMailbox(std::string_view name);

  // ---- Subscriptions (RFC 3501 6.3.6-6.3.7): names, which need not name an existing mailbox.
  // RENAME and DELETE leave them alone (RFC 9051 6.3.4, 6.3.6).
  // Adds the canonical `name` to the subscriptions (no-op if already there). InvalidName.
  Result<void> subscribe(std::string_view name);
  // Removes `name` (no-op if it was not subscribed, as in Dovecot). InvalidName.
  Result<void> unsubscribe(std::string_view name);
  // Every subscribed name, ordered.
  Result<std::vector<std::string>> subscriptions();

  // ---- Messages
  // A new, empty body in tmp/. Io on failure.
  Result<StagedMessage> stageMessage();
  // Durable on return: every body written and renamed into blobs/ and made durable (a single
  // body by fsync of it and of its directory; a batch by one syncfs(2) of the store's file
  // system, which is far cheaper than an fsync per file and directory), then one SQLite
  // transaction (synchronous=FULL) inserts the rows and the ledger rows of
  // messages with `pop`. UIDs are assigned in batch order. Each new body joins the thread
  // (MessageObjectIds::thread_id) of the first earlier message that its References (root
  // first), In-Reply-To or own Message-ID names, or starts its own; threads never merge later.
  // Creates nothing: NotFound if the mailbox is absent. OverQuota if the batch would take the user
  // past `limits` (checked in the write transaction, so concurrent writers cannot both slip under
  // it). On any error nothing is committed and the bodies are removed.
  Result<ChangeSet> append(std::string_view mailbox, std::vector<NewMessage> batch,
                           const QuotaLimits& limits = {});
  // Every message of the mailbox, ascending uid. NotFound if the mailbox does not exist.
  Result<std::vector<MessageInfo>> listMessages(std::int64_t mailbox_id);
  // Changes flags of the given uids (absent uids are skipped). Messages whose flags change get a
  // new modseq (one per call, RFC 7162 3.1) and appear in flag_changes; unchanged ones do not and
  // the mailbox's HIGHESTMODSEQ only moves if something changed. InvalidName for a bad keyword.
  Result<ChangeSet> storeFlags(std::int64_t mailbox_id, std::span<const std::uint32_t> uids,
                               FlagOp op, const Flags& flags);
  // The conditional form (RFC 7162 3.1.3 UNCHANGEDSINCE): in the same write transaction, a
  // message whose modseq is greater than `unchanged_since` is left alone and listed in
  // `modified`; the others are changed as by storeFlags().
  Result<ConditionalStore> storeFlagsIf(std::int64_t mailbox_id,
                                        std::span<const std::uint32_t> uids, FlagOp op,
                                        const Flags& flags, std::uint64_t unchanged_since);
  // Removes the given uids if they carry \Deleted (all \Deleted when uids is nullopt). Removed
  // uids are remembered with the new modseq (see expungedSince). Blob removed when unreferenced.
  Result<ChangeSet> expunge(std::int64_t mailbox_id,
                            std::optional<std::vector<std::uint32_t>> uids);
  // Copies or moves the given uids (absent ones skipped) into `destination`, preserving flags
  // and INTERNALDATE (RFC 9051 6.4.7). Bodies are shared, not rewritten, so this is one SQLite
  // transaction. A moved message's POP ledger row follows it. NotFound if either mailbox is
  // absent. OverQuota (nothing changed) if a copy would take the user past `limits`; a move
  // never changes the usage.
  Result<TransferResult> transfer(std::int64_t source_mailbox_id,
                                  std::span<const std::uint32_t> uids, std::string_view destination,
                                  TransferMode mode, const QuotaLimits& limits = {});
  // UIDs expunged with a modseq greater than `modseq`, ascending (for QRESYNC VANISHED,
  // RFC 7162 3.2.5.1). NotFound if the mailbox does not exist.
  Result<std::vector<std::uint32_t>> expungedSince(std::int64_t mailbox_id, std::uint64_t modseq);
  // UIDs of the mailbox's messages that match `query`, ascending (RFC 3501 6.4.4 semantics, see
  // store/search.h). Flags, keywords, sizes, INTERNALDATE and UID ranges are narrowed in SQL;
  // TEXT and BODY come from the full-text index (one query per key, same read snapshot); HEADER
  // and SENT* keys read the header of the remaining candidates' blobs. A message expunged while
  // its blob is read simply does not match.
  // NotFound if the mailbox does not exist, Internal if `query` is not a well-formed tree.
  Result<std::vector<std::uint32_t>> search(std::int64_t mailbox_id, const SearchQuery& query);
  // The same, with each match's modseq (for SEARCH's (MODSEQ n), RFC 7162 3.1.5).
  Result<std::vector<SearchHit>> searchHits(std::int64_t mailbox_id, const SearchQuery& query);
  // Deferred full-text indexing: append() stores a body without tokenizing it and lists it as
  // pending; this indexes up to `max_docs` pending bodies (fewer once one transaction holds
  // 256 KiB of decoded text) in one short write transaction and returns how many it took off
  // the list (0: nothing pending). Search is exact before and after: a body without a document is
  // read from its blob. Before that it removes the documents of bodies expunged since (queued
  // by expunge and mailbox DELETE, which only list them), and in the room left it adds
  // documents from before schema version 7 to the word index (from their stored text), counting
  // both in the same total.
  // The daemon calls it on the user's write queue whenever the queue is idle.
  Result<std::size_t> indexPending(std::size_t max_docs);
  // An open reader on the message's body. NotFound if no such message; Corrupt if its blob is
  // missing.
  Result<BodyReader> openBody(std::int64_t mailbox_id, std::uint32_t uid);
  // The message's MIME structure (ENVELOPE, BODYSTRUCTURE, part byte ranges), parsed once at
  // ingest. NotFound if no such message; Corrupt if the stored structure cannot be read.
  Result<mime::Message> mimeStructure(std::int64_t mailbox_id, std::uint32_t uid);
  // mimeStructure for each of `uids`, in one read transaction with one statement (FETCH of
  // ENVELOPE or BODYSTRUCTURE over many messages). Element i answers uids[i]: NotFound if the
  // mailbox has no such uid, Corrupt if its stored structure cannot be read. The whole call fails
  // only when the database cannot be read.
  Result<std::vector<Result<mime::Message>>> mimeStructures(std::int64_t mailbox_id,
                                                            std::span<const std::uint32_t> uids);
  // FETCH BINARY (RFC 3516): the decoded size of `part` ("1.2"; "" for the whole message) of
  // the message, as recorded by recordDecodedSize() with the same `decoder` version; nullopt if
  // none was (or there is no such message). One indexed read. Any thread.
  Result<std::optional<DecodedSize>> decodedSize(std::int64_t mailbox_id, std::uint32_t uid,
                                                 std::string_view part, std::int64_t decoder);
  // Records that size for the message's body (every copy shares it; bodies never change). A
  // cache, so the commit is not fsynced (lost in a power failure, it is counted again), and it
  // never waits for another write: false when a write was under way and nothing was recorded,
  // true otherwise (also when the message is gone and there was nothing to record). Rows go
  // when their blob does. Any thread.
  Result<bool> recordDecodedSize(std::int64_t mailbox_id, std::uint32_t uid, std::string_view part,
                                 std::int64_t decoder, DecodedSize size);
  // The RFC 8474 EMAILID and THREADID of a message. NotFound if the mailbox has no such uid.
  Result<MessageObjectIds> objectIds(std::int64_t mailbox_id, std::uint32_t uid);
  // objectIds for each of `uids`, in one read transaction with one statement (FETCH EMAILID or
  // THREADID over many messages). Element i answers uids[i]: NotFound if the mailbox has no such
  // uid. The whole call fails only when the database cannot be read.
  Result<std::vector<Result<MessageObjectIds>>> objectIdsOf(std::int64_t mailbox_id,
                                                            std::span<const std::uint32_t> uids);
  // For SORT and THREAD: the header block of each message of `uids` (ascending) that the
  // mailbox holds, in ascending UID order, read from its blob (References is not part of the
  // stored envelope, so the header is read anyway). A message whose blob cannot be read (an
  // expunge raced with this) is left out. NotFound if the mailbox is gone.
  Result<std::vector<MessageHeader>> messageHeaders(std::int64_t mailbox_id,
                                                    std::span<const std::uint32_t> uids);

  // ---- POP ledger (per account name)
  // Every ledger row of the account, ordered by first_seen then uidl.
  Result<std::vector<LedgerEntry>> ledger(std::string_view account);
  // Every ledger row of the account, in no particular order (no sort of the whole ledger).
  // Reads only; any thread.
  Result<std::vector<LedgerEntry>> ledgerRows(std::string_view account);
  // Removes the rows of `uidls` that are not Stored (Deleted or DeletePending), in one
  // transaction: rows whose message the server no longer lists. A row that became Stored
  // since the caller read it stays. Missing uidls are no error.
  Result<void> forgetLedgerRows(std::string_view account, std::span<const std::string> uidls);
  // Sets the state of existing rows in one transaction. NotFound (and nothing changed) if a
  // uidl has no row.
  Result<void> setLedgerState(std::string_view account, std::span<const std::string> uidls,
                              LedgerState state);
  // The start of a pull, in one call: `listed_uidls` is the server's current listing. Rows
  // that are Deleted or DeletePending and whose uidl the server no longer lists are removed (a
  // DELE whose QUIT +OK arrived but was never recorded, or mail the server expired: the message
  // is in the store and off the server either way); the account's other rows are returned, in
  // no particular order. Reads only, without taking the write lock, when nothing is to go.
  Result<std::vector<LedgerEntry>> reconcileLedger(std::string_view account,
                                                   std::span<const std::string> listed_uidls);

  // ---- Quota (RFC 9208)
  // The user's usage as committed: kept by the schema's triggers in the transaction of every
  // write that adds or removes a message row (append, copy, move, expunge, mailbox delete,
  // renaming INBOX, import), so it is exact at every commit.
  Result<QuotaUsage> quotaUsage();

  // ---- Maintenance
  // Verifies every row's blob exists with the right size, runs SQLite's quick_check, compares
  // the kept quota usage with a recount (a difference is a problem) and lists blob files no row
  // references. Deletes nothing.
  Result<IntegrityReport> check();

  // The user directory.
  const std::filesystem::path& directory() const { return dir_; }

 private:
  class ReaderLease;
  explicit UserStore(std::filesystem::path dir);

  Result<void> initialize();
  Result<ReaderLease> reader();
  // storeFlags() and storeFlagsIf(): `modified` is set when unchanged_since is.
  Result<ChangeSet> changeFlags(std::int64_t mailbox_id, std::span<const std::uint32_t> uids,
                                FlagOp op, const Flags& flags,
                                std::optional<std::uint64_t> unchanged_since,
                                std::vector<std::uint32_t>* modified);
  void releaseReader(std::unique_ptr<sql::Database> db);
  // ledger() and reconcileLedger(): the account's rows, sorted as ledger() documents if `order`.
  enum class LedgerOrder { FirstSeen, Any };
  Result<std::vector<LedgerEntry>> readLedger(std::string_view account, LedgerOrder order);
  // append() of a batch: one syncfs(2) through lock_fd_, under sync_mutex_; Io if it fails or a
  // write-back error was seen since any body of `batch` was staged.
  Result<void> syncBatch(const std::vector<NewMessage>& batch);
  std::filesystem::path blobPath(std::string_view blob_id) const;
  // Inside the caller's write transaction: of `blob_ids`, returns those no message references
  // any more, after deleting their structure and thread rows (best effort: a row left behind
  // is a few bytes, never wrong). Caller holds write_mutex_.
  std::vector<std::string> forgetUnreferencedBlobs(const std::vector<std::string>& blob_ids);
  // After that transaction committed: unlinks those blob files. No directory fsync: an unlink
  // lost in a crash only leaves an orphan, which the next open removes.
  void unlinkBlobs(const std::vector<std::string>& blob_ids);
  // Recovery after a crash, from initialize(): unlinks blob files no message references (bodies
  // an append renamed into blobs/ but never committed, bodies an expunge or DELETE committed away
  // before unlinking them) and the structure rows of such blobs. Only names of the blob form in
  // their own fan-out directory are touched; anything else stays for check() to report.
  Result<void> removeCrashOrphans();
  // Full-text index maintenance (store/search_text.h), inside the caller's write transaction
  // with write_mutex_ held. indexBody reads the blob and adds its document unless the blob has
  // one or its text is too large, returning the bytes of text it indexed; forgetSearchText
  // drops the pending entries of blobs no message references any more and lists their
  // documents in search_forget; removeForgottenDocuments (from indexPending) takes up to
  // `max_docs` listed documents out of the index, adding their text's size to `bytes` and
  // stopping once it reaches the per-transaction budget; returns how many it removed.
  Result<std::size_t> indexBody(const std::string& blob_id, const mime::Message& structure);
  Result<void> forgetSearchText(const std::vector<std::string>& blob_ids);
  Result<std::size_t> removeForgottenDocuments(std::size_t max_docs, std::size_t& bytes);
  // Schema version 6 step, inside the migration's transaction: gives every body without one its
  // THREADID, oldest INTERNALDATE first, reading each header from its blob.
  Result<void> threadExistingBodies();
  // The body of transfer() and of renaming INBOX: runs inside the caller's write transaction
  // with write_mutex_ held. `uids` is sorted and unique; nullopt means every message.
  Result<TransferResult> transferLocked(std::int64_t source_id,
                                        const std::optional<std::vector<std::uint32_t>>& uids,
                                        const std::string& destination, TransferMode mode);

  std::filesystem::path dir_;
  UniqueFd lock_fd_;  // also the descriptor batches are synced through (syncfs(2))
  // The lock file is one byte long while a process has the store and emptied by the destructor,
  // so the next open() knows whether the last holder crashed. True once this one marked it.
  bool marked_open_ = false;

  // syncfs(2) reports a write-back error once per descriptor: appends sync one at a time and
  // count the errors seen, so a batch staged before an error another append saw fails too.
  std::mutex sync_mutex_;
  std::atomic<std::uint64_t> sync_errors_{0};

  std::mutex write_mutex_;  // guards writer_ and every write transaction
  std::unique_ptr<sql::Database> writer_;

  std::mutex readers_mutex_;  // guards idle_readers_
  std::vector<std::unique_ptr<sql::Database>> idle_readers_;
};

}  // namespace popbridge::store
