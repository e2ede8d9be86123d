#include "protocols/imap/base_subject.h"

#include <gtest/gtest.h>

#include <string>

namespace popbridge::imap {
namespace {

std::string base(const std::string& subject) { return baseSubject(subject).text; }
bool replyOrForward(const std::string& subject) { return baseSubject(subject).reply_or_forward; }

TEST(BaseSubjectTest, LeadersFromRfc5256) {
  EXPECT_EQ(base("Hello"), "HELLO");
  EXPECT_EQ(base("Re: Hello"), "HELLO");
  EXPECT_EQ(base("RE: re: Re:Hello"), "HELLO");
  EXPECT_EQ(base("Fw: Hello"), "HELLO");
  EXPECT_EQ(base("FWD:Hello"), "HELLO");
  EXPECT_EQ(base("re   : Hello"), "HELLO");  // *WSP between "re" and ":"
  EXPECT_EQ(base("Re[2]: Hello"), "HELLO");  // a blob inside subj-refwd
  EXPECT_EQ(base("Re [2] : Hello"), "HELLO");
  EXPECT_EQ(base("[list] Re: Hello"), "HELLO");  // blobs before subj-refwd
  EXPECT_EQ(base("[a][b] [c] fwd: Hello"), "HELLO");
  EXPECT_EQ(base("Re: [list] Hello"), "HELLO");  // step 4: a blob leaving text behind
  EXPECT_EQ(base("[list] Hello"), "HELLO");
  EXPECT_TRUE(replyOrForward("Re: Hello"));
  EXPECT_TRUE(replyOrForward("[x] Fwd: Hello"));
  EXPECT_FALSE(replyOrForward("[list] Hello"));
  EXPECT_FALSE(replyOrForward("Hello"));
}

TEST(BaseSubjectTest, TrailersAndForwardWrappers) {
  EXPECT_EQ(base("Hello (fwd)"), "HELLO");
  EXPECT_EQ(base("Hello(FWD) (fwd)  "), "HELLO");
  EXPECT_TRUE(replyOrForward("Hello (fwd)"));
  EXPECT_EQ(base("[Fwd: Hello]"), "HELLO");
  EXPECT_TRUE(replyOrForward("[Fwd: Hello]"));
  EXPECT_EQ(base("[Fwd: Re: [fwd: Hello (fwd)]]"), "HELLO");  // (6) repeats from (2)
  EXPECT_EQ(base("Re: [Fwd: Hello] (fwd)"), "HELLO");
  EXPECT_EQ(base("[Fwd: Hello"), "[FWD: HELLO");  // no trailer: a blob is not closed either
}

TEST(BaseSubjectTest, WhatStays) {
  EXPECT_EQ(base("[only a blob]"), "[ONLY A BLOB]");  // removing it would leave nothing
  EXPECT_EQ(base("[blob] "), "[BLOB]");
  EXPECT_EQ(base("Reply: Hello"), "REPLY: HELLO");  // "re" must be followed by ":" or a blob
  EXPECT_EQ(base("Fwd Hello"), "FWD HELLO");
  EXPECT_EQ(base("Hello: Re: world"), "HELLO: RE: WORLD");
  EXPECT_EQ(base("Re:"), "");
  EXPECT_EQ(base(""), "");
  EXPECT_EQ(base("   "), "");
  EXPECT_EQ(base("[unclosed Re: Hello"), "[UNCLOSED RE: HELLO");
  EXPECT_EQ(base("[a[b]] Hello"), "[A[B]] HELLO");
}

TEST(BaseSubjectTest, WhiteSpaceAndEncodedWords) {
  EXPECT_EQ(base("Weekly\r\n\treport"), "WEEKLY REPORT");  // unfolded, tab -> space
  EXPECT_EQ(base("a \t  b"), "A B");
  EXPECT_EQ(base("=?UTF-8?Q?Re=3A_hello?="), "HELLO");  // decoded before the leader is removed
  EXPECT_TRUE(replyOrForward("=?UTF-8?Q?Re=3A_hello?="));
  // i;unicode-casemap (RFC 5051): é becomes E + combining acute, as É and e + acute do.
  EXPECT_EQ(base("=?ISO-8859-1?Q?Caf=E9?= (fwd)"), "CAFE\xcc\x81");
  EXPECT_EQ(base("Re: CAF\xc3\x89"), base("caf\xc3\xa9"));
  EXPECT_EQ(base("\xcf\x83\xce\xbf\xcf\x82"), base("\xce\xa3\xce\x9f\xce\xa3"));  // σος = ΣΟΣ
  EXPECT_EQ(base("=?UTF-8?B?UmU6IGhp?= =?UTF-8?B?IHRoZXJl?="), "HI THERE");
  EXPECT_EQ(base("=?x-unknown?Q?Re=3A?= x"), "=?X-UNKNOWN?Q?RE=3A?= X");  // kept as written
}

TEST(BaseSubjectTest, LongInputsStayLinear) {
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "Re: [x] ";
  EXPECT_EQ(base(many + "end"), "END");
  std::string wrappers;
  for (int i = 0; i < 5000; ++i) wrappers += "[Fwd: ";
  wrappers += "x";
  for (int i = 0; i < 5000; ++i) wrappers += "]";
  EXPECT_EQ(base(wrappers), "X");
}

}  // namespace
}  // namespace popbridge::imap
