#include "protocols/imap/commands/sort.h"

#include <array>
#include <cctype>
#include <string_view>

namespace popbridge::imap {
namespace {

struct KeyName {
  std::string_view name;
  SortKey key;
};

constexpr std::array<KeyName, 9> kSortKeys = {{
    {"ARRIVAL", SortKey::Arrival},
    {"CC", SortKey::Cc},
    {"DATE", SortKey::Date},
    {"DISPLAYFROM", SortKey::DisplayFrom},
    {"DISPLAYTO", SortKey::DisplayTo},
    {"FROM", SortKey::From},
    {"SIZE", SortKey::Size},
    {"SUBJECT", SortKey::Subject},
    {"TO", SortKey::To},
}};

}  // namespace

Result<SortArgs, ParseError> parseSortArgs(ArgParser& in, const Limits& limits) {
  SortArgs args;
  auto ok = in.sp();
  if (!ok) return fail(ok.error());
  // ESORT (RFC 5267 3): sort-criteria may be preceded by search-return-opts.
  if (in.peek() == 'R' || in.peek() == 'r') {
    auto word = in.keyword();
    if (!word || *word != "RETURN") return fail(badSyntax("Expected RETURN or sort criteria"));
    auto returns = parseSearchReturnOptions(in);
    if (!returns) return fail(returns.error());
    args.returns = *returns;
    ok = in.sp();
    if (!ok) return fail(ok.error());
  }
  ok = in.expect('(', "'(' and sort criteria");
  if (!ok) return fail(ok.error());
  while (true) {
    auto word = in.keyword();
    if (!word) return fail(word.error());
    SortCriterion criterion;
    if (*word == "REVERSE") {
      criterion.reverse = true;
      ok = in.sp();
      if (!ok) return fail(ok.error());
      word = in.keyword();
      if (!word) return fail(word.error());
    }
    bool known = false;
    for (const KeyName& key : kSortKeys) {
      if (key.name == *word) {
        criterion.key = key.key;
        known = true;
      }
    }
    if (!known) return fail(badSyntax("Unknown sort criterion " + *word));
    args.criteria.push_back(criterion);
    if (in.consumeIf(')')) break;
    ok = in.sp();
    if (!ok) return fail(ok.error());
  }
  ok = in.sp();
  if (!ok) return fail(ok.error());
  auto charset = in.astring();
  if (!charset) return fail(charset.error());
  for (char& c : *charset) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  args.charset = std::move(*charset);
  auto search = parseSearchArgs(in, limits);
  if (!search) return fail(std::move(search.error()));
  if (search->charset) return fail(badSyntax("SORT takes its charset before the search keys"));
  if (search->returns) return fail(badSyntax("SORT takes RETURN before its sort criteria"));
  args.search = std::move(*search);
  return args;
}

void appendSortResponse(std::string& out, const std::vector<std::uint32_t>& numbers,
                        std::optional<std::uint64_t> modseq) {
  out += "* SORT";
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

}  // namespace popbridge::imap
