#include "protocols/imap/threading.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <unordered_map>

namespace popbridge::imap {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// One Message-ID seen in the mailbox (RFC 5256 2.2 (1)): the message carrying it, if any, and
// its parent by the links made so far.
struct IdNode {
  std::uint32_t message = kNone;  // index in the messages, kNone for a dummy
  std::uint32_t parent = kNone;
};

// A thread root while steps (4) to (6) run.
struct Root {
  std::uint32_t node = kNone;
  bool dummy = false;
  bool ignore = false;            // merged into another thread, or a dummy left without children
  bool reply_or_forward = false;  // of the message whose subject stood for this root in (5)
  std::uint32_t parent_root = kNone;  // (5): the root whose thread this one joins
  std::int64_t date = 0;
  std::uint32_t uid = 0;
};

class ReferencesThreader {
 public:
  explicit ReferencesThreader(const std::vector<SortKeys>& messages) : messages_(messages) {}

  ThreadTree run() {
    link();
    collectRoots();
    sortRoots();
    gatherSubjects();
    if (mergeSubjects()) sortRoots();
    return tree();
  }

 private:
  std::uint32_t newNode() {
    nodes_.push_back(IdNode{});
    children_.emplace_back();
    hint_.push_back(0);
    hint_generation_.push_back(0);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  std::uint32_t idNode(const std::string& id) {
    auto [it, inserted] = ids_.try_emplace(id, kNone);
    if (inserted) it->second = newNode();
    return it->second;
  }

  // The root of `node`'s tree. Links never form a cycle, so the walk ends. Each node may carry
  // a hint: a node known to be its ancestor (or itself). While links are only added, an
  // ancestor stays an ancestor, so the walk may jump along hints, and it leaves hints to the
  // root behind (path compression): a References header that names deep nodes again and again
  // costs nearly constant time per name instead of the depth each time. Removing a link
  // (link(), a message's own parent) invalidates every hint at once by a new generation.
  std::uint32_t rootOf(std::uint32_t node) {
    std::uint32_t top = node;
    while (true) {
      if (hint_generation_[top] == generation_ && hint_[top] != top) {
        top = hint_[top];
      } else if (nodes_[top].parent != kNone) {
        top = nodes_[top].parent;
      } else {
        break;
      }
    }
    while (node != top) {
      const std::uint32_t next = hint_generation_[node] == generation_ && hint_[node] != node
                                     ? hint_[node]
                                     : nodes_[node].parent;
      hint_[node] = top;
      hint_generation_[node] = generation_;
      node = next;
    }
    return top;
  }

  // Makes `parent` the parent of `child` unless `child` already has one or the link would
  // close a loop (RFC 5256 2.2 (1)(A)). A parentless `child` is an ancestor of `parent` exactly
  // when it is the root of `parent`'s tree.
  void linkPair(std::uint32_t parent, std::uint32_t child) {
    if (nodes_[child].parent != kNone) return;
    if (rootOf(parent) == child) return;
    nodes_[child].parent = parent;
  }

  // (1): every message in UID order.
  void link() {
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      const SortKeys& m = messages_[i];
      std::uint32_t self = kNone;
      if (!m.message_id.empty()) {
        self = idNode(m.message_id);
        // (1) "If two or more messages have the same Message ID, assign a unique Message ID
        // to each of the duplicates": the first keeps it.
        if (nodes_[self].message != kNone) self = kNone;
      }
      if (self == kNone) self = newNode();
      nodes_[self].message = static_cast<std::uint32_t>(i);
      std::uint32_t parent = kNone;
      for (const std::string& reference : m.references) {
        const std::uint32_t next = idNode(reference);
        if (parent != kNone) linkPair(parent, next);
        parent = next;
      }
      // (1)(B): the last reference is the message's parent, replacing one an earlier message's
      // References gave it.
      if (nodes_[self].parent != kNone && nodes_[self].parent != parent) {
        nodes_[self].parent = kNone;
        ++generation_;  // a link is gone: ancestors may have changed
      }
      if (parent != kNone) linkPair(parent, self);
    }
  }

