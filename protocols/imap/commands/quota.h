#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// GETQUOTA quota-root, GETQUOTAROOT mailbox, SETQUOTA quota-root (resource limit ...)
// (RFC 9208 4.1).
struct QuotaArgs {
  // GETQUOTA, SETQUOTA: the quota root name (an astring, "" allowed); GETQUOTAROOT: the mailbox
  // as UTF-8 (mailbox() rules).
  std::string name;
  // SETQUOTA only: each resource name, uppercased, with its limit, in the order sent.
  std::vector<std::pair<std::string, std::uint64_t>> limits;
};

// Each parses the arguments after the command name; `in` is positioned right after it.
Result<QuotaArgs, ParseError> parseGetQuotaArgs(ArgParser& in);      // SP quota-root-name
Result<QuotaArgs, ParseError> parseGetQuotaRootArgs(ArgParser& in);  // SP mailbox
// SP quota-root-name SP "(" [resource-name SP number64 *(SP ...)] ")"
Result<QuotaArgs, ParseError> parseSetQuotaArgs(ArgParser& in);

// One resource of a QUOTA response: usage and limit in the resource's units (STORAGE in
// 1024-octet units, MESSAGE in messages; RFC 9208 5).
struct QuotaResource {
  std::string_view name;
  std::uint64_t usage;
  std::uint64_t limit;
};

// "* QUOTA root (NAME usage limit ...)\r\n" (RFC 9208 7.1); `resources` must not be empty.
void appendQuotaResponse(std::string& out, std::string_view root,
                         std::span<const QuotaResource> resources);

// "* QUOTAROOT mailbox root ...\r\n" (RFC 9208 7.2); `mailbox` is already in its wire spelling
// (modified UTF-7, or UTF-8 with MailboxNames::Utf8). No roots gives "* QUOTAROOT mailbox\r\n"
// (the mailbox has no quota).
void appendQuotaRootResponse(std::string& out, std::string_view mailbox,
                             std::span<const std::string> roots,
                             MailboxNames names = MailboxNames::Mutf7);

}  // namespace popbridge::imap
