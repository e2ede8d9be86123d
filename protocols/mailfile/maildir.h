#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/mailfile/mail_flags.h"

namespace popbridge::mailfile {

// What a Maildir file name says (https://cr.yp.to/proto/maildir.html, "info" semantics):
// "<unique>:2,<flags>" where the flags are ASCII letters in ascending order.
struct MaildirName {
  std::string_view unique;      // the part before ":2," (the whole name without info)
  std::uint32_t system = 0;     // MailFlag bits: R \Answered, S \Seen, T \Deleted, D \Draft,
                                // F \Flagged; P (passed) has no IMAP flag
  std::string keyword_letters;  // lower-case letters 'a'..'z' in the name (Dovecot keywords)
};

// Parses a file name of cur/ or new/. A name without ":2," has no flags. Pure; any thread.
MaildirName parseMaildirName(std::string_view name);

// ":2," followed by the flag letters of `system` and the given keyword letters, all in ASCII
// order as the Maildir spec asks ("DFRST" then "a".."z"). Pure.
std::string maildirInfo(std::uint32_t system, std::string_view keyword_letters);

// The name export gives a message: "<internaldate>.<uid>_<uidvalidity>.popbridge" + info.
// Unique within a Maildir as long as (uid, uidvalidity) is. Pure.
std::string exportFileName(std::int64_t internaldate, std::uint32_t uid, std::uint32_t uidvalidity,
                           std::uint32_t system, std::string_view keyword_letters);

// Orders Maildir file names so that digit runs compare as numbers ("9.x" < "10.x",
// "5.2_1" < "5.10_1"): delivery order for the usual "<seconds>.<unique>" names. Pure.
bool maildirNameLess(std::string_view a, std::string_view b);

struct FolderNameError {
  std::string message;
};

// Maildir++ folder directory name -> mailbox name with '/' as the hierarchy separator:
// ".Sent" -> "Sent", ".A.B" -> "A/B". Names are kept byte for byte (Dovecot stores them in
// modified UTF-7, as IMAP clients send them). An error for a name without the leading '.',
// with an empty level (".", "..", ".A..B", ".A.") or with a '/'. Pure.
Result<std::string, FolderNameError> folderToMailbox(std::string_view directory);

// Mailbox name -> Maildir++ folder directory name: "A/B" -> ".A.B"; INBOX is the Maildir root,
// so it gives "". A '.' inside a level cannot be written (it is Maildir++'s separator): an
// error naming the mailbox, as is a level starting with '.' or containing '/' otherwise. Pure.
Result<std::string, FolderNameError> mailboxToFolder(std::string_view mailbox);

// Dovecot's per-folder "dovecot-keywords" file: lines "<index> <keyword>", index 0 is the
// letter 'a' in file names, up to 25 ('z').
using KeywordLetters = std::array<std::optional<std::string>, 26>;

// Reads the file's text; malformed lines and indexes outside 0..25 are skipped. Pure.
KeywordLetters parseDovecotKeywords(std::string_view text);
// Writes the file's text for the letters that are set. Pure.
std::string formatDovecotKeywords(const KeywordLetters& letters);

// Rewrites line ends to CRLF as a stream: a bare LF becomes CRLF, CRLF stays, a CR not
// followed by LF stays. Feed chunks of any size; output goes to the caller's string. For
// Maildir files, which MDAs and Dovecot write with LF, while IMAP needs CRLF (RFC 9051 2.2).
class CrlfWriter {
 public:
  void feed(std::string_view bytes, std::string& out);

 private:
  bool last_was_cr_ = false;
};

}  // namespace popbridge::mailfile