  // (2) and (3): roots are the nodes without a parent; every message becomes a child of its
  // nearest ancestor that is a message, or of the root dummy above it; other dummies vanish.
  void collectRoots() {
    for (std::uint32_t idx = 0; idx < nodes_.size(); ++idx) {
      const IdNode& node = nodes_[idx];
      if (node.parent == kNone) {
        Root root;
        root.node = idx;
        root.dummy = node.message == kNone;
        roots_.push_back(root);
        continue;
      }
      if (node.message == kNone) continue;
      std::uint32_t parent = node.parent;
      while (nodes_[parent].message == kNone && nodes_[parent].parent != kNone) {
        parent = nodes_[parent].parent;
      }
      children_[parent].push_back(idx);
    }
  }

  std::int64_t dateOf(std::uint32_t node) const { return messages_[nodes_[node].message].sent; }
  std::uint32_t uidOf(std::uint32_t node) const { return messages_[nodes_[node].message].number; }

  // (6): by sent date, then UID.
  std::vector<std::uint32_t> sortedChildren(std::uint32_t node) const {
    std::vector<std::uint32_t> sorted = children_[node];
    std::sort(sorted.begin(), sorted.end(), [&](std::uint32_t a, std::uint32_t b) {
      const std::int64_t da = dateOf(a);
      const std::int64_t db = dateOf(b);
      if (da != db) return da < db;
      return uidOf(a) < uidOf(b);
    });
    return sorted;
  }

  // (4) for the roots (a dummy with one child gives way to it) and (6) for the root level.
  void sortRoots() {
    for (Root& root : roots_) {
      if (root.ignore) continue;
      if (root.dummy) {
        if (children_[root.node].empty()) {
          root.ignore = true;
          continue;
        }
        const std::vector<std::uint32_t> sorted = sortedChildren(root.node);
        if (sorted.size() == 1) {
          root.node = sorted.front();
          root.dummy = false;
        } else {
          root.date = dateOf(sorted.front());
          root.uid = uidOf(sorted.front());
          continue;
        }
      }
      root.date = dateOf(root.node);
      root.uid = uidOf(root.node);
    }
    std::sort(roots_.begin(), roots_.end(), [](const Root& a, const Root& b) {
      if (a.date != b.date) return a.date < b.date;
      return a.uid < b.uid;
    });
  }

  // (5)(A) and (B): the subject table. A dummy root stands by its oldest child's subject.
  void gatherSubjects() {
    std::unordered_map<std::string_view, std::uint32_t> table;
    for (std::uint32_t i = 0; i < roots_.size(); ++i) {
      Root& root = roots_[i];
      if (root.ignore) continue;
      const std::uint32_t node = root.dummy ? sortedChildren(root.node).front() : root.node;
      const SortKeys& m = messages_[nodes_[node].message];
      if (!m.has_subject || m.subject.empty()) continue;
      auto [it, inserted] = table.try_emplace(m.subject, i);
      if (!inserted) {
        Root& held = roots_[it->second];
        // A dummy, or a message that is no reply, is the better thread parent.
        if (!held.dummy && (root.dummy || (held.reply_or_forward && !m.reply_or_forward))) {
          held.parent_root = i;
          it->second = i;
        } else {
          root.parent_root = it->second;
        }
      }
      root.reply_or_forward = m.reply_or_forward;
    }
  }

  // (5)(C): joins each root that found an earlier one of its subject with the thread the
  // subject table finally holds. Returns whether any root moved.
  bool mergeSubjects() {
    bool changed = false;
    const std::size_t count = roots_.size();
    for (std::size_t i = 0; i < count; ++i) {
      if (roots_[i].parent_root == kNone || roots_[i].ignore) continue;
      changed = true;
      std::uint32_t top = roots_[i].parent_root;
      while (roots_[top].parent_root != kNone) top = roots_[top].parent_root;
      Root& cur = roots_[i];
      Root& held = roots_[top];
      if (cur.dummy) {
        // Both dummies: the children become siblings.
        auto& moved = children_[cur.node];
        children_[held.node].insert(children_[held.node].end(), moved.begin(), moved.end());
        moved.clear();
        cur.ignore = true;
      } else if (held.dummy || (cur.reply_or_forward && !held.reply_or_forward)) {
        children_[held.node].push_back(cur.node);
        cur.ignore = true;
      } else {
        Root dummy;
        dummy.node = newNode();
        dummy.dummy = true;
        children_[dummy.node] = {held.node, cur.node};
        held.parent_root = static_cast<std::uint32_t>(roots_.size());
        held.ignore = true;
        cur.ignore = true;
        roots_.push_back(dummy);  // invalidates `cur` and `held`
      }
    }
    return changed;
  }

