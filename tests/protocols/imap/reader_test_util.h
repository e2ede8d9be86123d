#pragma once

// Helpers for CommandReader tests: feed input in various splits and compare what comes out
// (STYLE.md 8.2: whole, byte by byte, and split at every offset).

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command_reader.h"

namespace popbridge::imap::test {

inline std::string dumpStrings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    out += "<" + item + ">";
  }
  return out + "]";
}

inline std::string dumpSection(const Section& s) {
  std::string out = "part=";
  for (auto p : s.part) {
    out += std::to_string(p) + ".";
  }
  out += " text=" + std::to_string(static_cast<int>(s.text)) + " fields=" + dumpStrings(s.fields);
  return out;
}

inline std::string dumpArgs(const CommandArgs& args) {
  struct Visitor {
    std::string operator()(const NoArgs&) const { return "NoArgs"; }
    std::string operator()(const LoginArgs& a) const {
      return "Login<" + a.user + "><" + a.password + ">";
    }
    std::string operator()(const AuthenticateArgs& a) const {
      return "Auth<" + a.mechanism + ">" +
             (a.initial_response ? "<" + *a.initial_response + ">" : "-");
    }
    std::string operator()(const SelectArgs& a) const {
      std::string out = "Select<" + a.mailbox + ">" + (a.condstore ? " condstore" : "");
      if (a.qresync) {
        out += " qresync " + std::to_string(a.qresync->uidvalidity) + " " +
               std::to_string(a.qresync->modseq) + " " +
               (a.qresync->known_uids ? a.qresync->known_uids->toString() : "-") + " " +
               (a.qresync->known_sequence_set ? a.qresync->known_sequence_set->toString() : "-") +
               " " + (a.qresync->known_uid_set ? a.qresync->known_uid_set->toString() : "-");
      }
      return out;
    }
    std::string operator()(const ListArgs& a) const {
      return "List<" + a.reference + "><" + a.pattern + ">" + dumpStrings(a.extra_patterns) +
             " sel=" + dumpStrings(a.select_options) + " ret=" + dumpStrings(a.return_options) +
             " status=" + dumpStrings(a.return_status_items);
    }
    std::string operator()(const StatusArgs& a) const {
      return "Status<" + a.mailbox + ">" + dumpStrings(a.items);
    }
    std::string operator()(const CreateArgs& a) const {
      std::string out = "Create<" + a.mailbox + ">";
      for (const auto& use : a.use) out += "<" + use + ">";
      return out;
    }
    std::string operator()(const RenameArgs& a) const {
      return "Rename<" + a.from + "><" + a.to + ">";
    }
    std::string operator()(const FetchArgs& a) const {
      std::string out = "Fetch " + a.set.toString();
      for (const auto& att : a.atts) {
        out += " {kind=" + std::to_string(static_cast<int>(att.kind)) +
               (att.peek ? " peek " : " ") + dumpSection(att.section);
        if (att.partial) {
          out += " <" + std::to_string(att.partial->offset) + "." +
                 std::to_string(att.partial->length) + ">";
        }
        out += "}";
      }
      if (a.changed_since) {
        out += " changedsince=" + std::to_string(*a.changed_since);
      }
      if (a.vanished) {
        out += " vanished";
      }
      return out;
    }
    std::string operator()(const StoreArgs& a) const {
      return "Store " + a.set.toString() + " mode=" + std::to_string(static_cast<int>(a.mode)) +
             (a.silent ? " silent " : " ") + dumpStrings(a.flags) +
             (a.unchanged_since ? " unchangedsince=" + std::to_string(*a.unchanged_since) : "");
    }
    std::string operator()(const CopyArgs& a) const {
      return "Copy " + a.set.toString() + " <" + a.mailbox + ">";
    }
    std::string operator()(const ExpungeArgs& a) const {
      return "Expunge " + (a.uids ? a.uids->toString() : "-");
    }
    std::string operator()(const CompressArgs& a) const { return "Compress<" + a.mechanism + ">"; }
    std::string operator()(const EnableArgs& a) const {
      return "Enable " + dumpStrings(a.capabilities);
    }
    std::string operator()(const IdArgs& a) const {
      std::string out = "Id";
      for (const auto& [k, v] : a.fields) {
        out += " <" + k + "=" + v + ">";
      }
      return out;
    }
    std::string operator()(const AppendArgs& a) const {
      std::string out = "Append<" + a.mailbox + ">";
      for (const AppendMessage& m : a.messages) {
        out += dumpStrings(m.flags) + "<" + m.internal_date.value_or("-") + "><" + m.message + ">" +
               (m.binary ? " binary" : "") +
               (m.streamed
                    ? " streamed#" + std::to_string(*m.streamed) + " size " + std::to_string(m.size)
                    : "");
      }
      return out;
    }
    std::string operator()(const QuotaArgs& a) const {
      std::string out = "Quota <" + a.name + ">";
      for (const auto& [resource, limit] : a.limits) {
        out += " " + resource + "=" + std::to_string(limit);
      }
      return out;
    }
    std::string operator()(const SortArgs& a) const {
      std::string out = "Sort";
      for (const auto& c : a.criteria) {
        out += std::string(c.reverse ? " -" : " +") + std::to_string(static_cast<int>(c.key));
      }
      return out + " charset=<" + a.charset + "> " + (*this)(a.search);
    }
    std::string operator()(const ThreadArgs& a) const {
      return std::string("Thread ") +
             (a.algorithm == ThreadAlgorithm::References ? "REFERENCES" : "ORDEREDSUBJECT") +
             " charset=<" + a.charset + "> " + (*this)(a.search);
    }
    std::string operator()(const SearchArgs& a) const {
      std::string out = "Search charset=<" + a.charset.value_or("-") + ">";
      for (const auto& key : a.keys) {
        out += " {" + std::to_string(static_cast<int>(key.kind)) +
               " end=" + std::to_string(key.end) + " <" + key.field + "><" + key.value + "> " +
               std::to_string(key.number) + " " + std::to_string(key.day) + " " +
               key.set.toString() + "}";
      }
      return out;
    }
  };
  return std::visit(Visitor{}, args);
}

