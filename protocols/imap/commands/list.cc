#include "protocols/imap/commands/list.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "protocols/imap/commands/status.h"
#include "protocols/imap/mutf7.h"

namespace popbridge::imap {
namespace {

constexpr std::array<std::string_view, 4> kSelectOptions = {"SUBSCRIBED", "REMOTE",
                                                            "RECURSIVEMATCH", "SPECIAL-USE"};
constexpr std::array<std::string_view, 4> kReturnOptions = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE",
                                                            "STATUS"};

template <std::size_t N>
bool known(const std::array<std::string_view, N>& options, std::string_view option) {
  return std::find(options.begin(), options.end(), option) != options.end();
}

// "(" [option *(SP option)] ")" of keywords. With `status_items`, "STATUS (...)" is read too.
template <std::size_t N>
Result<std::vector<std::string>, ParseError> parseOptions(
    ArgParser& in, const std::array<std::string_view, N>& allowed,
    std::vector<std::string>* status_items) {
  std::vector<std::string> options;
  auto ok = in.expect('(', "'(' before list options");
  if (!ok) {
    return fail(ok.error());
  }
  if (in.consumeIf(')')) {
    return options;
  }
  while (true) {
    auto option = in.keyword();
    if (!option) {
      return fail(option.error());
    }
    if (!known(allowed, *option)) {
      return fail(badSyntax("Unknown LIST option " + *option));
    }
    if (*option == "STATUS" && status_items != nullptr) {
      // RFC 5819 2: STATUS takes the same items as the STATUS command.
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
      ok = in.expect('(', "'(' before status items");
      if (!ok) {
        return fail(ok.error());
      }
      while (true) {
        auto item = in.keyword();
        if (!item) {
          return fail(item.error());
        }
        if (!isStatusItem(*item)) {
          return fail(badSyntax("Unknown STATUS item " + *item));
        }
        status_items->push_back(std::move(*item));
        if (in.consumeIf(')')) {
          break;
        }
        ok = in.sp();
        if (!ok) {
          return fail(ok.error());
        }
      }
    }
    options.push_back(std::move(*option));
    if (in.consumeIf(')')) {
      return options;
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
}

// A list-mailbox in modified UTF-7 or UTF-8, as UTF-8 (the wildcards are ASCII and stand for
// themselves).
Result<std::string, ParseError> listPattern(ArgParser& in) {
  auto pattern = in.listMailbox();
  if (!pattern) {
    return pattern;
  }
  return in.decodeName(*pattern);
}

}  // namespace

Result<ListArgs, ParseError> parseListArgs(ArgParser& in, ListSyntax syntax) {
  ListArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  const bool extended = syntax == ListSyntax::Extended;
  if (in.peek() == '(' && !in.atLiteral()) {
    if (!extended) {
      return fail(badSyntax("LSUB takes no selection options"));
    }
    auto options = parseOptions(in, kSelectOptions, nullptr);
    if (!options) {
      return fail(options.error());
    }
    args.select_options = std::move(*options);
    const auto& selected = args.select_options;
    if (std::find(selected.begin(), selected.end(), "RECURSIVEMATCH") != selected.end() &&
        std::none_of(selected.begin(), selected.end(), [](const std::string& option) {
          return option == "SUBSCRIBED" || option == "SPECIAL-USE";
        })) {
      return fail(badSyntax("RECURSIVEMATCH needs another selection option"));
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  // The reference is a plain mailbox name, so "inbox" is not folded to INBOX here: the
  // session joins reference and pattern before matching.
  auto reference = in.astring();
  if (!reference) {
    return fail(reference.error());
  }
  auto decoded_reference = in.decodeName(*reference);
  if (!decoded_reference) {
    return fail(decoded_reference.error());
  }
  args.reference = std::move(*decoded_reference);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  if (in.peek() == '(' && !in.atLiteral()) {
    if (!extended) {
      return fail(badSyntax("LSUB takes one pattern"));
    }
    in.consumeIf('(');
    while (true) {
      auto pattern = listPattern(in);
      if (!pattern) {
        return fail(pattern.error());
      }
      if (args.pattern.empty() && args.extra_patterns.empty()) {
        args.pattern = std::move(*pattern);
      } else {
        args.extra_patterns.push_back(std::move(*pattern));
      }
      if (in.consumeIf(')')) {
        break;
      }
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
    }
  } else {
    auto pattern = listPattern(in);
    if (!pattern) {
      return fail(pattern.error());
    }
    args.pattern = std::move(*pattern);
  }
  if (extended && in.consumeIf(' ') && !in.atEnd()) {
    auto word = in.keyword();
    if (!word || *word != "RETURN") {
      return fail(badSyntax("Expected RETURN"));
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto options = parseOptions(in, kReturnOptions, &args.return_status_items);
    if (!options) {
      return fail(options.error());
    }
    args.return_options = std::move(*options);
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
