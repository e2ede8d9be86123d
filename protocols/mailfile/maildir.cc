// Maildir and Maildir++ names: flags in file names, folders as dot-separated directories.

#include "protocols/mailfile/maildir.h"

#include <algorithm>

namespace popbridge::mailfile {
namespace {

struct FlagLetter {
  char letter;
  std::uint32_t flag;
};

// In ASCII order, as the Maildir spec wants them written.
constexpr std::array<FlagLetter, 5> kFlagLetters = {
    {{'D', kDraft}, {'F', kFlagged}, {'R', kAnswered}, {'S', kSeen}, {'T', kDeleted}}};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

MaildirName parseMaildirName(std::string_view name) {
  MaildirName out;
  const std::size_t info = name.rfind(":2,");
  out.unique = name.substr(0, info);
  if (info == std::string_view::npos) return out;
  for (char c : name.substr(info + 3)) {
    for (const FlagLetter& f : kFlagLetters) {
      if (c == f.letter) out.system |= f.flag;
    }
    if (c >= 'a' && c <= 'z' && out.keyword_letters.find(c) == std::string::npos) {
      out.keyword_letters += c;
    }
  }
  std::sort(out.keyword_letters.begin(), out.keyword_letters.end());
  return out;
}

std::string maildirInfo(std::uint32_t system, std::string_view keyword_letters) {
  std::string out = ":2,";
  for (const FlagLetter& f : kFlagLetters) {
    if ((system & f.flag) != 0) out += f.letter;
  }
  std::string letters(keyword_letters);
  std::sort(letters.begin(), letters.end());
  letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
  out += letters;
  return out;
}

std::string exportFileName(std::int64_t internaldate, std::uint32_t uid, std::uint32_t uidvalidity,
                           std::uint32_t system, std::string_view keyword_letters) {
  return std::to_string(internaldate) + "." + std::to_string(uid) + "_" +
         std::to_string(uidvalidity) + ".popbridge" + maildirInfo(system, keyword_letters);
}

bool maildirNameLess(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (isDigit(a[i]) && isDigit(b[j])) {
      std::size_t ie = i;
      std::size_t je = j;
      while (ie < a.size() && isDigit(a[ie])) ++ie;
      while (je < b.size() && isDigit(b[je])) ++je;
      // Compare the runs as numbers: skip leading zeros, then longer is larger.
      std::string_view x = a.substr(i, ie - i);
      std::string_view y = b.substr(j, je - j);
      while (x.size() > 1 && x.front() == '0') x.remove_prefix(1);
      while (y.size() > 1 && y.front() == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) {
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    }
    ++i;
    ++j;
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;  // equal up to digit runs with leading zeros: any fixed order
}

Result<std::string, FolderNameError> folderToMailbox(std::string_view directory) {
  if (directory.size() < 2 || directory.front() != '.') {
    return fail(FolderNameError{"\"" + std::string(directory) + "\" is not a Maildir++ folder"});
  }
  std::string out;
  std::string_view rest = directory.substr(1);
  while (true) {
    const std::size_t dot = rest.find('.');
    const std::string_view level = rest.substr(0, dot);
    if (level.empty() || level.find('/') != std::string_view::npos) {
      return fail(FolderNameError{"\"" + std::string(directory) +
                                  "\" has an empty level or a '/' in its name"});
    }
    if (!out.empty()) out += '/';
    out.append(level);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return out;
}

Result<std::string, FolderNameError> mailboxToFolder(std::string_view mailbox) {
  if (mailbox == "INBOX") return std::string();
  std::string out;
  std::string_view rest = mailbox;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view level = rest.substr(0, slash);
    if (level.find('.') != std::string_view::npos) {
      return fail(FolderNameError{"mailbox \"" + std::string(mailbox) +
                                  "\" has a '.' in its name, which is the Maildir++ folder "
                                  "separator: rename it (e.g. over IMAP) and export again"});
    }
    if (level.empty()) {
      return fail(FolderNameError{"mailbox \"" + std::string(mailbox) + "\" has an empty level"});
    }
    out += '.';
    out.append(level);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

KeywordLetters parseDovecotKeywords(std::string_view text) {
  KeywordLetters out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space > 2) continue;
    unsigned index = 0;
    bool digits = true;
    for (char c : line.substr(0, space)) {
      digits = digits && isDigit(c);
      index = index * 10 + static_cast<unsigned>(c - '0');
    }
    const std::string_view keyword = line.substr(space + 1);
    if (!digits || index >= out.size() || keyword.empty()) continue;
    out[index] = std::string(keyword);
  }
  return out;
}

std::string formatDovecotKeywords(const KeywordLetters& letters) {
  std::string out;
  for (std::size_t i = 0; i < letters.size(); ++i) {
    if (letters[i]) out += std::to_string(i) + " " + *letters[i] + "\n";
  }
  return out;
}

void CrlfWriter::feed(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + bytes.size() + bytes.size() / 32);
  for (char c : bytes) {
    if (c == '\n' && !last_was_cr_) out += '\r';
    out += c;
    last_was_cr_ = c == '\r';
  }
}

}  // namespace popbridge::mailfile
