#include "protocols/imap/command.h"

#include <array>
#include <string_view>
#include <utility>

namespace popbridge::imap {
namespace {

using ArgsParser = Result<CommandArgs, ParseError> (*)(ArgParser& in, bool uid);

template <class Args, Result<Args, ParseError> (*Parse)(ArgParser&)>
Result<CommandArgs, ParseError> wrap(ArgParser& in, bool /*uid*/) {
  auto args = Parse(in);
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

template <ListSyntax Syntax>
Result<CommandArgs, ParseError> wrapList(ArgParser& in, bool /*uid*/) {
  auto args = parseListArgs(in, Syntax);
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

template <CreateSyntax Syntax>
Result<CommandArgs, ParseError> wrapCreate(ArgParser& in, bool /*uid*/) {
  auto args = parseCreateArgs(in, Syntax);
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

Result<CommandArgs, ParseError> wrapExpunge(ArgParser& in, bool uid) {
  auto args = parseExpungeArgs(in, uid);
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

// The reader has already bounded parenthesis nesting with the session's Limits while framing;
// the search parser checks the default bound again so it is safe on its own.
Result<CommandArgs, ParseError> wrapSearch(ArgParser& in, bool /*uid*/) {
  auto args = parseSearchArgs(in, Limits{});
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

Result<CommandArgs, ParseError> wrapSort(ArgParser& in, bool /*uid*/) {
  auto args = parseSortArgs(in, Limits{});
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

Result<CommandArgs, ParseError> wrapThread(ArgParser& in, bool /*uid*/) {
  auto args = parseThreadArgs(in, Limits{});
  if (!args) {
    return fail(std::move(args.error()));
  }
  return CommandArgs(std::move(*args));
}

struct CommandEntry {
  std::string_view name;
  ArgsParser parse;
  bool uid_form;  // "UID <name>" exists (RFC 3501 6.4.8, RFC 4315, RFC 6851)
};

constexpr ArgsParser kNoArgs = wrap<NoArgs, parseNoArgs>;

constexpr std::array<CommandEntry, 38> kCommands = {{
    {"CAPABILITY", kNoArgs, false},
    {"NOOP", kNoArgs, false},
    {"LOGOUT", kNoArgs, false},
    {"STARTTLS", kNoArgs, false},
    {"CHECK", kNoArgs, false},
    {"CLOSE", kNoArgs, false},
    {"UNSELECT", kNoArgs, false},
    {"UNAUTHENTICATE", kNoArgs, false},  // RFC 8437
    {"IDLE", kNoArgs, false},
    {"NAMESPACE", kNoArgs, false},
    {"EXPUNGE", wrapExpunge, true},
    {"LOGIN", wrap<LoginArgs, parseLoginArgs>, false},
    {"AUTHENTICATE", wrap<AuthenticateArgs, parseAuthenticateArgs>, false},
    {"SELECT", wrap<SelectArgs, parseSelectArgs>, false},
    {"EXAMINE", wrap<SelectArgs, parseSelectArgs>, false},
    {"LIST", wrapList<ListSyntax::Extended>, false},
    {"LSUB", wrapList<ListSyntax::Basic>, false},
    {"XLIST", wrapList<ListSyntax::Basic>, false},
    {"STATUS", wrap<StatusArgs, parseStatusArgs>, false},
    {"CREATE", wrapCreate<CreateSyntax::WithParams>, false},
    {"DELETE", wrapCreate<CreateSyntax::NameOnly>, false},
    {"SUBSCRIBE", wrapCreate<CreateSyntax::NameOnly>, false},
    {"UNSUBSCRIBE", wrapCreate<CreateSyntax::NameOnly>, false},
    {"RENAME", wrap<RenameArgs, parseRenameArgs>, false},
    {"FETCH", wrap<FetchArgs, parseFetchArgs>, true},
    {"STORE", wrap<StoreArgs, parseStoreArgs>, true},
    {"COPY", wrap<CopyArgs, parseCopyArgs>, true},
    {"MOVE", wrap<CopyArgs, parseCopyArgs>, true},
    {"ENABLE", wrap<EnableArgs, parseEnableArgs>, false},
    {"ID", wrap<IdArgs, parseIdArgs>, false},
    {"APPEND", wrap<AppendArgs, parseAppendArgs>, false},
    {"SEARCH", wrapSearch, true},
    {"GETQUOTA", wrap<QuotaArgs, parseGetQuotaArgs>, false},
    {"GETQUOTAROOT", wrap<QuotaArgs, parseGetQuotaRootArgs>, false},
    {"SETQUOTA", wrap<QuotaArgs, parseSetQuotaArgs>, false},
    {"SORT", wrapSort, true},
    {"THREAD", wrapThread, true},
    {"COMPRESS", wrap<CompressArgs, parseCompressArgs>, false},
}};

const CommandEntry* findEntry(std::string_view name) {
  for (const CommandEntry& entry : kCommands) {
    if (entry.name == name) {
      return &entry;
    }
  }
  return nullptr;
}

ParseError withTag(ParseError error, const std::string& tag) {
  error.tag = tag;
  return error;
}

// Strings in log lines: plain when short and made of printable ASCII other than SP and '"',
// else quoted with control and 8-bit bytes as \xNN, cut after kMaxLogString bytes.
constexpr std::size_t kMaxLogString = 100;

void appendLogString(std::string& out, std::string_view s) {
  bool plain = !s.empty() && s.size() <= kMaxLogString;
  for (char c : s) {
    if (!plain) {
      break;
    }
    plain = c > ' ' && c < 0x7f && c != '"';
  }
  if (plain) {
    out += s;
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size() && i < kMaxLogString; ++i) {
    const auto byte = static_cast<unsigned char>(s[i]);
    if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      if (byte == '"' || byte == '\\') {
        out += '\\';
      }
      out += static_cast<char>(byte);
    }
  }
  if (s.size() > kMaxLogString) {
    out += "...";
  }
  out += '"';
}

void appendWords(std::string& out, const std::vector<std::string>& words) {
  out += '(';
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      out += ' ';
    }
    appendLogString(out, words[i]);
  }
  out += ')';
}

struct RedactVisitor {
  std::string& out;

  void operator()(const NoArgs&) const {}
  void operator()(const LoginArgs& args) const {
    out += ' ';
    appendLogString(out, args.user);
    out += " ***";
  }
  void operator()(const AuthenticateArgs& args) const {
    out += ' ';
    appendLogString(out, args.mechanism);
    if (args.initial_response) {
      out += " ***";
    }
  }
  void operator()(const SelectArgs& args) const {
    out += ' ';
    appendLogString(out, args.mailbox);
    if (args.condstore || args.qresync) {
      out += args.condstore && args.qresync ? " (CONDSTORE QRESYNC ...)"
                                            : (args.condstore ? " (CONDSTORE)" : " (QRESYNC ...)");
    }
  }
  void operator()(const ListArgs& args) const {
    if (!args.select_options.empty()) {
      out += ' ';
      appendWords(out, args.select_options);
    }
    out += ' ';
    appendLogString(out, args.reference);
    out += ' ';
    if (args.extra_patterns.empty()) {
      appendLogString(out, args.pattern);
    } else {
      std::vector<std::string> patterns = {args.pattern};
      patterns.insert(patterns.end(), args.extra_patterns.begin(), args.extra_patterns.end());
      appendWords(out, patterns);
    }
    if (!args.return_options.empty()) {
      out += " RETURN ";
      appendWords(out, args.return_options);
      if (!args.return_status_items.empty()) {
        out += " STATUS ";
        appendWords(out, args.return_status_items);
      }
    }
  }
  void operator()(const StatusArgs& args) const {
    out += ' ';
    appendLogString(out, args.mailbox);
    out += ' ';
    appendWords(out, args.items);
  }
  void operator()(const CreateArgs& args) const {
    out += ' ';
    appendLogString(out, args.mailbox);
    if (!args.use.empty()) {
      out += " (USE ";
      appendWords(out, args.use);
      out += ')';
    }
  }
  void operator()(const QuotaArgs& args) const {
    out += ' ';
    appendLogString(out, args.name);
    for (const auto& [resource, limit] : args.limits) {
      out += ' ' + resource + ' ' + std::to_string(limit);
    }
  }
  void operator()(const RenameArgs& args) const {
    out += ' ';
    appendLogString(out, args.from);
    out += ' ';
    appendLogString(out, args.to);
  }
  void operator()(const FetchArgs& args) const {
    out += ' ';
    out += args.set.toString();
    out += " (";
    for (std::size_t i = 0; i < args.atts.size(); ++i) {
      if (i > 0) {
        out += ' ';
      }
      const std::string att = fetchAttText(args.atts[i]);
      for (char c : att) {
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 || byte >= 0x7f ? '?' : c;
      }
    }
    out += ')';
    if (args.changed_since) {
      out += " (CHANGEDSINCE " + std::to_string(*args.changed_since);
      out += args.vanished ? " VANISHED)" : ")";
    }
  }
  void operator()(const StoreArgs& args) const {
    out += ' ';
    out += args.set.toString();
    if (args.unchanged_since) {
      out += " (UNCHANGEDSINCE " + std::to_string(*args.unchanged_since) + ")";
    }
    out += args.mode == StoreArgs::Mode::Add ? " +"
                                             : (args.mode == StoreArgs::Mode::Remove ? " -" : " ");
    out += args.silent ? "FLAGS.SILENT " : "FLAGS ";
    appendWords(out, args.flags);
  }
  void operator()(const CopyArgs& args) const {
    out += ' ';
    out += args.set.toString();
    out += ' ';
    appendLogString(out, args.mailbox);
  }
  void operator()(const ExpungeArgs& args) const {
    if (args.uids) {
      out += ' ';
      out += args.uids->toString();
    }
  }
  void operator()(const CompressArgs& args) const {
    out += ' ';
    appendLogString(out, args.mechanism);
  }
  void operator()(const EnableArgs& args) const {
    for (const std::string& capability : args.capabilities) {
      out += ' ';
      appendLogString(out, capability);
    }
  }
  void operator()(const IdArgs& args) const {
    if (args.fields.empty()) {
      out += " NIL";
      return;
    }
    out += " (";
    for (std::size_t i = 0; i < args.fields.size(); ++i) {
      if (i > 0) {
        out += ' ';
      }
      appendLogString(out, args.fields[i].first);
      out += ' ';
      appendLogString(out, args.fields[i].second);
    }
    out += ')';
  }
  void operator()(const AppendArgs& args) const {
    out += ' ';
    appendLogString(out, args.mailbox);
    for (const AppendMessage& message : args.messages) {
      if (!message.flags.empty()) {
        out += ' ';
        appendWords(out, message.flags);
      }
      if (message.internal_date) {
        out += " \"";
        out += *message.internal_date;  // checked by parseDateTime: printable ASCII only
        out += '"';
      }
      // STYLE.md 7.6: never message content in logs, only its size.
      if (message.utf8) out += " UTF8 (";
      out += message.binary ? (message.utf8 ? "~{" : " ~{") : (message.utf8 ? "{" : " {");
      out += std::to_string(message.size);
      out += '}';
      if (message.utf8) out += ')';
    }
  }
  // Search strings may quote message content or addresses (STYLE.md 7.6): keys, numbers and
  // sets are shown, every string argument as ***. Walks the flat key tree without recursion.
  void appendReturn(const SearchReturn& r) const {
    out += " RETURN (";
    for (const auto& [set, name] :
         {std::pair{r.min, "MIN"}, std::pair{r.max, "MAX"}, std::pair{r.all, "ALL"},
          std::pair{r.count, "COUNT"}, std::pair{r.save, "SAVE"}}) {
      if (!set) continue;
      if (out.back() != '(') out += ' ';
      out += name;
    }
    out += ')';
  }
  void operator()(const SearchArgs& args) const {
    if (args.returns) appendReturn(*args.returns);
    if (args.charset) {
      out += " CHARSET ";
      appendLogString(out, *args.charset);
    }
    std::vector<std::uint32_t> open_ends;
    for (std::size_t i = 1; i < args.keys.size(); ++i) {
      while (!open_ends.empty() && open_ends.back() <= i) {
        out += ')';
        open_ends.pop_back();
      }
      if (out.back() != '(') {
        out += ' ';
      }
      const SearchKey& key = args.keys[i];
      out += searchKeyName(key.kind);
      switch (key.kind) {
        case SearchKey::Kind::And:
          out += '(';
          open_ends.push_back(key.end);
          break;
        case SearchKey::Kind::Header:
          out += " *** ***";
          break;
        case SearchKey::Kind::Keyword:
        case SearchKey::Kind::Unkeyword:
          out += ' ';
          appendLogString(out, key.value);
          break;
        case SearchKey::Kind::Bcc:
        case SearchKey::Kind::Cc:
        case SearchKey::Kind::From:
        case SearchKey::Kind::Subject:
        case SearchKey::Kind::To:
        case SearchKey::Kind::Body:
        case SearchKey::Kind::Text:
          out += " ***";
          break;
        case SearchKey::Kind::Before:
        case SearchKey::Kind::On:
        case SearchKey::Kind::Since:
        case SearchKey::Kind::SentBefore:
        case SearchKey::Kind::SentOn:
        case SearchKey::Kind::SentSince:
          out += " day" + std::to_string(key.day);
          break;
        case SearchKey::Kind::Larger:
        case SearchKey::Kind::Smaller:
        case SearchKey::Kind::Modseq:
        case SearchKey::Kind::Older:
        case SearchKey::Kind::Younger:
          out += ' ' + std::to_string(key.number);
          break;
        case SearchKey::Kind::Uid:
          out += ' ' + key.set.toString();
          break;
        case SearchKey::Kind::Sequence:
          out += key.set.toString();
          break;
        default:
          break;
      }
    }
    for (std::size_t i = 0; i < open_ends.size(); ++i) {
      out += ')';
    }
  }
  void operator()(const SortArgs& args) const {
    // In the order of SortKey.
    static constexpr std::array<std::string_view, 9> kNames = {
        "ARRIVAL", "CC", "DATE", "DISPLAYFROM", "DISPLAYTO", "FROM", "SIZE", "SUBJECT", "TO"};
    if (args.returns) appendReturn(*args.returns);
    out += " (";
    for (std::size_t i = 0; i < args.criteria.size(); ++i) {
      if (i > 0) {
        out += ' ';
      }
      if (args.criteria[i].reverse) {
        out += "REVERSE ";
      }
      out += kNames[static_cast<std::size_t>(args.criteria[i].key)];
    }
    out += ") ";
    appendLogString(out, args.charset);
    (*this)(args.search);
  }
  void operator()(const ThreadArgs& args) const {
    out += args.algorithm == ThreadAlgorithm::References ? " REFERENCES " : " ORDEREDSUBJECT ";
    appendLogString(out, args.charset);
    (*this)(args.search);
  }
};

}  // namespace

std::string Command::redacted() const {
  std::string out;
  appendLogString(out, tag);
  out += uid ? " UID " : " ";
  out += name;
  std::visit(RedactVisitor{out}, args);
  return out;
}

Result<Command, ParseError> parseCommand(CommandText& text, MailboxNames names) {
  ArgParser in(text, 0, names);
  Command command;
  command.tag = in.takeWhile(isTagChar);
  if (command.tag.empty() || (in.peek() != ' ' && in.peek() != '\0')) {
    return fail(badSyntax("Invalid tag"));
  }
  auto ok = in.sp();
  if (!ok) {
    return fail(withTag(badSyntax("Missing command"), command.tag));
  }
  auto name = in.keyword();
  if (!name) {
    return fail(withTag(badSyntax("Invalid command name"), command.tag));
  }
  command.name = std::move(*name);
  if (command.name == "UID") {
    command.uid = true;
    ok = in.sp();
    if (!ok) {
      return fail(withTag(badSyntax("UID needs a command"), command.tag));
    }
    name = in.keyword();
    if (!name) {
      return fail(withTag(badSyntax("Invalid command name after UID"), command.tag));
    }
    command.name = std::move(*name);
  }
  const CommandEntry* entry = findEntry(command.name);
  if (entry == nullptr) {
    return fail(ParseError{
        ParseError::Kind::UnknownCommand, command.tag,
        "Unknown command " + (command.uid ? "UID " : std::string()) + command.name.substr(0, 40)});
  }
  if (command.uid && !entry->uid_form) {
    return fail(withTag(badSyntax("UID " + command.name + " does not exist"), command.tag));
  }
  auto args = entry->parse(in, command.uid);
  if (!args) {
    return fail(withTag(std::move(args.error()), command.tag));
  }
  command.args = std::move(*args);
  if (const auto* fetch = std::get_if<FetchArgs>(&command.args)) {
    // RFC 7162 3.2.6: VANISHED is only valid with UID FETCH.
    if (fetch->vanished && !command.uid) {
      return fail(withTag(badSyntax("VANISHED requires UID FETCH"), command.tag));
    }
  }
  return command;
}

}  // namespace popbridge::imap
