#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/imap/special_use.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

constexpr char kDelimiter = '/';

bool matches(const std::string& pattern, const std::string& name) {
  if (popbridge::imap::listMatch(pattern, name, kDelimiter)) return true;
  // INBOX is case-insensitive (RFC 3501 5.1): "inbox" and "Inbox*" find it too.
  if (name == "INBOX" || name.starts_with("INBOX/")) {
    std::string upper = pattern;
    const std::size_t prefix = std::min<std::size_t>(5, upper.size());
    std::transform(upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(prefix),
                   upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
    return popbridge::imap::listMatch(upper, name, kDelimiter);
  }
  return false;
}

bool has(const std::vector<std::string>& options, std::string_view option) {
  return std::find(options.begin(), options.end(), option) != options.end();
}

// What one LIST, LSUB or XLIST asks for.
struct Request {
  std::string verb;                   // LIST, LSUB or XLIST
  bool extended = false;              // RFC 5258 syntax was used: \NonExistent over \Noselect
  bool select_subscribed = false;     // LIST (SUBSCRIBED ...)
  bool select_special_use = false;    // LIST (SPECIAL-USE ...), RFC 6154 3
  bool recursive_match = false;       // RECURSIVEMATCH with SUBSCRIBED: CHILDINFO
  bool return_subscribed = false;     // \Subscribed on every subscribed name
  std::vector<std::string> status;    // RETURN (STATUS (...)), RFC 5819
  std::vector<std::string> patterns;  // reference joined to each pattern
};

struct Snapshot {
  std::vector<store::MailboxInfo> mailboxes;
  std::vector<std::string> subscriptions;
};

// One name the reply may mention: an existing mailbox, a subscribed name or a level above one.
struct Node {
  const store::MailboxInfo* mailbox = nullptr;  // null when no mailbox has this name
  bool subscribed = false;
  bool selected = false;             // meets the selection options (RFC 5258 3)
  bool existing_child = false;       // an existing mailbox below it (\HasChildren)
  bool selected_descendant = false;  // a selected name below it (CHILDINFO)
  bool hidden_descendant = false;    // a selected name below it that no pattern matches
};

bool matchesAny(const Request& request, const std::string& name) {
  return std::any_of(request.patterns.begin(), request.patterns.end(),
                     [&](const std::string& pattern) { return matches(pattern, name); });
}

// Calls `visit` with each strict ancestor of `name` ("a" and "a/b" for "a/b/c").
template <class Visit>
void forEachAncestor(const std::string& name, Visit visit) {
  for (std::size_t slash = name.find(kDelimiter); slash != std::string::npos;
       slash = name.find(kDelimiter, slash + 1)) {
    visit(name.substr(0, slash));
  }
}

std::string render(const Request& request, const Snapshot& snapshot, const Session& session) {
  std::map<std::string, Node> nodes;
  for (const store::MailboxInfo& mailbox : snapshot.mailboxes) {
    nodes[mailbox.name].mailbox = &mailbox;
    forEachAncestor(mailbox.name, [&](const std::string& up) { nodes[up].existing_child = true; });
  }
  for (const std::string& name : snapshot.subscriptions) nodes[name].subscribed = true;

  // Selection (RFC 5258 3): the options combine; LSUB selects the subscribed names, and
  // without options every existing mailbox is selected.
  const bool lsub = request.verb == "LSUB";
  for (auto& [name, node] : nodes) {
    bool selected = node.mailbox != nullptr;
    if (lsub || request.select_subscribed) selected = node.subscribed;
    if (request.select_special_use) {
      selected = selected && node.mailbox != nullptr && node.mailbox->special_use != 0;
    }
    node.selected = selected;
  }
  std::vector<std::pair<std::string, bool>> marks;  // (ancestor, hidden) per selected name
  for (const auto& [name, node] : nodes) {
    if (!node.selected) continue;
    const bool hidden = !matchesAny(request, name);
    forEachAncestor(name, [&](const std::string& up) { marks.emplace_back(up, hidden); });
  }
  for (const auto& [up, hidden] : marks) {
    Node& node = nodes[up];
    node.selected_descendant = true;
    if (hidden) node.hidden_descendant = true;
  }

  // RFC 5258 3.5: RECURSIVEMATCH is defined for SUBSCRIBED only (RFC 6154 adds no CHILDINFO).
  const bool childinfo = request.recursive_match && request.select_subscribed;
  std::string out;
  for (const auto& [name, node] : nodes) {
    if (!matchesAny(request, name)) continue;
    // RFC 5258 3.5 / RFC 3501 6.3.8-6.3.9: a level that is not selected itself appears when
    // "%" hides a selected name below it, and with RECURSIVEMATCH when any selected name is below.
    const bool parent_only =
        !node.selected &&
        ((childinfo && node.selected_descendant) ||
         (!request.select_subscribed && !request.select_special_use && node.hidden_descendant));
    if (!node.selected && !parent_only) continue;
    const bool exists = node.mailbox != nullptr;
    std::string attributes;
    auto add = [&](std::string_view attribute) {
      if (!attributes.empty()) attributes += ' ';
      attributes += attribute;
    };
    if (lsub) {
      // RFC 3501 6.3.9: a level only shown for what "%" hides below it is \Noselect.
      if (!node.selected) add("\\Noselect");
    } else {
      if (!exists) add(request.extended ? "\\NonExistent" : "\\Noselect");
      if (node.subscribed && (request.select_subscribed || request.return_subscribed)) {
        add("\\Subscribed");
      }
      // RFC 3348 / RFC 5258 4: the CHILDREN attributes on every reply.
      add(node.existing_child ? "\\HasChildren" : "\\HasNoChildren");
      if (request.verb == "XLIST" && name == "INBOX") add("\\Inbox");
      // RFC 6154 2: the special-use attributes on every LIST reply.
      if (exists) {
        std::string special;
        appendSpecialUse(special, node.mailbox->special_use);
        if (!special.empty()) add(std::string_view(special).substr(1));
      }
    }
    out += "* " + request.verb + " (" + attributes + ") \"/\" ";
    session.appendMailbox(out, name);
    if (childinfo && node.selected_descendant) {
      out += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    }
    out += "\r\n";
    // RFC 5819: STATUS right after the LIST reply, only for mailboxes that can be selected.
    if (!request.status.empty() && exists)
      appendStatusResponse(out, session, *node.mailbox, request.status);
  }
  return out;
}

}  // namespace

