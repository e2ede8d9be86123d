// LOGIN, AUTHENTICATE, LIST/LSUB, STATUS, CREATE & co., RENAME, COPY/MOVE, ENABLE, ID, COMPRESS.

#include <gtest/gtest.h>

#include "protocols/imap/command.h"
#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::dumpArgs;
using test::readOneCommand;
using test::readOneError;

std::string args(const std::string& line) { return dumpArgs(readOneCommand(line).args); }

void expectBad(std::initializer_list<const char*> lines) {
  for (const char* line : lines) {
    ParseError error = readOneError(line);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << line;
    EXPECT_EQ(error.tag, "t") << line;
  }
}

TEST(LoginTest, AtomsQuotedAndLiterals) {
  EXPECT_EQ(args("t LOGIN alice secret\r\n"), "Login<alice><secret>");
  EXPECT_EQ(args("t login \"al ice\" \"p\\\\w\\\"d\"\r\n"), "Login<al ice><p\\w\"d>");
  EXPECT_EQ(args("t LOGIN {5}\r\nalice \"\"\r\n"), "Login<alice><>");
  EXPECT_EQ(args("t LOGIN user]x pw]\r\n"), "Login<user]x><pw]>");
  expectBad({"t LOGIN alice\r\n", "t LOGIN alice secret extra\r\n", "t LOGIN\r\n",
             "t LOGIN alice \"bad\\escape\"\r\n", "t LOGIN (alice) pw\r\n",
             "t LOGIN alice  pw\r\n"});
}

