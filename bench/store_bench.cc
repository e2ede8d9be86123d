// Store benchmark: ingest rate in durable batches, the latency of one durable single-message
// append, and SEARCH TEXT / BODY time over N messages in one mailbox, through the store's public
// API (UserStore::append and UserStore::search) only, so it builds against any version of the
// store. See bench/README.md.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "store/search.h"
#include "store/store.h"
#include "store/user_store.h"

namespace {

using popbridge::store::NewMessage;
using popbridge::store::SearchNode;
using popbridge::store::SearchQuery;
using popbridge::store::Store;
using popbridge::store::UserStore;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t messages = 100000;
  std::size_t size = 10 * 1024;
  std::size_t batch = 100;
  int repeats = 3;
  std::filesystem::path dir;
  bool keep = false;
  std::vector<std::string> needles;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time (user + system) of this process so far: on a shared machine the wall time depends on
// what else runs, the CPU time much less.
double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: store_bench [--messages N] [--size BYTES] [--batch N] [--repeats N]\n"
               "                   [--dir PATH] [--keep] [--needle TEXT]...\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (arg == "--messages") {
      options.messages = std::stoul(value());
    } else if (arg == "--size") {
      options.size = std::stoul(value());
    } else if (arg == "--batch") {
      options.batch = std::max<std::size_t>(1, std::stoul(value()));
    } else if (arg == "--repeats") {
      options.repeats = std::max(1, std::stoi(value()));
    } else if (arg == "--dir") {
      options.dir = value();
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--needle") {
      options.needles.push_back(value());
    } else {
      usage();
    }
  }
  if (options.needles.empty()) {
    // A common word, a word in about 1% of the messages, one in none, a 2-letter needle and a
    // phrase across words.
    options.needles = {"word", "quarterly", "zyxwvut", "qz", "budget review"};
  }
  return options;
}

// Deterministic text: words from a fixed vocabulary with a Zipf-like skew, so that a few words
// are in nearly every message and most in few. "word" is among the most common; "quarterly"
// goes into every 100th message; "budget review" into every 50th.
class Corpus {
 public:
  Corpus() {
    std::mt19937 rng(42);
    for (int i = 0; i < 20000; ++i) {
      std::string w;
      const int length = 3 + static_cast<int>(rng() % 8);
      for (int j = 0; j < length; ++j) w += static_cast<char>('a' + rng() % 26);
      vocabulary_.push_back(w);
    }
    vocabulary_[3] = "word";
  }

  std::string message(std::size_t index, std::size_t size) {
    std::mt19937 rng(static_cast<std::uint32_t>(index) * 2654435761u + 1);
    std::string out = "From: Sender " + std::to_string(index % 97) + " <s" +
                      std::to_string(index % 97) + "@example.org>\r\nTo: alice@example.org\r\n";
    out += "Subject: message " + std::to_string(index) + " about " + pick(rng) + " " + pick(rng) +
           "\r\nDate: Mon, 4 Mar 2024 10:00:00 +0000\r\nMessage-ID: <" + std::to_string(index) +
           "@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
    if (index % 100 == 7) out += "The quarterly numbers are attached.\r\n";
    if (index % 50 == 3) out += "Please see the budget review below.\r\n";
    std::size_t line = 0;
    while (out.size() < size) {
      std::string w = pick(rng);
      if (line + w.size() + 1 > 72) {
        out += "\r\n";
        line = 0;
      } else if (line > 0) {
        out += ' ';
        ++line;
      }
      out += w;
      line += w.size();
    }
    out += "\r\n";
    return out;
  }

 private:
  std::string pick(std::mt19937& rng) {
    // Zipf-like: the rank is the square of a uniform draw, scaled.
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto rank = static_cast<std::size_t>(u * u * u * static_cast<double>(vocabulary_.size()));
    return vocabulary_[std::min(rank, vocabulary_.size() - 1)];
  }
  std::vector<std::string> vocabulary_;
};

