#include "protocols/imap/commands/search.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

using Kind = SearchKey::Kind;

// What follows a search-key name (RFC 3501 9, search-key).
enum class Arg : std::uint8_t {
  None,
  String,
  Keyword,
  Date,
  Number,
  HeaderField,
  Set,
  Modseq,
  Interval,
  ObjectId,
};

struct KeyName {
  std::string_view name;
  Kind kind;
  Arg arg;
};

constexpr std::array<KeyName, 42> kKeyNames = {{
    {"ALL", Kind::All, Arg::None},
    {"ANSWERED", Kind::Answered, Arg::None},
    {"BCC", Kind::Bcc, Arg::String},
    {"BEFORE", Kind::Before, Arg::Date},
    {"BODY", Kind::Body, Arg::String},
    {"CC", Kind::Cc, Arg::String},
    {"DELETED", Kind::Deleted, Arg::None},
    {"DRAFT", Kind::Draft, Arg::None},
    {"EMAILID", Kind::EmailId, Arg::ObjectId},
    {"FLAGGED", Kind::Flagged, Arg::None},
    {"FROM", Kind::From, Arg::String},
    {"HEADER", Kind::Header, Arg::HeaderField},
    {"KEYWORD", Kind::Keyword, Arg::Keyword},
    {"LARGER", Kind::Larger, Arg::Number},
    {"MODSEQ", Kind::Modseq, Arg::Modseq},
    {"NEW", Kind::New, Arg::None},
    {"NOT", Kind::Not, Arg::None},
    {"OLD", Kind::Old, Arg::None},
    {"OLDER", Kind::Older, Arg::Interval},
    {"ON", Kind::On, Arg::Date},
    {"OR", Kind::Or, Arg::None},
    {"RECENT", Kind::Recent, Arg::None},
    {"SEEN", Kind::Seen, Arg::None},
    {"SENTBEFORE", Kind::SentBefore, Arg::Date},
    {"SENTON", Kind::SentOn, Arg::Date},
    {"SENTSINCE", Kind::SentSince, Arg::Date},
    {"SINCE", Kind::Since, Arg::Date},
    {"SMALLER", Kind::Smaller, Arg::Number},
    {"SUBJECT", Kind::Subject, Arg::String},
    {"TEXT", Kind::Text, Arg::String},
    {"THREADID", Kind::ThreadId, Arg::ObjectId},
    {"TO", Kind::To, Arg::String},
    {"UID", Kind::Uid, Arg::Set},
    {"UNANSWERED", Kind::Unanswered, Arg::None},
    {"UNDELETED", Kind::Undeleted, Arg::None},
    {"UNDRAFT", Kind::Undraft, Arg::None},
    {"UNFLAGGED", Kind::Unflagged, Arg::None},
    {"UNKEYWORD", Kind::Unkeyword, Arg::Keyword},
    {"UNSEEN", Kind::Unseen, Arg::None},
    {"YOUNGER", Kind::Younger, Arg::Interval},
    // Accepted so the handler can refuse them with a clear message rather than a syntax error.
    {"RETURN", Kind::All, Arg::None},
    {"CHARSET", Kind::All, Arg::None},
}};

SearchKey makeKey(Kind kind) {
  SearchKey key;
  key.kind = kind;
  return key;
}