TEST(AuthenticateTest, MechanismAndInitialResponse) {
  EXPECT_EQ(args("t AUTHENTICATE plain\r\n"), "Auth<PLAIN>-");
  EXPECT_EQ(args("t AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            "Auth<PLAIN><AGFsaWNlAHNlY3JldA==>");
  EXPECT_EQ(args("t AUTHENTICATE XOAUTH2 =\r\n"), "Auth<XOAUTH2><>");
  expectBad({"t AUTHENTICATE\r\n", "t AUTHENTICATE PLAIN abc\r\n", "t AUTHENTICATE PLAIN a=bc\r\n",
             "t AUTHENTICATE PLAIN AGFs a\r\n"});
}

TEST(ListTest, BasicForms) {
  EXPECT_EQ(args("t LIST \"\" *\r\n"), "List<><*>[] sel=[] ret=[] status=[]");
  EXPECT_EQ(args("t LIST \"\" \"\"\r\n"), "List<><>[] sel=[] ret=[] status=[]");
  EXPECT_EQ(args("t LIST ~/Mail/ %/x*\r\n"), "List<~/Mail/><%/x*>[] sel=[] ret=[] status=[]");
  EXPECT_EQ(args("t LSUB \"#news.\" \"comp.mail.*\"\r\n"),
            "List<#news.><comp.mail.*>[] sel=[] ret=[] status=[]");
  EXPECT_EQ(readOneCommand("t lsub a b\r\n").name, "LSUB");
  EXPECT_EQ(args("t XLIST \"\" *\r\n"), "List<><*>[] sel=[] ret=[] status=[]");
  expectBad({"t LIST \"\"\r\n", "t LIST *\r\n", "t LIST \"\" * junk\r\n",
             "t LSUB (SUBSCRIBED) \"\" *\r\n", "t LSUB \"\" (a b)\r\n",
             "t LSUB \"\" * RETURN (CHILDREN)\r\n", "t XLIST (SPECIAL-USE) \"\" *\r\n"});
}

TEST(ListTest, ExtendedForms) {
  EXPECT_EQ(args("t LIST (SPECIAL-USE) \"\" \"*\"\r\n"),
            "List<><*>[] sel=[<SPECIAL-USE>] ret=[] status=[]");
  EXPECT_EQ(args("t LIST (subscribed recursivematch) \"\" (INBOX \"Work/%\" x) "
                 "RETURN (children)\r\n"),
            "List<><INBOX>[<Work/%><x>] sel=[<SUBSCRIBED><RECURSIVEMATCH>] ret=[<CHILDREN>] "
            "status=[]");
  EXPECT_EQ(args("t LIST \"\" % RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n"),
            "List<><%>[] sel=[] ret=[<SPECIAL-USE><STATUS>] status=[<MESSAGES><UNSEEN>]");
  EXPECT_EQ(args("t LIST () \"\" % RETURN ()\r\n"), "List<><%>[] sel=[] ret=[] status=[]");
  EXPECT_EQ(readOneCommand("t LIST (SUBSCRIBED) \"\" (a b) RETURN (STATUS (SIZE))\r\n").redacted(),
            "t LIST (SUBSCRIBED) \"\" (a b) RETURN (STATUS) STATUS (SIZE)");
  expectBad({"t LIST (RECURSIVEMATCH) \"\" *\r\n", "t LIST (FOO) \"\" *\r\n",
             "t LIST \"\" * RETURN (FOO)\r\n", "t LIST \"\" * RETURN CHILDREN\r\n",
             "t LIST \"\" * RETURN (STATUS)\r\n", "t LIST \"\" * RETURN (STATUS (FOO))\r\n",
             "t LIST \"\" () \r\n", "t LIST \"\" (a\r\n", "t LIST (SUBSCRIBED)\"\" *\r\n"});
}

TEST(StatusTest, Items) {
  EXPECT_EQ(args("t STATUS blurdybloop (UIDNEXT messages)\r\n"),
            "Status<blurdybloop>[<UIDNEXT><MESSAGES>]");
  EXPECT_EQ(
      args("t STATUS inbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE HIGHESTMODSEQ)\r\n"),
      "Status<INBOX>[<MESSAGES><UIDNEXT><UIDVALIDITY><UNSEEN><RECENT><SIZE><HIGHESTMODSEQ>]");
  // RFC 8474 4.2.
  EXPECT_EQ(args("t STATUS a (mailboxid MESSAGES)\r\n"), "Status<a>[<MAILBOXID><MESSAGES>]");
  expectBad({"t STATUS INBOX ()\r\n", "t STATUS INBOX (FOO)\r\n", "t STATUS INBOX MESSAGES\r\n",
             "t STATUS INBOX (MESSAGES\r\n", "t STATUS INBOX (MAILBOXID (x))\r\n"});
}

TEST(MailboxTest, CreateDeleteSubscribeRename) {
  for (const char* name : {"CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"}) {
    Command command = readOneCommand(std::string("t ") + name + " \"Work/2024\"\r\n");
    EXPECT_EQ(command.name, name);
    EXPECT_EQ(dumpArgs(command.args), "Create<Work/2024>");
  }
  EXPECT_EQ(args("t RENAME Old {3}\r\nNew\r\n"), "Rename<Old><New>");
  expectBad({"t CREATE\r\n", "t CREATE a b\r\n", "t RENAME a\r\n", "t DELETE (x)\r\n"});
}

TEST(MailboxTest, CreateWithSpecialUse) {
  // RFC 6154 5.
  EXPECT_EQ(args("t CREATE MyDrafts (USE (\\Drafts))\r\n"), "Create<MyDrafts><\\Drafts>");
  EXPECT_EQ(args("t CREATE x (use (\\Sent \\Archive))\r\n"), "Create<x><\\Sent><\\Archive>");
  EXPECT_EQ(args("t CREATE x (USE ())\r\n"), "Create<x>");
  EXPECT_EQ(readOneCommand("t CREATE x (USE (\\Junk))\r\n").redacted(),
            "t CREATE x (USE (\\Junk))");
  expectBad({"t CREATE x (USE)\r\n", "t CREATE x (USE (Drafts))\r\n",
             "t CREATE x (FOO (\\Drafts))\r\n", "t CREATE x (USE (\\Drafts)\r\n",
             "t CREATE x (USE (\\Drafts) USE (\\Sent))\r\n", "t CREATE x ()\r\n",
             "t DELETE x (USE (\\Drafts))\r\n", "t SUBSCRIBE x (USE (\\Drafts))\r\n"});
}

TEST(MailboxTest, NamesAreModifiedUtf7OnTheWire) {
  // RFC 3501 5.1.3: "Entw&APw-rfe" is "Entwürfe"; the parsed name is UTF-8.
  EXPECT_EQ(args("t CREATE Entw&APw-rfe\r\n"), "Create<Entw\xC3\xBCrfe>");
  EXPECT_EQ(std::get<SelectArgs>(readOneCommand("t SELECT \"~peter/&U,BTFw-/&ZeVnLIqe-\"\r\n").args)
                .mailbox,
            "~peter/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
  EXPECT_EQ(args("t RENAME A&-B C\r\n"), "Rename<A&B><C>");
  EXPECT_EQ(args("t LIST Entw&APw-rfe/ &APw-*\r\n"),
            "List<Entw\xC3\xBCrfe/><\xC3\xBC*>[] sel=[] ret=[] status=[]");
  expectBad({"t CREATE Entw&APw\r\n", "t CREATE Entw&AGE-\r\n", "t CREATE \"Entw\xC3\xBCrfe\"\r\n",
             "t STATUS & (MESSAGES)\r\n", "t LIST \"\" &APw\r\n"});
}

TEST(CopyTest, CopyAndMove) {
  EXPECT_EQ(args("t COPY 2:4 MEETING\r\n"), "Copy 2:4 <MEETING>");
  EXPECT_EQ(args("t MOVE 1,3:* inbox\r\n"), "Copy 1,3:* <INBOX>");
  EXPECT_EQ(args("t COPY $ Trash\r\n"), "Copy $ <Trash>");  // RFC 5182
  expectBad({"t COPY MEETING\r\n", "t COPY 1\r\n", "t MOVE 1:x Trash\r\n", "t COPY 1,$ Trash\r\n"});
}

TEST(EnableTest, Capabilities) {
  EXPECT_EQ(args("t ENABLE condstore qresync\r\n"), "Enable [<CONDSTORE><QRESYNC>]");
  expectBad({"t ENABLE\r\n", "t ENABLE (X)\r\n"});
  std::string out;
  appendEnabledResponse(out, {});
  appendEnabledResponse(out, {"CONDSTORE", "QRESYNC"});
  EXPECT_EQ(out, "* ENABLED\r\n* ENABLED CONDSTORE QRESYNC\r\n");
}

TEST(CompressTest, Mechanism) {
  EXPECT_EQ(args("t COMPRESS DEFLATE\r\n"), "Compress<DEFLATE>");
  EXPECT_EQ(args("t compress deflate\r\n"), "Compress<DEFLATE>");
  EXPECT_EQ(args("t COMPRESS X-UNKNOWN\r\n"), "Compress<X-UNKNOWN>");  // the session says BAD
  EXPECT_EQ(readOneCommand("t COMPRESS DEFLATE\r\n").redacted(), "t COMPRESS DEFLATE");
  expectBad({"t COMPRESS\r\n", "t COMPRESS DEFLATE x\r\n", "t COMPRESS (DEFLATE)\r\n",
             "t COMPRESS \"DEFLATE\"\r\n", "t COMPRESS  DEFLATE\r\n"});
}

TEST(IdTest, FieldsAndNil) {
  EXPECT_EQ(args("t ID NIL\r\n"), "Id");
  EXPECT_EQ(args("t ID (\"name\" \"Thunderbird\" \"version\" \"115.0\" \"os\" NIL)\r\n"),
            "Id <name=Thunderbird> <version=115.0> <os=>");
  std::string many = "t ID (";
  for (int i = 0; i < 31; ++i) {
    many += (i > 0 ? " " : "") + std::string("\"k\" \"v\"");
  }
  many += ")\r\n";
  expectBad({"t ID\r\n", "t ID ()\r\n", "t ID (\"a\")\r\n", "t ID (a b)\r\n", many.c_str(),
             "t ID (\"0123456789012345678901234567890\" \"v\")\r\n"});
}

}  // namespace
}  // namespace popbridge::imap