NewMessage stage(UserStore& user, const std::string& content) {
  auto staged = user.stageMessage();
  if (!staged) {
    std::fprintf(stderr, "stage: %s\n", staged.error().message.c_str());
    std::exit(1);
  }
  if (auto written = staged->write(content); !written) {
    std::fprintf(stderr, "write: %s\n", written.error().message.c_str());
    std::exit(1);
  }
  return NewMessage{std::move(*staged), 1709546400, 0, {}, std::nullopt};
}

// Deferred indexing (UserStore::indexPending, where the store has it): runs it in jobs of `batch`
// bodies until nothing is pending, as the daemon does when the write queue is idle. Returns false
// for a store without deferred indexing, which indexes inside append().
template <class User>
bool drainIndex(User& user, std::size_t batch) {
  if constexpr (requires { user.indexPending(batch); }) {
    std::size_t total = 0;
    std::size_t jobs = 0;
    double longest = 0;
    const auto start = Clock::now();
    const double cpu_start = cpuSeconds();
    while (true) {
      const auto job_start = Clock::now();
      auto indexed = user.indexPending(batch);
      longest = std::max(longest, seconds(Clock::now() - job_start));
      if (!indexed) {
        std::fprintf(stderr, "indexPending: %s\n", indexed.error().message.c_str());
        std::exit(1);
      }
      if (*indexed == 0) break;
      total += *indexed;
      ++jobs;
    }
    const double wall = seconds(Clock::now() - start);
    const double cpu = cpuSeconds() - cpu_start;
    std::printf(
        "index drain: %zu bodies in %zu jobs of up to %zu: %.1f s, %.0f bodies/s; CPU %.1f s; "
        "longest job %.1f ms\n",
        total, jobs, batch, wall, wall > 0 ? static_cast<double>(total) / wall : 0.0, cpu,
        longest * 1e3);
    return true;
  } else {
    return false;
  }
}