const KeyName* findKey(std::string_view name) {
  for (const KeyName& key : kKeyNames) {
    if (key.name == name) {
      return &key;
    }
  }
  return nullptr;
}

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned daysInMonth(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool isDateChar(unsigned char c) { return std::isalnum(c) != 0 || c == '-'; }

// date = date-text / DQUOTE date-text DQUOTE (RFC 3501 9).
Result<std::int64_t, ParseError> parseDateArg(ArgParser& in) {
  std::string text;
  if (in.peek() == '"' || in.atLiteral()) {
    auto quoted = in.string();
    if (!quoted) {
      return fail(quoted.error());
    }
    text = std::move(*quoted);
  } else {
    text = in.takeWhile(isDateChar);
  }
  return parseSearchDate(text);
}

// Where a completed key belongs: the open parenthesis, NOT or OR it is an operand of.
struct Open {
  std::uint32_t node;
  enum class Type : std::uint8_t { Root, Paren, Not, Or } type;
  std::uint8_t remaining;  // operands still expected (NOT, OR)
};

// Reads one key's arguments after its name into `key`.
Result<void, ParseError> parseKeyArgument(ArgParser& in, Arg arg, SearchKey& key) {
  if (arg == Arg::None) {
    return {};
  }
  auto ok = in.sp();
  if (!ok) {
    return ok;
  }
  switch (arg) {
    case Arg::None:
      return {};
    case Arg::String: {
      auto value = in.astring();
      if (!value) {
        return fail(value.error());
      }
      key.value = std::move(*value);
      return {};
    }
    case Arg::ObjectId: {
      // RFC 8474 7: objectid = 1*255(ALPHA / DIGIT / "_" / "-"), an atom.
      auto value = in.atom();
      if (!value || value->empty() || value->size() > 255 ||
          !std::all_of(value->begin(), value->end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
          })) {
        return fail(badSyntax("Expected an object id"));
      }
      key.value = std::move(*value);
      return {};
    }
    case Arg::Keyword: {
      // flag-keyword = atom (RFC 3501 9); a system flag here is a client error.
      auto value = in.atom();
      if (!value) {
        return fail(badSyntax("Expected a keyword"));
      }
      key.value = std::move(*value);
      return {};
    }
    case Arg::Date: {
      auto day = parseDateArg(in);
      if (!day) {
        return fail(day.error());
      }
      key.day = *day;
      return {};
    }
    case Arg::Number: {
      // RFC 3501 has number (32 bit); RFC 9051 widened LARGER/SMALLER to number64.
      auto number = in.number64();
      if (!number) {
        return fail(number.error());
      }
      key.number = *number;
      return {};
    }
    case Arg::HeaderField: {
      auto field = in.astring();
      if (!field) {
        return fail(field.error());
      }
      key.field = std::move(*field);
      ok = in.sp();
      if (!ok) {
        return ok;
      }
      auto value = in.astring();
      if (!value) {
        return fail(value.error());
      }
      key.value = std::move(*value);
      return {};
    }
    case Arg::Set: {
      auto set = in.sequenceSet();
      if (!set) {
        return fail(set.error());
      }
      key.set = std::move(*set);
      return {};
    }
    case Arg::Interval: {
      // RFC 5032 4: interval = nz-number (32 bit), in seconds.
      auto seconds = in.number();
      if (!seconds || *seconds == 0) {
        return fail(badSyntax("Expected a number of seconds from 1 to 4294967295"));
      }
      key.number = *seconds;
      return {};
    }
    case Arg::Modseq: {
      // RFC 7162 3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer.
      if (in.peek() == '"' || in.atLiteral()) {
        auto entry = in.string();
        if (!entry) {
          return fail(entry.error());
        }
        ok = in.sp();
        if (!ok) {
          return ok;
        }
        auto type = in.keyword();
        if (!type || (*type != "PRIV" && *type != "SHARED" && *type != "ALL")) {
          return fail(badSyntax("Expected priv, shared or all after the MODSEQ entry name"));
        }
        ok = in.sp();
        if (!ok) {
          return ok;
        }
      }
      auto number = in.number64();
      if (!number) {
        return fail(number.error());
      }
      key.number = *number;
      return {};
    }
  }
  return {};
}

}  // namespace

Result<std::int64_t, ParseError> parseSearchDate(std::string_view text) {
  const auto invalid = [] { return fail(badSyntax("Invalid date (expected e.g. 1-Feb-1994)")); };
  std::size_t pos = 0;
  unsigned day = 0;
  while (pos < text.size() && pos < 2 && text[pos] >= '0' && text[pos] <= '9') {
    day = day * 10 + static_cast<unsigned>(text[pos] - '0');
    ++pos;
  }
  if (pos == 0 || pos >= text.size() || text[pos] != '-' || pos + 4 >= text.size()) {
    return invalid();
  }
  ++pos;
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m) {
    bool same = true;
    for (std::size_t i = 0; i < 3; ++i) {
      if (std::toupper(static_cast<unsigned char>(text[pos + i])) != kMonthNames[m][i]) {
        same = false;
        break;
      }
    }
    if (same) {
      month = m + 1;
      break;
    }
  }
  pos += 3;
  if (month == 0 || text[pos] != '-' || text.size() != pos + 5) {
    return invalid();
  }
  ++pos;
  std::int64_t year = 0;
  for (; pos < text.size(); ++pos) {
    if (text[pos] < '0' || text[pos] > '9') {
      return invalid();
    }
    year = year * 10 + (text[pos] - '0');
  }
  if (day < 1 || day > daysInMonth(year, month)) {
    return invalid();
  }
  return daysFromCivil(year, month, day);
}

