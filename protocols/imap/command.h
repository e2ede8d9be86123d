#pragma once

#include <string>
#include <variant>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/commands/append.h"
#include "protocols/imap/commands/authenticate.h"
#include "protocols/imap/commands/compress.h"
#include "protocols/imap/commands/copy.h"
#include "protocols/imap/commands/create.h"
#include "protocols/imap/commands/enable.h"
#include "protocols/imap/commands/expunge.h"
#include "protocols/imap/commands/fetch.h"
#include "protocols/imap/commands/id.h"
#include "protocols/imap/commands/list.h"
#include "protocols/imap/commands/login.h"
#include "protocols/imap/commands/quota.h"
#include "protocols/imap/commands/rename.h"
#include "protocols/imap/commands/search.h"
#include "protocols/imap/commands/select.h"
#include "protocols/imap/commands/simple.h"
#include "protocols/imap/commands/sort.h"
#include "protocols/imap/commands/status.h"
#include "protocols/imap/commands/store.h"
#include "protocols/imap/commands/thread.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// Which alternative each command name yields:
//   NoArgs           CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT IDLE NAMESPACE
//   ExpungeArgs      EXPUNGE, UID EXPUNGE
//   SelectArgs       SELECT EXAMINE
//   ListArgs         LIST LSUB XLIST
//   CreateArgs       CREATE DELETE SUBSCRIBE UNSUBSCRIBE
//   CopyArgs         COPY MOVE
//   QuotaArgs        GETQUOTA GETQUOTAROOT SETQUOTA
//   CompressArgs     COMPRESS
//   the others       the command of the same name
using CommandArgs =
    std::variant<NoArgs, LoginArgs, AuthenticateArgs, SelectArgs, ListArgs, StatusArgs, CreateArgs,
                 RenameArgs, FetchArgs, StoreArgs, CopyArgs, ExpungeArgs, EnableArgs, IdArgs,
                 AppendArgs, SearchArgs, QuotaArgs, SortArgs, ThreadArgs, CompressArgs>;

struct Command {
  std::string tag;
  std::string name;  // uppercased command name without "UID", e.g. "FETCH"
  bool uid = false;  // "UID FETCH ..." etc. (UID is allowed before COPY MOVE FETCH STORE EXPUNGE
                     // SEARCH SORT THREAD)
  CommandArgs args;

  // A one-line form for logs with secrets removed: "a1 LOGIN alice ***",
  // "a2 AUTHENTICATE PLAIN ***", APPEND shows the message size only. Control bytes are escaped
  // and long strings shortened. Pure; any thread.
  std::string redacted() const;
};

// Parses one complete command as framed by CommandReader: tag, name, [UID], arguments. Takes
// the literals out of `text`. Errors carry the tag when it could be read. A name popbridge does
// not know gives ParseError{UnknownCommand}. Pure; any thread.
Result<Command, ParseError> parseCommand(CommandText& text,
                                         MailboxNames names = MailboxNames::Mutf7);

}  // namespace popbridge::imap