inline std::string dump(const ReadResult& result) {
  struct Visitor {
    std::string operator()(const NeedMore&) const { return "NeedMore"; }
    std::string operator()(const NeedContinuation& c) const {
      return "Continue " + std::to_string(c.literal_size);
    }
    std::string operator()(const Command& c) const {
      return "Command " + c.tag + (c.uid ? " UID " : " ") + c.name + " " + dumpArgs(c.args);
    }
    std::string operator()(const Line& l) const { return "Line <" + l.text + ">"; }
    std::string operator()(const ParseError& e) const {
      return "Error " + std::to_string(static_cast<int>(e.kind)) + " tag=<" + e.tag + ">";
    }
    std::string operator()(const LiteralBegin& b) const {
      return "Begin " + std::to_string(b.size) + (b.binary ? " binary" : "") +
             (b.sync ? " sync" : "");
    }
    std::string operator()(const LiteralChunk& c) const {
      return "Chunk <" + std::string(c.bytes) + ">";
    }
  };
  return std::visit(Visitor{}, result);
}

// Copies of LiteralChunk bytes, which otherwise borrow a reader's buffer; kept for the test
// program's life (tests feed little).
inline std::string_view keepChunk(std::string_view bytes) {
  static std::deque<std::string> kept;
  return kept.emplace_back(bytes);
}

// What the test does with each streamed literal announced: accept it, or refuse it at once
// (CommandReader::refuseLiteral(), as the session does for a missing mailbox or a full quota).
enum class OnBegin { Accept, Refuse };