Result<SearchReturn, ParseError> parseSearchReturnOptions(ArgParser& in) {
  SearchReturn returns;
  auto ok = in.sp();
  if (!ok) return fail(ok.error());
  if (!in.consumeIf('(')) return fail(badSyntax("Expected '(' after RETURN"));
  bool any = false;
  while (!in.consumeIf(')')) {
    if (any) {
      ok = in.sp();
      if (!ok) return fail(badSyntax("Expected ')' or another return option"));
    }
    auto name = in.keyword();
    if (!name) return fail(badSyntax("Expected a SEARCH return option"));
    bool* option = *name == "MIN"     ? &returns.min
                   : *name == "MAX"   ? &returns.max
                   : *name == "ALL"   ? &returns.all
                   : *name == "COUNT" ? &returns.count
                   : *name == "SAVE"  ? &returns.save
                                      : nullptr;
    if (option == nullptr) {
      return fail(badSyntax("Unknown SEARCH return option " + name->substr(0, 40)));
    }
    if (*option) return fail(badSyntax("Repeated SEARCH return option " + *name));
    *option = true;
    any = true;
  }
  // RFC 4731 3.1: "RETURN ()" is the same as "RETURN (ALL)".
  if (!any) returns.all = true;
  return returns;
}

namespace {

Result<void, ParseError> parseSearchProgram(ArgParser& in, const Limits& limits, SearchArgs& args);

}  // namespace

Result<SearchArgs, ParseError> parseSearchArgs(ArgParser& in, const Limits& limits) {
  SearchArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  // RETURN comes before CHARSET (RFC 4466 2.6: "SEARCH" [search-return-opts] SP
  // search-program).
  {
    const std::size_t start = in.position();
    auto word = in.keyword();
    if (word && *word == "RETURN") {
      auto returns = parseSearchReturnOptions(in);
      if (!returns) return fail(returns.error());
      args.returns = *returns;
      ok = in.sp();
      if (!ok) return fail(ok.error());
    } else {
      in.rewindTo(start);  // an atom was read at most: no literal was crossed
    }
  }
  auto program = parseSearchProgram(in, limits, args);
  if (!program) return fail(program.error());
  return args;
}

