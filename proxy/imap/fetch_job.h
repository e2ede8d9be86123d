#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/imap/fetch_att.h"
#include "protocols/mime/decode.h"
#include "protocols/mime/message.h"
#include "protocols/mime/section.h"
#include "store/user_store.h"

namespace popbridge::proxy::imap {

// The response of one FETCH command, produced in bounded rounds on worker threads so that a
// large body streams from its blob as the connection drains (STYLE.md 5.5): no round holds
// more than its budget plus one response prefix. Used by one thread at a time.
class FetchJob {
 public:
  struct Target {
    std::uint32_t seq;
    store::MessageInfo info;
  };

  // `atts` in response order; the caller adds UID (UID FETCH) and FLAGS (\Seen set) first.
  FetchJob(std::shared_ptr<store::UserStore> store, std::int64_t mailbox_id,
           std::vector<Target> targets, std::vector<popbridge::imap::FetchAtt> atts);

  // nullopt when every attribute can be answered now; otherwise why not (for NO [CANNOT]).
  static std::optional<std::string> unsupported(const std::vector<popbridge::imap::FetchAtt>& atts);
  // Whether any attribute implicitly sets \Seen (RFC 3501 6.4.5: BODY[...] without PEEK,
  // RFC822, RFC822.TEXT).
  static bool setsSeen(const std::vector<popbridge::imap::FetchAtt>& atts);

  // Appends the next part of the response to `out`, stopping once about `budget` bytes were
  // added. Returns true when the whole response has been produced. Worker thread.
  bool produce(std::string& out, std::size_t budget);

  // A message vanished from the store before its body could be read: it was skipped.
  bool expungeIssued() const { return expunge_issued_; }
  // A message was skipped because a BINARY item names a part whose Content-Transfer-Encoding
  // popbridge cannot decode (RFC 3516 4.3: NO [UNKNOWN-CTE]).
  bool unknownCte() const { return unknown_cte_; }
  // A store failure ended the job early.
  const std::optional<store::Error>& error() const { return error_; }

 private:
  bool startMessage(std::string& out);
  bool appendItem(std::string& out, const popbridge::imap::FetchAtt& att);
  void streamLiteral(std::string& out, std::size_t budget);
  bool appendBinary(std::string& out, const popbridge::imap::FetchAtt& att);
  void streamDecoded(std::string& out, std::size_t limit);
  // A piece of a BINARY section's data: [begin, end) of the body with `encoding` undone, or
  // `text` (a rewritten part header) when set.
  struct BinarySegment {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    mime::TransferEncoding encoding = mime::TransferEncoding::Identity;
    std::optional<std::string> text;
  };
  // Whether a BINARY item of the current message names a part with an unknown encoding, or a
  // composite section holding one.
  bool hasUnknownCte() const;
  // Fills segments_ for [begin, end) of a BINARY section: one segment undoing `encoding` for a
  // leaf; for a composite section (`range`, the whole message or a multipart or message/rfc822
  // part) the stored bytes with each quoted-printable or base64 leaf inside decoded and its
  // header rewritten. `converted` tells whether such a leaf was found. False (and error_ set)
  // on a store failure.
  bool binarySegments(bool composite, mime::TransferEncoding encoding, mime::ByteRange range,
                      std::uint64_t begin, std::uint64_t end, bool& converted);
  // Sets up the stream of segments_[index] (its decoder, range or text, skip_ applied to text).
  void startSegment(std::size_t index);
  // Per-message store data read ahead for targets_[base ..], one store call per batch instead
  // of one per message.
  template <typename T>
  struct ReadAhead {
    std::vector<store::Result<T>> items;
    std::size_t base = 0;
  };
  // How many structures or object ids one store call reads ahead.
  std::size_t readAhead() const;
  // The entry of targets_[index_] in `batch`, refilled by `read` (a UserStore batch read taking
  // the mailbox id and uids) when index_ is outside it.
  template <typename T, typename Read>
  store::Result<T> take(ReadAhead<T>& batch, Read read);
  // Reads [begin, end) of the current body; nullopt (and error_ set) on a store failure.
  std::optional<std::string> readRange(std::uint64_t begin, std::uint64_t end);
  // The same into `raw` (its capacity reused); false (and error_ set) on a store failure.
  bool readRange(std::uint64_t begin, std::uint64_t end, std::string& raw);
  // FETCH BINARY's counting pass: decodes [begin, end) of the current body and returns its
  // decoded size and whether it has a NUL; nullopt (and error_ set) on a store failure.
  std::optional<store::DecodedSize> countDecoded(mime::TransferEncoding encoding,
                                                 std::uint64_t begin, std::uint64_t end);

  std::shared_ptr<store::UserStore> store_;
  std::int64_t mailbox_id_;
  std::vector<Target> targets_;
  std::vector<popbridge::imap::FetchAtt> atts_;
  bool needs_body_ = false;
  bool needs_structure_ = false;
  bool needs_object_ids_ = false;
  std::optional<mime::Message> structure_;  // of the current message
  ReadAhead<mime::Message> structures_;
  std::optional<store::MessageObjectIds> object_ids_;  // of the current message
  ReadAhead<store::MessageObjectIds> object_ids_ahead_;

  std::size_t index_ = 0;  // current target
  std::size_t item_ = 0;   // next attribute of the current target
  bool in_message_ = false;
  std::optional<store::BodyReader> body_;
  std::uint64_t literal_offset_ = 0;
  std::uint64_t literal_remaining_ = 0;
  bool expunge_issued_ = false;
  bool unknown_cte_ = false;
  // A BINARY literal being decoded: [literal_offset_, raw_end_) of the blob is still to be read
  // and decoded; the first `skip_` decoded bytes (before the partial origin) are dropped, and
  // decoded_[decoded_pos_..] waits to be sent.
  std::optional<mime::TransferDecoder> decoder_;
  std::uint64_t raw_end_ = 0;
  std::uint64_t skip_ = 0;
  bool decoder_finished_ = false;
  std::string decoded_;
  std::size_t decoded_pos_ = 0;
  std::string raw_;                      // the encoded chunk being decoded
  std::vector<BinarySegment> segments_;  // of the BINARY literal being sent
  std::size_t segment_ = 0;              // the one being sent
  std::optional<store::Error> error_;
};

}  // namespace popbridge::proxy::imap