// RFC 3501 6.3.8 LIST and 6.3.9 LSUB, with RFC 5258 LIST-EXTENDED (selection and return
// options, several patterns), RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE and RFC 3348 CHILDREN;
// XLIST is LIST with \Inbox for the old Outlook clients that ask for it.
void handleList(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::ListArgs>(command.args);
  Request request;
  request.verb = command.name;
  // RFC 9051 6.3.9 makes LIST-EXTENDED's rules (\NonExistent) the only ones in IMAP4rev2.
  request.extended = session.rev2Enabled() || !args.select_options.empty() ||
                     !args.return_options.empty() || !args.extra_patterns.empty();
  request.select_subscribed = has(args.select_options, "SUBSCRIBED");
  request.select_special_use = has(args.select_options, "SPECIAL-USE");
  request.recursive_match = has(args.select_options, "RECURSIVEMATCH");
  request.return_subscribed = has(args.return_options, "SUBSCRIBED");
  if (has(args.return_options, "STATUS")) request.status = args.return_status_items;
  std::string out;
  bool any_pattern = false;
  std::vector<std::string> patterns = {args.pattern};
  patterns.insert(patterns.end(), args.extra_patterns.begin(), args.extra_patterns.end());
  for (const std::string& pattern : patterns) {
    if (pattern.empty()) {
      // The hierarchy delimiter and root (RFC 3501 6.3.8), once.
      if (request.verb != "LSUB" && out.empty()) {
        out = "* " + request.verb + " (\\Noselect) \"/\" \"\"\r\n";
      }
      continue;
    }
    any_pattern = true;
    request.patterns.push_back(args.reference + pattern);
  }
  if (!any_pattern) {
    session.send(std::move(out));
    session.finish(Status::Ok, "", request.verb + " completed");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<Snapshot>>(
      [](store::UserStore& store) -> store::Result<Snapshot> {
        auto mailboxes = store.listMailboxes();
        if (!mailboxes) return fail(mailboxes.error());
        auto subscriptions = store.subscriptions();
        if (!subscriptions) return fail(subscriptions.error());
        return Snapshot{std::move(*mailboxes), std::move(*subscriptions)};
      },
      [server, id = session.id(), request = std::move(request),
       out = std::move(out)](store::Result<Snapshot> snapshot) mutable {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!snapshot) {
          s->finishWithStoreError(snapshot.error());
          return;
        }
        out += render(request, *snapshot, *s);
        s->send(std::move(out));
        s->finish(Status::Ok, "", request.verb + " completed");
      });
}

}  // namespace popbridge::proxy::imap