namespace {

Result<void, ParseError> parseSearchProgram(ArgParser& in, const Limits& limits, SearchArgs& args) {
  Result<void, ParseError> ok;
  // CHARSET comes first if at all (RFC 3501 9: search = "SEARCH" [SP "CHARSET" SP astring] ...).
  {
    const std::size_t start = in.position();
    auto word = in.keyword();
    if (word && *word == "CHARSET") {
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
      auto charset = in.astring();
      if (!charset) {
        return fail(charset.error());
      }
      for (char& c : *charset) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      args.charset = std::move(*charset);
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
    } else {
      in.rewindTo(start);  // an atom was read at most: no literal was crossed
    }
  }

  args.keys.push_back(makeKey(Kind::And));
  std::vector<Open> stack = {Open{0, Open::Type::Root, 0}};
  std::size_t parens = 0;
  while (true) {
    // Read one key; operators and "(" open a level and loop back for their first operand.
    const auto index = static_cast<std::uint32_t>(args.keys.size());
    if (in.consumeIf('(')) {
      if (++parens > limits.max_depth) {
        return fail(ParseError{ParseError::Kind::TooLong, {}, "Search keys nested too deeply"});
      }
      args.keys.push_back(makeKey(Kind::And));
      stack.push_back(Open{index, Open::Type::Paren, 0});
      continue;
    }
    SearchKey key;
    const char first = in.peek();
    if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
      auto set = in.sequenceSet();
      if (!set) {
        return fail(set.error());
      }
      key.kind = Kind::Sequence;
      key.set = std::move(*set);
    } else {
      auto name = in.keyword();
      if (!name) {
        return fail(in.peek() == '\0' ? badSyntax("Missing search key")
                                      : badSyntax("Expected a search key"));
      }
      const KeyName* known = findKey(*name);
      if (known == nullptr) {
        return fail(badSyntax("Unknown search key " + name->substr(0, 40)));
      }
      if (known->name == "RETURN") {
        return fail(badSyntax("RETURN must come before CHARSET and the search keys"));
      }
      if (known->name == "CHARSET") {
        return fail(badSyntax("CHARSET must come before the search keys"));
      }
      key.kind = known->kind;
      if (known->kind == Kind::Not || known->kind == Kind::Or) {
        ok = in.sp();
        if (!ok) {
          return fail(ok.error());
        }
        const bool is_not = known->kind == Kind::Not;
        args.keys.push_back(makeKey(known->kind));
        stack.push_back(Open{index, is_not ? Open::Type::Not : Open::Type::Or,
                             static_cast<std::uint8_t>(is_not ? 1 : 2)});
        continue;
      }
      auto argument = parseKeyArgument(in, known->arg, key);
      if (!argument) {
        return fail(argument.error());
      }
    }
    args.keys.push_back(std::move(key));
    args.keys.back().end = static_cast<std::uint32_t>(args.keys.size());

    // A key is complete: close every level it completes, then find where the next key goes.
    while (true) {
      Open& top = stack.back();
      const auto size = static_cast<std::uint32_t>(args.keys.size());
      if (top.type == Open::Type::Not || top.type == Open::Type::Or) {
        if (--top.remaining == 0) {
          args.keys[top.node].end = size;
          stack.pop_back();
          continue;
        }
        ok = in.sp();  // the second operand of OR
        if (!ok) {
          return fail(ok.error());
        }
        break;
      }
      if (top.type == Open::Type::Paren) {
        if (in.consumeIf(')')) {
          --parens;
          args.keys[top.node].end = size;
          stack.pop_back();
          continue;
        }
        ok = in.sp();
        if (!ok) {
          return fail(badSyntax("Expected ')' or another search key"));
        }
        break;
      }
      // Root: the command ends or another top-level key follows.
      if (in.atEnd()) {
        args.keys[0].end = size;
        return in.end();
      }
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
      break;
    }
  }
}

}  // namespace

void appendSearchResponse(std::string& out, const std::vector<std::uint32_t>& numbers,
                          std::optional<std::uint64_t> modseq) {
  out += "* SEARCH";
  for (const std::uint32_t n : numbers) {
    out += ' ';
    out += std::to_string(n);
  }
  if (modseq && !numbers.empty()) {
    out += " (MODSEQ ";
    out += std::to_string(*modseq);
    out += ')';
  }
  out += "\r\n";
}

void appendCompactSet(std::string& out, const std::vector<std::uint32_t>& ascending) {
  for (std::size_t i = 0; i < ascending.size();) {
    std::size_t j = i;
    while (j + 1 < ascending.size() && ascending[j + 1] == ascending[j] + 1) ++j;
    if (i > 0) out += ',';
    out += std::to_string(ascending[i]);
    if (j > i) {
      out += ':';
      out += std::to_string(ascending[j]);
    }
    i = j + 1;
  }
}

void appendEsearchResponse(std::string& out, const EsearchResponse& response) {
  out += "* ESEARCH (TAG ";
  appendString(out, response.tag);
  out += ')';
  if (response.uid) out += " UID";
  if (response.min) {
    out += " MIN ";
    out += std::to_string(*response.min);
  }
  if (response.max) {
    out += " MAX ";
    out += std::to_string(*response.max);
  }
  // RFC 4731 3.1: ALL's value is a non-empty sequence-set; with no match it is left out.
  if (response.all && !response.all->empty()) {
    out += " ALL ";
    appendCompactSet(out, *response.all);
  }
  if (response.count) {
    out += " COUNT ";
    out += std::to_string(*response.count);
  }
  if (response.modseq) {
    out += " MODSEQ ";
    out += std::to_string(*response.modseq);
  }
  out += "\r\n";
}

std::string_view searchKeyName(SearchKey::Kind kind) {
  for (const KeyName& key : kKeyNames) {
    if (key.kind == kind && key.name != "RETURN" && key.name != "CHARSET") {
      return key.name;
    }
  }
  return {};  // And, Sequence
}

bool searchCharsetSupported(std::string_view charset) {
  std::string upper(charset);
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return upper == "US-ASCII" || upper == "UTF-8";
}

}  // namespace popbridge::imap
