// libFuzzer target for what SORT and THREAD read from message headers (RFC 5256): the header
// field reader, the base subject, message-id lists, both threading algorithms and the THREAD
// response.
//
// The input is split at NUL bytes into the header blocks of a small mailbox (UIDs 1..n).
// Properties checked (any violation aborts):
// - nothing crashes or hangs;
// - the base subject never grows, never starts or ends with a space, and has no lowercase ASCII
//   letter; message ids are "<...>" without white space;
// - each algorithm's tree holds every message exactly once, dummies only as roots with at least
//   two children, and sortNumbers() returns a permutation of the numbers;
// - the THREAD response is one line of balanced parentheses naming every message once.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/base_subject.h"
#include "protocols/imap/sort_keys.h"
#include "protocols/imap/threading.h"

namespace {

using namespace popbridge::imap;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkTree(const ThreadTree& tree, std::size_t count) {
  std::vector<int> seen(count + 1, 0);
  std::vector<bool> is_root(tree.nodes.size(), false);
  for (const std::uint32_t root : tree.roots) {
    check(root < tree.nodes.size());
    is_root[root] = true;
  }
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    const ThreadTree::Node& node = tree.nodes[i];
    if (node.number == 0) {
      check(is_root[i]);
      check(node.children.size() >= 2);
    } else {
      check(node.number <= count);
      ++seen[node.number];
    }
    for (const std::uint32_t child : node.children) check(child < tree.nodes.size());
  }
  for (std::size_t n = 1; n <= count; ++n) check(seen[n] == 1);

  std::string out;
  appendThreadResponse(out, tree);
  check(out.starts_with("* THREAD") && out.ends_with("\r\n"));
  check(out.find('\n') == out.size() - 1);
  int depth = 0;
  std::vector<int> listed(count + 1, 0);
  std::uint64_t number = 0;
  bool in_number = false;
  for (const char c : std::string_view(out).substr(8)) {
    if (c >= '0' && c <= '9') {
      number = number * 10 + static_cast<std::uint64_t>(c - '0');
      in_number = true;
      continue;
    }
    if (in_number) {
      check(number >= 1 && number <= count);
      ++listed[number];
      number = 0;
      in_number = false;
    }
    if (c == '(') ++depth;
    if (c == ')') --depth;
    check(depth >= 0);
  }
  check(depth == 0);
  for (std::size_t n = 1; n <= count; ++n) check(listed[n] == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const BaseSubject subject = baseSubject(input);
  check(subject.text.size() <= input.size() * 4 + 16);  // decoding may expand a little
  check(subject.text.empty() || (subject.text.front() != ' ' && subject.text.back() != ' '));
  for (const char c : subject.text) check(c < 'a' || c > 'z');
  for (const std::string& id : messageIds(input)) {
    check(id.size() >= 3 && id.front() == '<' && id.back() == '>');
    check(id.find_first_of(" \t\r\n") == std::string::npos);
  }

  std::vector<SortKeys> messages;
  std::size_t start = 0;
  while (start <= input.size() && messages.size() < 64) {
    std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    const auto uid = static_cast<std::uint32_t>(messages.size() + 1);
    messages.push_back(sortKeys(input.substr(start, end - start), uid, uid * 7, end - start));
    start = end + 1;
  }
  const std::size_t count = messages.size();
  checkTree(threadReferences(messages), count);
  checkTree(threadOrderedSubject(messages), count);
  const std::vector<std::uint32_t> sorted =
      sortNumbers(messages, {{SortKey::Subject, true}, {SortKey::From, false}});
  check(sorted.size() == count);
  std::vector<bool> seen(count + 1, false);
  for (const std::uint32_t n : sorted) {
    check(n >= 1 && n <= count && !seen[n]);
    seen[n] = true;
  }
  return 0;
}
