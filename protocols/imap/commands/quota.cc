#include "protocols/imap/commands/quota.h"

#include "protocols/imap/encoder.h"

namespace popbridge::imap {

Result<QuotaArgs, ParseError> parseGetQuotaArgs(ArgParser& in) {
  QuotaArgs args;
  if (auto ok = in.sp(); !ok) return fail(ok.error());
  auto root = in.astring();
  if (!root) return fail(root.error());
  args.name = std::move(*root);
  if (auto ok = in.end(); !ok) return fail(ok.error());
  return args;
}

Result<QuotaArgs, ParseError> parseGetQuotaRootArgs(ArgParser& in) {
  QuotaArgs args;
  if (auto ok = in.sp(); !ok) return fail(ok.error());
  auto mailbox = in.mailbox();
  if (!mailbox) return fail(mailbox.error());
  args.name = std::move(*mailbox);
  if (auto ok = in.end(); !ok) return fail(ok.error());
  return args;
}

Result<QuotaArgs, ParseError> parseSetQuotaArgs(ArgParser& in) {
  QuotaArgs args;
  if (auto ok = in.sp(); !ok) return fail(ok.error());
  auto root = in.astring();
  if (!root) return fail(root.error());
  args.name = std::move(*root);
  if (auto ok = in.sp(); !ok) return fail(ok.error());
  if (auto ok = in.expect('(', "'(' before quota limits"); !ok) return fail(ok.error());
  // setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")" (RFC 9208 9).
  if (!in.consumeIf(')')) {
    while (true) {
      auto resource = in.keyword();
      if (!resource) return fail(resource.error());
      if (auto ok = in.sp(); !ok) return fail(ok.error());
      auto limit = in.number64();
      if (!limit) return fail(limit.error());
      args.limits.emplace_back(std::move(*resource), *limit);
      if (in.consumeIf(')')) break;
      if (auto ok = in.sp(); !ok) return fail(ok.error());
    }
  }
  if (auto ok = in.end(); !ok) return fail(ok.error());
  return args;
}

void appendQuotaResponse(std::string& out, std::string_view root,
                         std::span<const QuotaResource> resources) {
  out += "* QUOTA ";
  appendAstring(out, root);
  out += " (";
  bool first = true;
  for (const QuotaResource& resource : resources) {
    if (!first) out += ' ';
    first = false;
    out += resource.name;
    out += ' ';
    out += std::to_string(resource.usage);
    out += ' ';
    out += std::to_string(resource.limit);
  }
  out += ")\r\n";
}

void appendQuotaRootResponse(std::string& out, std::string_view mailbox,
                             std::span<const std::string> roots, MailboxNames names) {
  out += "* QUOTAROOT ";
  appendMailboxName(out, mailbox, names);
  for (const std::string& root : roots) {
    out += ' ';
    appendAstring(out, root);
  }
  out += "\r\n";
}

}  // namespace popbridge::imap