  ThreadTree tree() const {
    ThreadTree out;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> todo;  // (id node, tree node)
    for (const Root& root : roots_) {
      if (root.ignore) continue;
      const auto index = static_cast<std::uint32_t>(out.nodes.size());
      out.nodes.push_back(ThreadTree::Node{root.dummy ? 0 : uidOf(root.node), {}});
      out.roots.push_back(index);
      todo.emplace_back(root.node, index);
    }
    while (!todo.empty()) {
      const auto [node, index] = todo.back();
      todo.pop_back();
      for (const std::uint32_t child : sortedChildren(node)) {
        const auto child_index = static_cast<std::uint32_t>(out.nodes.size());
        out.nodes.push_back(ThreadTree::Node{uidOf(child), {}});
        out.nodes[index].children.push_back(child_index);
        todo.emplace_back(child, child_index);
      }
    }
    return out;
  }

  const std::vector<SortKeys>& messages_;
  std::vector<IdNode> nodes_;
  std::vector<std::vector<std::uint32_t>> children_;  // per node, after (3)
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::vector<Root> roots_;
  std::vector<std::uint32_t> hint_;             // per node: an ancestor (see rootOf())
  std::vector<std::uint32_t> hint_generation_;  // per node: the generation its hint is of
  std::uint32_t generation_ = 1;
};

void appendNumber(std::string& out, std::uint32_t n) { out += std::to_string(n); }

}  // namespace

ThreadTree threadOrderedSubject(std::vector<SortKeys> messages) {
  std::sort(messages.begin(), messages.end(), [](const SortKeys& a, const SortKeys& b) {
    if (a.subject != b.subject) return a.subject < b.subject;
    if (a.sent != b.sent) return a.sent < b.sent;
    return a.number < b.number;
  });
  ThreadTree out;
  struct Thread {
    std::int64_t date;
    std::uint32_t number;
    std::uint32_t node;
  };
  std::vector<Thread> threads;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const SortKeys& m = messages[i];
    const auto index = static_cast<std::uint32_t>(out.nodes.size());
    out.nodes.push_back(ThreadTree::Node{m.number, {}});
    if (i > 0 && messages[i - 1].subject == m.subject) {
      out.nodes[threads.back().node].children.push_back(index);
    } else {
      threads.push_back(Thread{m.sent, m.number, index});
    }
  }
  std::sort(threads.begin(), threads.end(), [](const Thread& a, const Thread& b) {
    if (a.date != b.date) return a.date < b.date;
    return a.number < b.number;
  });
  for (const Thread& thread : threads) out.roots.push_back(thread.node);
  return out;
}

ThreadTree threadReferences(const std::vector<SortKeys>& messages) {
  return ReferencesThreader(messages).run();
}

void appendThreadResponse(std::string& out, const ThreadTree& tree) {
  out += "* THREAD";
  if (!tree.roots.empty()) out += ' ';
  // One frame per list being written. A list of several (and the root list) gives each member
  // its own parentheses; a single child simply follows its parent (thread-members).
  struct Frame {
    const std::vector<std::uint32_t>* list;
    std::size_t next;
    bool parenthesised;
    bool close;  // write ")" when done
  };
  std::vector<Frame> frames;
  frames.push_back(Frame{&tree.roots, 0, true, false});
  while (!frames.empty()) {
    Frame& frame = frames.back();
    if (frame.next == frame.list->size()) {
      const bool close = frame.close;
      frames.pop_back();
      if (close) out += ')';
      continue;
    }
    const ThreadTree::Node& node = tree.nodes[(*frame.list)[frame.next++]];
    const bool parenthesised = frame.parenthesised;
    if (!parenthesised) {
      appendNumber(out, node.number);
      if (!node.children.empty()) {
        out += ' ';
        frames.push_back(Frame{&node.children, 0, node.children.size() != 1, false});
      }
      continue;
    }
    out += '(';
    if (node.children.empty()) {
      appendNumber(out, node.number);
      out += ')';
      continue;
    }
    if (node.number != 0) {
      appendNumber(out, node.number);
      out += ' ';
    }
    // A dummy's children are always listed one by one: it has at least two.
    frames.push_back(Frame{&node.children, 0, node.number == 0 || node.children.size() != 1, true});
  }
  out += "\r\n";
}

}  // namespace popbridge::imap
