#include "protocols/imap/threading.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/sort_keys.h"

namespace popbridge::imap {
namespace {

// A header block for sortKeys().
struct Mail {
  std::string subject;
  std::string date;
  std::string id;
  std::string references;
  std::string in_reply_to;
};

std::vector<SortKeys> mailbox(const std::vector<Mail>& mails) {
  std::vector<SortKeys> out;
  std::uint32_t uid = 0;
  for (const Mail& m : mails) {
    std::string header;
    if (!m.subject.empty()) header += "Subject: " + m.subject + "\r\n";
    if (!m.date.empty()) header += "Date: " + m.date + "\r\n";
    if (!m.id.empty()) header += "Message-ID: " + m.id + "\r\n";
    if (!m.references.empty()) header += "References: " + m.references + "\r\n";
    if (!m.in_reply_to.empty()) header += "In-Reply-To: " + m.in_reply_to + "\r\n";
    header += "\r\n";
    ++uid;
    out.push_back(sortKeys(header, uid, 1000 + uid, 100));
  }
  return out;
}

std::string encoded(const ThreadTree& tree) {
  std::string out;
  appendThreadResponse(out, tree);
  return out;
}

std::string references(const std::vector<Mail>& mails) {
  return encoded(threadReferences(mailbox(mails)));
}

std::string date(int minute) {
  return "Mon, 4 Mar 2024 10:" + std::string(minute < 10 ? "0" : "") + std::to_string(minute) +
         ":00 +0000";
}

TEST(ThreadResponseTest, ExactBytes) {
  // The example of RFC 5256 4: (2)(3 6 (4 23)(44 7 96)).
  ThreadTree tree;
  auto add = [&](std::uint32_t number) {
    tree.nodes.push_back(ThreadTree::Node{number, {}});
    return static_cast<std::uint32_t>(tree.nodes.size() - 1);
  };
  const auto n2 = add(2);
  const auto n3 = add(3);
  const auto n6 = add(6);
  const auto n4 = add(4);
  const auto n23 = add(23);
  const auto n44 = add(44);
  const auto n7 = add(7);
  const auto n96 = add(96);
  tree.nodes[n3].children = {n6};
  tree.nodes[n6].children = {n4, n44};
  tree.nodes[n4].children = {n23};
  tree.nodes[n44].children = {n7};
  tree.nodes[n7].children = {n96};
  tree.roots = {n2, n3};
  EXPECT_EQ(encoded(tree), "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n");
  // A dummy root lists only its children.
  const auto dummy = add(0);
  const auto n50 = add(50);
  const auto n51 = add(51);
  tree.nodes[dummy].children = {n50, n51};
  tree.roots.push_back(dummy);
  EXPECT_EQ(encoded(tree), "* THREAD (2)(3 6 (4 23)(44 7 96))((50)(51))\r\n");
  EXPECT_EQ(encoded(ThreadTree{}), "* THREAD\r\n");
}

TEST(ThreadResponseTest, DeepChainsNeedNoRecursion) {
  ThreadTree tree;
  constexpr std::uint32_t kDepth = 200000;
  for (std::uint32_t i = 0; i < kDepth; ++i) {
    tree.nodes.push_back(ThreadTree::Node{i + 1, {}});
    if (i > 0) tree.nodes[i - 1].children = {i};
  }
  tree.roots = {0};
  const std::string out = encoded(tree);
  EXPECT_EQ(out.substr(0, 14), "* THREAD (1 2 ");
  EXPECT_TRUE(out.ends_with(" 199999 200000)\r\n"));
}

TEST(OrderedSubjectTest, GroupsByBaseSubjectAndOrdersByFirstDate) {
  const auto messages = mailbox({
      {"Re: b", date(5), "", "", ""},   // 1
      {"a", date(3), "", "", ""},       // 2
      {"b", date(4), "", "", ""},       // 3
      {"Fwd: a", date(1), "", "", ""},  // 4
      {"c", date(2), "", "", ""},       // 5
      {"Re: A", date(6), "", "", ""},   // 6
      {"b", date(4), "", "", ""},       // 7: same date as 3, after it by number
  });
  EXPECT_EQ(encoded(threadOrderedSubject(messages)), "* THREAD (4 (2)(6))(5)(3 (7)(1))\r\n");
}

TEST(ReferencesTest, ChainsAndSiblings) {
  EXPECT_EQ(references({
                {"root", date(1), "<a@x>", "", ""},
                {"Re: root", date(2), "<b@x>", "<a@x>", ""},
                {"Re: root", date(4), "<c@x>", "<a@x> <b@x>", ""},
                {"Re: root", date(3), "<d@x>", "", "<a@x>"},  // In-Reply-To alone
            }),
            "* THREAD (1 (2 3)(4))\r\n");
}

TEST(ReferencesTest, MissingParentsBecomeOneDummy) {
  // 1 and 2 hang below missing ids under one missing root: the inner dummies vanish.
  EXPECT_EQ(references({
                {"Re: x", date(2), "<n1@x>", "<gone@x> <mid1@x>", ""},
                {"Re: x", date(1), "<n2@x>", "<gone@x> <mid2@x>", ""},
                {"Re: y", date(3), "<n3@x>", "<other@x>", ""},  // a dummy with one child
            }),
            "* THREAD ((2)(1))(3)\r\n");
}

TEST(ReferencesTest, DuplicateIdsLoopsAndConflicts) {
  EXPECT_EQ(references({
                {"p", date(1), "<a@x>", "", ""},
                {"q", date(2), "<a@x>", "", ""},  // duplicate: a root of its own
                {"r", date(3), "<h@x>", "<i@x>", ""},
                {"s", date(4), "<i@x>", "<h@x>", ""},  // would close a loop: stays a root
                {"t", date(5), "<self@x>", "<self@x>", ""},
            }),
            "* THREAD (1)(2)(4 3)(5)\r\n");
  // A message's own last reference replaces the parent an earlier message's References gave
  // it: c2 loses c1 and, its own parent c3 being its child, becomes a root; c1 and c2 then
  // share a subject and neither is a reply, so a dummy joins them.
  EXPECT_EQ(references({
                {"c", date(1), "<c3@x>", "<c1@x> <c2@x>", ""},  // c1 -> c2 -> c3
                {"c", date(2), "<c2@x>", "<c3@x>", ""},  // c2's own parent would be c3: a loop
                {"c", date(3), "<c1@x>", "", ""},
                {"c", date(4), "<c4@x>", "<c1@x> <c3@x>", ""},
            }),
            "* THREAD ((2 1 4)(3))\r\n");
}

TEST(ReferencesTest, SubjectMerging) {
  // A reply root joins the thread of the original; two non-replies get a dummy parent; two
  // dummies give their children to one; empty and missing subjects never merge.
  EXPECT_EQ(references({
                {"Re: budget", date(1), "<q1@x>", "", ""},
                {"budget", date(2), "<q2@x>", "", ""},
                {"Meeting", date(3), "<m1@x>", "", ""},
                {"meeting", date(4), "<m2@x>", "", ""},
                {"Re: party", date(5), "<p1@x>", "<x1@x>", ""},
                {"Re: party", date(6), "<p2@x>", "<x1@x>", ""},
                {"Re: party", date(7), "<p3@x>", "<x2@x>", ""},
                {"Re: party", date(8), "<p4@x>", "<x2@x>", ""},
                {"", date(9), "<e1@x>", "", ""},
                {"", date(10), "<e2@x>", "", ""},
            }),
            "* THREAD (2 1)((3)(4))((5)(6)(7)(8))(9)(10)\r\n");
}

TEST(ReferencesTest, DatesFallBackToArrivalAndTiesGoByUid) {
  EXPECT_EQ(references({
                {"a", date(5), "<1@x>", "", ""},
                {"b", "", "<2@x>", "", ""},            // arrival 1002: long before
                {"c", "not a date", "<3@x>", "", ""},  // arrival 1003
                {"d", date(5), "<4@x>", "", ""},       // tie with 1
            }),
            "* THREAD (2)(3)(1)(4)\r\n");
}

TEST(ReferencesTest, DeepChainsNeedNoRecursion) {
  std::vector<Mail> mails;
  constexpr int kDepth = 20000;
  for (int i = 0; i < kDepth; ++i) {
    const std::string parent = i == 0 ? "" : "<" + std::to_string(i - 1) + "@x>";
    mails.push_back({"deep", date(1), "<" + std::to_string(i) + "@x>", "", parent});
  }
  // A header naming a deep message and the root over and over: each name costs next to nothing
  // (the loop check does not walk the chain again each time).
  std::string loop_refs;
  for (int i = 0; i < 20000; ++i) loop_refs += "<19999@x> <0@x> ";
  mails.push_back({"other", date(2), "<loop@x>", loop_refs + "<19999@x>", ""});
  const std::string out = references(mails);
  EXPECT_EQ(out.substr(0, 14), "* THREAD (1 2 ");
  EXPECT_TRUE(out.ends_with(" 19999 20000 20001)\r\n"));
}

TEST(SortKeysTest, FieldsFromTheHeader) {
  const std::string header =
      "From: \"Smith, Bob\" <Bob@Example.org>, carol@example.com\r\n"
      "to: undisclosed-recipients:;\r\n"
      "Subject: Re: [list]\r\n hello\r\n"
      "Subject: second subject is ignored\r\n"
      "Date: Mon, 4 Mar 2024 10:00:00 +0100\r\n"
      "Message-ID: (comment <not@this>) <id@x>\r\n"
      "In-Reply-To: <ignored@x>\r\n"
      "References: <a@x>\r\n\t<b@x> <bad id@x> <c@x>\r\n"
      "\r\n"
      "Cc: not@header\r\n";
  const SortKeys keys = sortKeys(header, 7, 99, 1234);
  EXPECT_EQ(keys.number, 7u);
  EXPECT_EQ(keys.arrival, 99);
  EXPECT_EQ(keys.size, 1234u);
  EXPECT_EQ(keys.from, "BOB");
  EXPECT_EQ(keys.to, "UNDISCLOSED-RECIPIENTS");
  EXPECT_EQ(keys.cc, "");
  EXPECT_TRUE(keys.has_subject);
  EXPECT_EQ(keys.subject, "HELLO");
  EXPECT_TRUE(keys.reply_or_forward);
  EXPECT_EQ(keys.sent, 1709542800);  // 2024-03-04T09:00:00Z
  EXPECT_EQ(keys.message_id, "<id@x>");
  EXPECT_EQ(keys.references, (std::vector<std::string>{"<a@x>", "<b@x>", "<c@x>"}));
  const SortKeys bare = sortKeys("In-Reply-To: <p@x> <q@x>\r\n\r\n", 1, 5, 0);
  EXPECT_FALSE(bare.has_subject);
  EXPECT_EQ(bare.sent, 5);
  EXPECT_EQ(bare.references, std::vector<std::string>{"<p@x>"});
}

// RFC 5957 3: the display name (encoded-words decoded) unless empty, else mailbox@host, else the
// mailbox (a group's name), else empty; case folded as every sort string is.
TEST(SortKeysTest, DisplayValues) {
  auto keys = [](std::string from, std::string to) {
    return sortKeys("From: " + from + "\r\nTo: " + to + "\r\n\r\n", 1, 0, 0);
  };
  SortKeys k = keys("\"Smith, Bob\" <bob@example.org>, carol@x", "Zoë <z@x>");
  EXPECT_EQ(k.display_from, "SMITH, BOB");
  EXPECT_EQ(k.from, "BOB");
  EXPECT_EQ(k.display_to, "ZOE\xCC\x88");  // i;unicode-casemap decomposes
  k = keys("=?utf-8?q?=C3=84rger?= <a@x>", "\"\" <Empty@Name.example>");
  EXPECT_EQ(k.display_from, "A\xCC\x88RGER");
  EXPECT_EQ(k.display_to, "EMPTY@NAME.EXAMPLE");
  // A trailing comment is the addr-name of the ENVELOPE address, as in Dovecot.
  k = keys("plain@example.org (Old Style)", "undisclosed-recipients:;");
  EXPECT_EQ(k.display_from, "OLD STYLE");
  EXPECT_EQ(k.from, "PLAIN");
  EXPECT_EQ(k.display_to, "UNDISCLOSED-RECIPIENTS");
  k = keys("plain@example.org", "<@route:local@host>");
  EXPECT_EQ(k.display_from, "PLAIN@EXAMPLE.ORG");
  EXPECT_EQ(k.display_to, "LOCAL@HOST");
  const SortKeys none = sortKeys("Subject: x\r\n\r\n", 1, 0, 0);
  EXPECT_EQ(none.display_from, "");
  EXPECT_EQ(none.display_to, "");
}

TEST(SortNumbersTest, DisplayKeys) {
  std::vector<SortKeys> messages(3);
  for (std::uint32_t i = 0; i < 3; ++i) messages[i].number = i + 1;
  messages[0].display_from = "ZED";
  messages[1].display_from = "ALICE";
  messages[2].display_from = "";
  messages[0].display_to = "B";
  messages[1].display_to = "C";
  messages[2].display_to = "A";
  EXPECT_EQ(sortNumbers(messages, {{SortKey::DisplayFrom, false}}),
            (std::vector<std::uint32_t>{3, 2, 1}));
  EXPECT_EQ(sortNumbers(messages, {{SortKey::DisplayTo, true}}),
            (std::vector<std::uint32_t>{2, 1, 3}));
}

TEST(SortNumbersTest, CriteriaReverseAndTies) {
  std::vector<SortKeys> messages(4);
  for (std::uint32_t i = 0; i < 4; ++i) messages[i].number = i + 1;
  messages[0].size = 30;
  messages[1].size = 10;
  messages[2].size = 30;
  messages[3].size = 20;
  messages[0].from = "B";
  messages[1].from = "A";
  messages[2].from = "A";
  messages[3].from = "B";
  EXPECT_EQ(sortNumbers(messages, {{SortKey::Size, false}}),
            (std::vector<std::uint32_t>{2, 4, 1, 3}));
  // REVERSE reverses its own key only: ties still go by ascending number.
  EXPECT_EQ(sortNumbers(messages, {{SortKey::Size, true}}),
            (std::vector<std::uint32_t>{1, 3, 4, 2}));
  EXPECT_EQ(sortNumbers(messages, {{SortKey::From, false}, {SortKey::Size, true}}),
            (std::vector<std::uint32_t>{3, 2, 1, 4}));
  EXPECT_EQ(sortNumbers({}, {{SortKey::Date, false}}), std::vector<std::uint32_t>{});
}

}  // namespace
}  // namespace popbridge::imap