std::uintmax_t directoryBytes(const std::filesystem::path& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  const bool own_dir = options.dir.empty();
  if (own_dir) {
    options.dir = std::filesystem::temp_directory_path() /
                  ("pb_store_bench_" + std::to_string(static_cast<long>(::getpid())));
  }
  auto store = Store::open(options.dir);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
    return 1;
  }
  auto user = (*store)->user("bench");
  if (!user) {
    std::fprintf(stderr, "user: %s\n", user.error().message.c_str());
    return 1;
  }
  UserStore& alice = **user;
  Corpus corpus;
  const auto inbox = alice.mailbox("INBOX");
  if (!inbox) return 1;
  std::size_t existing = inbox->messages;

  // 1. Ingest in durable batches (skipped for messages already there from a kept run).
  std::uint64_t bytes = 0;
  const auto ingest_start = Clock::now();
  const double ingest_cpu_start = cpuSeconds();
  for (std::size_t i = existing; i < options.messages; i += options.batch) {
    std::vector<NewMessage> batch;
    for (std::size_t j = i; j < std::min(options.messages, i + options.batch); ++j) {
      const std::string content = corpus.message(j, options.size);
      bytes += content.size();
      batch.push_back(stage(alice, content));
    }
    if (auto appended = alice.append("INBOX", std::move(batch)); !appended) {
      std::fprintf(stderr, "append: %s\n", appended.error().message.c_str());
      return 1;
    }
    if ((i / options.batch) % 100 == 0) {
      std::fprintf(stderr, "\ringested %zu", i);
    }
  }
  const double ingest = seconds(Clock::now() - ingest_start);
  const double ingest_cpu = cpuSeconds() - ingest_cpu_start;
  const std::size_t added = options.messages > existing ? options.messages - existing : 0;
  std::fprintf(stderr, "\r                    \r");
  if (added > 0) {
    std::printf(
        "ingest: %zu messages (%.1f MB) in batches of %zu: %.1f s, %.0f messages/s; CPU %.1f s, "
        "%.0f messages per CPU second\n",
        added, static_cast<double>(bytes) / 1e6, options.batch, ingest,
        static_cast<double>(added) / ingest, ingest_cpu, static_cast<double>(added) / ingest_cpu);
  }

  // 1b. The deferred index, drained before the searches below.
  if (!drainIndex(alice, 16)) std::printf("index drain: none (indexed inside append)\n");

  // 2. One durable single-message append, several times (median).
  std::vector<double> singles;
  for (std::size_t r = 0; r < 21; ++r) {
    std::vector<NewMessage> one;
    one.push_back(stage(alice, corpus.message(options.messages + 1000 + r, options.size)));
    const auto start = Clock::now();
    auto appended = alice.append("INBOX", std::move(one));
    singles.push_back(seconds(Clock::now() - start));
    if (!appended) return 1;
    // Remove it again so the searched mailbox keeps exactly N messages.
    const std::uint32_t uid = appended->appended.front().uid;
    const std::vector<std::uint32_t> uids{uid};
    (void)alice.storeFlags(inbox->id, uids, popbridge::store::FlagOp::Add,
                           popbridge::store::Flags{popbridge::store::kDeleted, {}});
    (void)alice.expunge(inbox->id, uids);
  }
  std::sort(singles.begin(), singles.end());
  std::printf("single-message durable append: median %.2f ms (min %.2f, max %.2f, 21 runs)\n",
              singles[singles.size() / 2] * 1e3, singles.front() * 1e3, singles.back() * 1e3);

  // 3. SEARCH TEXT / BODY over the mailbox.
  const auto now_inbox = alice.mailbox("INBOX");
  if (!now_inbox) return 1;
  std::printf("search over %u messages (%d runs each; wall min / median, CPU min):\n",
              now_inbox->messages, options.repeats);
  for (const auto kind : {SearchNode::Kind::Text, SearchNode::Kind::Body}) {
    for (const std::string& needle : options.needles) {
      SearchQuery query;
      SearchNode node;
      node.kind = kind;
      node.value = needle;
      node.end = 1;
      query.nodes.push_back(node);
      std::vector<double> times;
      std::vector<double> cpu;
      std::size_t found = 0;
      for (int r = 0; r < options.repeats; ++r) {
        const auto start = Clock::now();
        const double cpu_start = cpuSeconds();
        auto result = alice.search(inbox->id, query);
        times.push_back(seconds(Clock::now() - start));
        cpu.push_back(cpuSeconds() - cpu_start);
        if (!result) {
          std::fprintf(stderr, "search: %s\n", result.error().message.c_str());
          return 1;
        }
        found = result->size();
      }
      std::sort(times.begin(), times.end());
      std::sort(cpu.begin(), cpu.end());
      std::printf("  %s \"%s\": %zu found, %.3f s / %.3f s, CPU %.3f s\n",
                  kind == SearchNode::Kind::Text ? "TEXT" : "BODY", needle.c_str(), found,
                  times.front(), times[times.size() / 2], cpu.front());
    }
  }
  const auto user_dir = alice.directory();
  std::error_code ec;
  const auto fileBytes = [&](const char* name) {
    const auto size = std::filesystem::file_size(user_dir / name, ec);
    return ec ? 0.0 : static_cast<double>(size) / 1e6;
  };
  std::printf("disk: meta.sqlite %.1f MB, WAL %.1f MB, blobs %.1f MB\n", fileBytes("meta.sqlite"),
              fileBytes("meta.sqlite-wal"),
              static_cast<double>(directoryBytes(user_dir / "blobs")) / 1e6);
  user->reset();
  store->reset();
  if (own_dir && !options.keep) {
    std::error_code remove_ec;
    std::filesystem::remove_all(options.dir, remove_ec);
  } else {
    std::printf("store kept in %s\n", options.dir.c_str());
  }
  return 0;
}
