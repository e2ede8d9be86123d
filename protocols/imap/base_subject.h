#pragma once

#include <string>
#include <string_view>

namespace popbridge::imap {

// The base subject of RFC 5256 2.1, the key of SORT SUBJECT and of both THREAD algorithms.
struct BaseSubject {
  std::string text;               // UTF-8, casemapped (i;unicode-casemap)
  bool reply_or_forward = false;  // a "Re:", "Fw:", "Fwd:", "(fwd)" or "[fwd: ...]" was removed
};

// Extracts the base subject from a Subject header value as sent (folded or not): RFC 2047
// encoded-words are decoded (mime::decodeEncodedWords), tabs, CR and LF become spaces and runs of
// spaces one space (step 1), then trailing "(fwd)" and spaces (step 2), leading subj-leader
// (blobs followed by Re/Fw/Fwd, and a leading space; step 3) and a leading blob that does not
// leave the subject empty (step 4) are removed until none is left (step 5), and a
// "[fwd: ... ]" wrapper is unwrapped, starting over from step 2 (step 6).
//
// Case folding is i;unicode-casemap (RFC 5051, mime::casemapped), whose titlecase form compares
// as octets, as Dovecot's does. Nothing here recurses and
// the work is linear in the subject's length for each removal. Pure; any thread.
BaseSubject baseSubject(std::string_view subject);

}  // namespace popbridge::imap