// Feeds `input` cut at `cuts` (ascending offsets) and returns every event but NeedMore.
// `streamed_limit` is passed to CommandReader::setStreamedLiteralLimit().
inline std::vector<ReadResult> readEvents(std::string_view input,
                                          const std::vector<std::size_t>& cuts,
                                          const Limits& limits = {},
                                          std::uint64_t streamed_limit = 0,
                                          OnBegin on_begin = OnBegin::Accept) {
  CommandReader reader(limits);
  reader.setStreamedLiteralLimit(streamed_limit);
  std::vector<ReadResult> events;
  std::size_t start = 0;
  auto drain = [&] {
    while (true) {
      ReadResult result = reader.next();
      if (std::holds_alternative<NeedMore>(result)) {
        return;
      }
      if (auto* chunk = std::get_if<LiteralChunk>(&result)) {
        chunk->bytes = keepChunk(chunk->bytes);
      }
      if (std::holds_alternative<LiteralBegin>(result) && on_begin == OnBegin::Refuse) {
        reader.refuseLiteral();
      }
      events.push_back(std::move(result));
    }
  };
  for (std::size_t cut : cuts) {
    reader.feed(input.substr(start, cut - start));
    drain();
    start = cut;
  }
  reader.feed(input.substr(start));
  drain();
  return events;
}

// Consecutive LiteralChunks are shown as one: how a streamed literal is cut depends on how the
// input arrived.
inline std::vector<std::string> dumpAll(const std::vector<ReadResult>& events) {
  std::vector<std::string> out;
  bool chunk = false;
  for (const auto& event : events) {
    if (const auto* c = std::get_if<LiteralChunk>(&event)) {
      if (chunk) {
        out.back().insert(out.back().size() - 1, c->bytes);
        continue;
      }
      chunk = true;
    } else {
      chunk = false;
    }
    out.push_back(dump(event));
  }
  return out;
}

// Reads `input` whole, byte by byte and split at every offset into two feeds; expects the same
// events each time and returns them (from the whole feed).
inline std::vector<ReadResult> readEverySplit(std::string_view input, const Limits& limits = {},
                                              std::uint64_t streamed_limit = 0,
                                              OnBegin on_begin = OnBegin::Accept) {
  std::vector<ReadResult> whole = readEvents(input, {}, limits, streamed_limit, on_begin);
  const std::vector<std::string> expected = dumpAll(whole);
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) {
    every.push_back(i);
  }
  EXPECT_EQ(dumpAll(readEvents(input, every, limits, streamed_limit, on_begin)), expected)
      << "byte by byte: " << input;
  for (std::size_t i = 1; i < input.size(); ++i) {
    EXPECT_EQ(dumpAll(readEvents(input, {i}, limits, streamed_limit, on_begin)), expected)
        << "split at " << i << ": " << input;
  }
  return whole;
}

// The single Command that `input` yields in every split; fails the test otherwise.
inline Command readOneCommand(std::string_view input) {
  std::vector<ReadResult> events = readEverySplit(input);
  std::vector<ReadResult> commands;
  for (auto& event : events) {
    if (!std::holds_alternative<NeedContinuation>(event)) {
      commands.push_back(std::move(event));
    }
  }
  EXPECT_EQ(commands.size(), 1u) << input;
  if (commands.size() != 1 || !std::holds_alternative<Command>(commands[0])) {
    ADD_FAILURE() << "not a command: " << input << " -> "
                  << (commands.empty() ? "nothing" : dump(commands[0]));
    return Command{};
  }
  return std::get<Command>(std::move(commands[0]));
}

// The single ParseError that `input` yields in every split.
inline ParseError readOneError(std::string_view input, const Limits& limits = {}) {
  std::vector<ReadResult> events = readEverySplit(input, limits);
  for (auto& event : events) {
    if (auto* error = std::get_if<ParseError>(&event)) {
      return *error;
    }
  }
  ADD_FAILURE() << "no error for: " << input;
  return ParseError{};
}

}  // namespace popbridge::imap::test
