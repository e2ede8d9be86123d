#include "proxy/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>

#include "proxy/auth/password.h"
#include "proxy/config/duration.h"
#include "proxy/config/host_port.h"
#include "proxy/config/size.h"
#include "proxy/config/suggest.h"

namespace popbridge::proxy::config {
namespace {

// Files read by the loader are small; the caps stop a mistyped path such as /dev/zero from
// exhausting memory.
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxSecretBytes = 64 * 1024;
constexpr std::chrono::milliseconds kMinPollInterval{100};
// Shorter reply timeouts would fail healthy servers that pause for a disk or a virus scan.
constexpr std::chrono::milliseconds kMinTimeout{500};
// A failed login holds its connection this long at most: more would only tie up the client.
constexpr std::chrono::milliseconds kMaxAuthFailureDelay{std::chrono::seconds(30)};
constexpr std::size_t kMaxNameLength = 128;
// imap.append_limit: far beyond any real message, and well inside APPENDLIMIT's number64.
constexpr std::uint64_t kMaxAppendLimit = 1ull << 40;

// The walker below stops at the first problem by throwing Failure, which parseConfig turns
// into the returned ConfigError. Config loading is an edge where yaml-cpp's exceptions are
// caught anyway (STYLE.md 7.3); using the same path for validation keeps every field read a
// single line instead of a Result check. Failure never leaves this file.
struct Failure : std::exception {
  explicit Failure(ConfigError e) : error(std::move(e)) {}
  const char* what() const noexcept override { return "config error"; }
  ConfigError error;
};

struct Context {
  std::string file;            // as reported in errors
  std::filesystem::path base;  // directory relative paths are resolved against
};

[[noreturn]] void raise(const Context& ctx, const YAML::Mark& mark, std::string key_path,
                        std::string message) {
  ConfigError error;
  error.file = ctx.file;
  if (!mark.is_null()) {
    error.line = mark.line + 1;
    error.column = mark.column + 1;
  }
  error.key_path = std::move(key_path);
  error.message = std::move(message);
  throw Failure(std::move(error));
}

std::string inQuotes(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string_view typeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string joinPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// One value found in the document, with the position errors about it point at: the key for a
// mapping entry (where an operator looks first), the element itself for a list entry.
struct Field {
  YAML::Node value;
  YAML::Mark mark;
  std::string path;
};

// The entries of one YAML mapping, checked against the keys the schema allows.
class MapReader {
 public:
  // Checks that `field` holds a mapping with plain-string keys, no duplicates and only `known`
  // keys; otherwise raises. Borrows `ctx` for the reader's lifetime.
  MapReader(const Context& ctx, const Field& field, std::initializer_list<std::string_view> known)
      : ctx_(ctx), path_(field.path) {
    if (!field.value.IsMap()) {
      raise(ctx, field.mark, field.path,
            "expected a mapping (key: value lines), got " + std::string(typeName(field.value)));
    }
    const YAML::Mark own = field.value.Mark();
    mark_ = own.is_null() ? field.mark : own;
    const std::vector<std::string_view> known_keys(known);
    for (auto it = field.value.begin(); it != field.value.end(); ++it) {
      // yaml-cpp's iterator hands out a temporary pair: copy the nodes (cheap handles) out of it.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        raise(ctx, key.Mark().is_null() ? mark_ : key.Mark(), path_,
              "keys must be plain words, got " + std::string(typeName(key)));
      }
      const std::string name = key.Scalar();
      const std::string path = joinPath(path_, name);
      bool is_known = false;
      for (const std::string_view k : known_keys) {
        is_known = is_known || k == name;
      }
      if (!is_known) {
        std::string message = "unknown key " + inQuotes(name);
        if (const auto suggestion = closestMatch(name, known_keys)) {
          message += " (did you mean " + inQuotes(*suggestion) + "?)";
        } else {
          message += " (expected one of: ";
          for (std::size_t i = 0; i < known_keys.size(); ++i) {
            message += (i == 0 ? "" : ", ") + std::string(known_keys[i]);
          }
          message += ")";
        }
        raise(ctx, key.Mark(), path, std::move(message));
      }
      // yaml-cpp keeps both entries of a repeated key and a lookup would silently take the
      // first; YAML 1.2 section 3.2.1.1 requires keys to be unique, so refuse it.
      const auto [existing, inserted] = entries_.emplace(name, Field{value, key.Mark(), path});
      if (!inserted) {
        raise(ctx, key.Mark(), path,
              "duplicate key " + inQuotes(name) + " (first set on line " +
                  std::to_string(existing->second.mark.line + 1) + ")");
      }
    }
  }

  // The entry for `key`, or nullopt when absent. An explicit empty value (`key:` or `key: ~`)
  // counts as present so that the value check can say what is expected.
  std::optional<Field> optional(std::string_view key) const {
    const auto it = entries_.find(std::string(key));
    if (it == entries_.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  // The entry for `key`; raises "missing required key" at this mapping when absent.
  Field required(std::string_view key) const {
    auto field = optional(key);
    if (!field) {
      raise(ctx_, mark_, path_,
            "missing required key " + inQuotes(key) + (path_.empty() ? " at the top level" : ""));
    }
    return *field;
  }

  const YAML::Mark& mark() const { return mark_; }
  const std::string& path() const { return path_; }

 private:
  const Context& ctx_;
  std::string path_;
  YAML::Mark mark_;
  std::map<std::string, Field, std::less<>> entries_;
};

std::string scalar(const Context& ctx, const Field& field, std::string_view expected) {
  if (!field.value.IsScalar()) {
    raise(ctx, field.mark, field.path,
          "expected " + std::string(expected) + ", got " + std::string(typeName(field.value)));
  }
  return field.value.Scalar();
}

std::string nonEmptyString(const Context& ctx, const Field& field) {
  std::string value = scalar(ctx, field, "a string");
  if (value.empty()) {
    raise(ctx, field.mark, field.path, "must not be empty");
  }
  return value;
}

template <class E>
E oneOf(const Context& ctx, const Field& field,
        std::initializer_list<std::pair<std::string_view, E>> choices) {
  std::string names;
  for (const auto& choice : choices) {
    names += (names.empty() ? "" : ", ") + std::string(choice.first);
  }
  const std::string value = scalar(ctx, field, "one of " + names);
  for (const auto& choice : choices) {
    if (value == choice.first) {
      return choice.second;
    }
  }
  raise(ctx, field.mark, field.path, "expected one of " + names + ", got " + inQuotes(value));
}

bool boolean(const Context& ctx, const Field& field) {
  const std::string value = scalar(ctx, field, "true or false");
  if (value == "true") {
    return true;
  }
  if (value == "false") {
    return false;
  }
  raise(ctx, field.mark, field.path, "expected true or false, got " + inQuotes(value));
}

std::filesystem::path pathValue(const Context& ctx, const Field& field) {
  const std::filesystem::path path(nonEmptyString(ctx, field));
  if (path.is_absolute() || ctx.base.empty()) {
    return path;
  }
  return ctx.base / path;
}

std::vector<Field> sequence(const Context& ctx, const Field& field) {
  if (!field.value.IsSequence()) {
    raise(ctx, field.mark, field.path,
          "expected a list (\"- \" entries), got " + std::string(typeName(field.value)));
  }
  std::vector<Field> out;
  std::size_t index = 0;
  for (const YAML::Node& element : field.value) {
    const YAML::Mark own = element.Mark();
    out.push_back(Field{element, (own.is_null() || element.IsNull()) ? field.mark : own,
                        field.path + "[" + std::to_string(index) + "]"});
    ++index;
  }
  return out;
}

// Names become directory and database keys in the store: keep them to a portable, path-safe set.
void checkName(const Context& ctx, const Field& field, const std::string& name) {
  if (name.size() > kMaxNameLength) {
    raise(ctx, field.mark, field.path,
          "is longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '@' || c == '+';
    if (!ok) {
      raise(ctx, field.mark, field.path,
            inQuotes(name) + " may contain only letters, digits and . _ - @ +");
    }
  }
  if (name.front() == '.') {
    raise(ctx, field.mark, field.path, inQuotes(name) + " must not start with '.'");
  }
}

// Reads a whole small file. Error text is strerror-style.
Result<std::string, std::string> readSmallFile(const std::filesystem::path& path,
                                               std::size_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return fail(std::string(std::strerror(errno)));
  }
  std::string content;
  char buffer[4096];
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof(buffer), file);
    content.append(buffer, n);
    if (content.size() > max_bytes) {
      std::fclose(file);
      return fail("larger than " + std::to_string(max_bytes / 1024) + " KiB");
    }
    if (n < sizeof(buffer)) {
      break;
    }
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return fail(std::string(std::strerror(error)));
  }
  return content;
}

void requireReadable(const Context& ctx, const Field& field, const std::filesystem::path& path,
                     std::string_view what) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    raise(ctx, field.mark, field.path,
          "cannot read " + std::string(what) + " " + inQuotes(path.string()) + ": " +
              std::strerror(errno));
  }
  std::fclose(file);
}

// The POP3 PASS command is one CRLF-terminated line (RFC 1939 section 3), so a secret cannot
// contain a line break; an empty one is almost certainly a mistake.
void checkSecret(const Context& ctx, const Field& field, const std::string& secret,
                 const std::string& source) {
  if (secret.empty()) {
    raise(ctx, field.mark, field.path, source + " is empty");
  }
  if (secret.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    raise(ctx, field.mark, field.path,
          source + " contains a line break or NUL byte, which a POP3 password cannot");
  }
}

// One secret from exactly one of `keys` (a *_file, a *_env and optionally an inline key, in
// that order), or nullopt when none is set. `what` names it in errors ("password").
std::optional<std::string> resolveSecret(const Context& ctx, const MapReader& account,
                                         std::initializer_list<std::string_view> keys,
                                         std::string_view what) {
  std::string choices;
  for (const std::string_view key : keys) {
    if (!choices.empty()) choices += key == *(keys.end() - 1) ? " or " : ", ";
    choices += key;
  }
  std::vector<Field> sources;
  for (const std::string_view key : keys) {
    if (auto field = account.optional(key)) {
      sources.push_back(std::move(*field));
    }
  }
  if (sources.empty()) return std::nullopt;
  // Blame the one written later: the earlier one is more likely what the operator meant.
  std::sort(sources.begin(), sources.end(),
            [](const Field& a, const Field& b) { return a.mark.pos < b.mark.pos; });
  if (sources.size() > 1) {
    const std::string first = sources[0].path.substr(sources[0].path.rfind('.') + 1);
    raise(ctx, sources[1].mark, sources[1].path,
          "conflicts with " + first + "; set exactly one of " + choices);
  }
  const Field& chosen = sources[0];
  const std::string key = chosen.path.substr(chosen.path.rfind('.') + 1);
  if (key.ends_with("_file")) {
    const std::filesystem::path path = pathValue(ctx, chosen);
    auto content = readSmallFile(path, kMaxSecretBytes);
    if (!content) {
      raise(ctx, chosen.mark, chosen.path,
            "cannot read " + std::string(what) + " file " + inQuotes(path.string()) + ": " +
                content.error());
    }
    std::string secret = std::move(*content);
    // Files written by `echo` or an editor end in a newline that is not part of the secret.
    if (!secret.empty() && secret.back() == '\n') {
      secret.pop_back();
      if (!secret.empty() && secret.back() == '\r') {
        secret.pop_back();
      }
    }
    checkSecret(ctx, chosen, secret, std::string(what) + " file " + inQuotes(path.string()));
    return secret;
  }
  if (key.ends_with("_env")) {
    const std::string variable = nonEmptyString(ctx, chosen);
    const char* value = std::getenv(variable.c_str());  // NOLINT(concurrency-mt-unsafe): startup
    if (value == nullptr) {
      raise(ctx, chosen.mark, chosen.path, "environment variable " + variable + " is not set");
    }
    std::string secret(value);
    checkSecret(ctx, chosen, secret, "environment variable " + variable);
    return secret;
  }
  std::string secret = scalar(ctx, chosen, "a string");
  checkSecret(ctx, chosen, secret, key);
  return secret;
}

// A positive whole number (the per-session message cap).
std::uint32_t positiveCount(const Context& ctx, const Field& field) {
  const std::string text = scalar(ctx, field, "a positive whole number");
  std::uint64_t value = 0;
  bool ok = !text.empty() && text.size() <= 10;
  for (const char c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!ok || value == 0 || value > 0xFFFFFFFFu) {
    raise(ctx, field.mark, field.path, "expected a positive whole number, got " + inQuotes(text));
  }
  return static_cast<std::uint32_t>(value);
}

std::uint64_t positiveSize(const Context& ctx, const Field& field) {
  auto parsed = parseSize(scalar(ctx, field, "a size such as 10M"));
  if (!parsed) {
    raise(ctx, field.mark, field.path, parsed.error());
  }
  if (*parsed == 0) {
    raise(ctx, field.mark, field.path, "must be more than 0 (leave the key out for no limit)");
  }
  return *parsed;
}

// A `quota` mapping: storage (a size) and messages (a count), each a positive value or
// "unlimited" (which lifts a default). Keys left out keep `base`'s value.
Quota readQuota(const Context& ctx, const Field& field, Quota base) {
  const MapReader map(ctx, field, {"storage", "messages"});
  const auto unlimited = [&](const Field& value) {
    return value.value.IsScalar() && value.value.Scalar() == "unlimited";
  };
  if (auto storage = map.optional("storage")) {
    base.storage = unlimited(*storage) ? std::nullopt : std::optional(positiveSize(ctx, *storage));
  }
  if (auto messages = map.optional("messages")) {
    base.messages = unlimited(*messages)
                        ? std::nullopt
                        : std::optional<std::uint64_t>(positiveCount(ctx, *messages));
  }
  return base;
}

PopAccount readAccount(const Context& ctx, const Field& field) {
  const MapReader map(ctx, field,
                      {"name",
                       "host",
                       "port",
                       "tls",
                       "verify_certificates",
                       "ca_file",
                       "username",
                       "password_file",
                       "password_env",
                       "password",
                       "poll_interval",
                       "retention",
                       "delete_after",
                       "keep_under",
                       "timeout",
                       "folder",
                       "auth",
                       "oauth2_token_file",
                       "oauth2_token_env",
                       "max_message_size",
                       "oversize",
                       "max_messages_per_session",
                       "max_bytes_per_session"});
  PopAccount account;
  const Field name = map.required("name");
  account.name = nonEmptyString(ctx, name);
  checkName(ctx, name, account.name);

  const Field host = map.required("host");
  account.host = nonEmptyString(ctx, host);
  for (const char c : account.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/') {
      raise(ctx, host.mark, host.path, inQuotes(account.host) + " is not a host name or address");
    }
  }

  if (auto tls = map.optional("tls")) {
    account.tls = oneOf<TlsMode>(ctx, *tls,
                                 {{"implicit", TlsMode::Implicit},
                                  {"starttls", TlsMode::Starttls},
                                  {"none", TlsMode::None}});
  }
  // POP3S is 995 (RFC 8314 section 7.3); plain POP3 and STLS (RFC 2595) use 110.
  account.port = account.tls == TlsMode::Implicit ? 995 : 110;
  if (auto port = map.optional("port")) {
    auto parsed = parsePort(scalar(ctx, *port, "a port number"), 1);
    if (!parsed) {
      raise(ctx, port->mark, port->path, parsed.error());
    }
    account.port = *parsed;
  }
  if (auto verify = map.optional("verify_certificates")) {
    account.verify = boolean(ctx, *verify) ? VerifyCertificates::Yes : VerifyCertificates::No;
  }
  if (auto ca_file = map.optional("ca_file")) {
    const std::filesystem::path path = pathValue(ctx, *ca_file);
    requireReadable(ctx, *ca_file, path, "CA file");
    account.ca_file = path.string();
  }
  account.username = nonEmptyString(ctx, map.required("username"));
  std::optional<Field> auth = map.optional("auth");
  if (auth) {
    account.auth = oneOf<PopAuth>(ctx, *auth,
                                  {{"auto", PopAuth::Auto},
                                   {"user", PopAuth::User},
                                   {"apop", PopAuth::Apop},
                                   {"plain", PopAuth::Plain},
                                   {"login", PopAuth::Login},
                                   {"xoauth2", PopAuth::Xoauth2}});
  }
  // XOAUTH2 logs in with a bearer token instead of the password; the other mechanisms need the
  // password and have no use for a token. Either mismatch is reported, not ignored.
  if (account.auth == PopAuth::Xoauth2) {
    for (const std::string_view key : {"password_file", "password_env", "password"}) {
      if (auto given = map.optional(key)) {
        raise(ctx, given->mark, given->path,
              "auth xoauth2 logs in with oauth2_token_file or oauth2_token_env, not a password");
      }
    }
    auto token =
        resolveSecret(ctx, map, {"oauth2_token_file", "oauth2_token_env"}, "OAuth 2.0 token");
    if (!token) {
      raise(ctx, auth->mark, auth->path,
            "auth xoauth2 needs the bearer token: set oauth2_token_file or oauth2_token_env");
    }
    account.oauth2_token = std::move(*token);
    if (auto file = map.optional("oauth2_token_file")) {
      account.oauth2_token_file = pathValue(ctx, *file).string();
    }
  } else {
    for (const std::string_view key : {"oauth2_token_file", "oauth2_token_env"}) {
      if (auto given = map.optional(key)) {
        raise(ctx, given->mark, given->path,
              "only applies with auth: xoauth2, got auth: " + std::string(toString(account.auth)));
      }
    }
    auto password =
        resolveSecret(ctx, map, {"password_file", "password_env", "password"}, "password");
    if (!password) {
      raise(ctx, map.mark(), map.path(),
            "missing the POP password: set exactly one of password_file, password_env or "
            "password");
    }
    account.password = std::move(*password);
  }

  if (auto interval = map.optional("poll_interval")) {
    auto parsed = parseDuration(scalar(ctx, *interval, "a duration such as 5m"));
    if (!parsed) {
      raise(ctx, interval->mark, interval->path, parsed.error());
    }
    if (*parsed < kMinPollInterval) {
      raise(ctx, interval->mark, interval->path,
            "must be at least " + formatDuration(kMinPollInterval) + ", got " +
                formatDuration(*parsed));
    }
    account.poll_interval = *parsed;
  }
  std::optional<Field> retention = map.optional("retention");
  if (retention) {
    account.retention = oneOf<Retention>(ctx, *retention,
                                         {{"keep", Retention::Keep},
                                          {"delete", Retention::Delete},
                                          {"delete_after", Retention::DeleteAfter},
                                          {"delete_when_expunged", Retention::DeleteWhenExpunged},
                                          {"keep_under", Retention::KeepUnder}});
  }
  // delete_after and keep_under are the parameters of the retention of the same name: one
  // without the other is a mistake worth reporting, not a value to ignore.
  const auto needs = [&](const char* key, Retention kind) {
    auto value = map.optional(key);
    if (value && account.retention != kind) {
      raise(ctx, value->mark, value->path,
            std::string("only applies with retention: ") + key +
                ", got retention: " + std::string(toString(account.retention)));
    }
    if (!value && account.retention == kind) {
      const Field& at = *retention;
      raise(ctx, at.mark, at.path, std::string("retention ") + key + " needs a " + key + " key");
    }
    return value;
  };
  if (auto after = needs("delete_after", Retention::DeleteAfter)) {
    auto parsed = parseDuration(scalar(ctx, *after, "a duration such as 7d"));
    if (!parsed) {
      raise(ctx, after->mark, after->path, parsed.error());
    }
    account.delete_after = *parsed;
  }
  if (auto under = needs("keep_under", Retention::KeepUnder)) {
    auto parsed = parseSize(scalar(ctx, *under, "a size such as 50M"));
    if (!parsed) {
      raise(ctx, under->mark, under->path, parsed.error());
    }
    account.keep_under = *parsed;
  }
  if (auto timeout = map.optional("timeout")) {
    auto parsed = parseDuration(scalar(ctx, *timeout, "a duration such as 60s"));
    if (!parsed) {
      raise(ctx, timeout->mark, timeout->path, parsed.error());
    }
    if (*parsed < kMinTimeout) {
      raise(ctx, timeout->mark, timeout->path,
            "must be at least " + formatDuration(kMinTimeout) + ", got " + formatDuration(*parsed));
    }
    account.timeout = *parsed;
  }
  std::optional<Field> max_size = map.optional("max_message_size");
  if (max_size) {
    account.max_message_size = positiveSize(ctx, *max_size);
  }
  if (auto oversize = map.optional("oversize")) {
    if (!max_size) {
      raise(ctx, oversize->mark, oversize->path, "only applies with max_message_size");
    }
    account.oversize =
        oneOf<Oversize>(ctx, *oversize, {{"skip", Oversize::Skip}, {"fetch", Oversize::Fetch}});
  }
  if (auto cap = map.optional("max_messages_per_session")) {
    account.max_messages_per_session = positiveCount(ctx, *cap);
  }
  if (auto cap = map.optional("max_bytes_per_session")) {
    account.max_bytes_per_session = positiveSize(ctx, *cap);
  }
  if (auto folder = map.optional("folder")) {
    account.folder = nonEmptyString(ctx, *folder);
    // INBOX is case-insensitive (RFC 3501 section 5.1); store it in its canonical spelling.
    if (account.folder.size() == 5) {
      std::string upper = account.folder;
      for (char& c : upper) {
        c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      }
      if (upper == "INBOX") {
        account.folder = upper;
      }
    }
  }
  return account;
}

User readUser(const Context& ctx, const Field& field, const Quota& default_quota) {
  const MapReader map(ctx, field, {"name", "password_hash", "password", "accounts", "quota"});
  User user;
  user.quota = default_quota;
  if (auto quota = map.optional("quota")) {
    user.quota = readQuota(ctx, *quota, default_quota);
  }
  const Field name = map.required("name");
  user.name = nonEmptyString(ctx, name);
  checkName(ctx, name, user.name);

  if (auto password = map.optional("password")) {
    raise(ctx, password->mark, password->path,
          "plaintext passwords are not accepted for local users; run \"popbridge hash-password\" "
          "and put its output in password_hash");
  }
  const Field hash = map.required("password_hash");
  user.password_hash = nonEmptyString(ctx, hash);
  if (!auth::isSupportedHash(user.password_hash)) {
    raise(ctx, hash.mark, hash.path,
          "not a supported crypt(3) hash; use yescrypt ($y$), SHA-512-crypt ($6$) or bcrypt "
          "($2b$) - \"popbridge hash-password\" prints one");
  }

  if (auto accounts = map.optional("accounts")) {
    if (!accounts->value.IsNull()) {
      for (const Field& entry : sequence(ctx, *accounts)) {
        PopAccount account = readAccount(ctx, entry);
        for (std::size_t i = 0; i < user.accounts.size(); ++i) {
          if (user.accounts[i].name == account.name) {
            raise(ctx, entry.mark, entry.path + ".name",
                  "duplicate account name " + inQuotes(account.name) + " (also " + accounts->path +
                      "[" + std::to_string(i) + "])");
          }
        }
        user.accounts.push_back(std::move(account));
      }
    }
  }
  return user;
}

void readImap(const Context& ctx, const Field& field, Config& config) {
  const MapReader map(ctx, field,
                      {"listen", "tls", "plaintext_auth", "append_limit", "auth_failure_delay",
                       "max_command_rate"});
  const Field listen = map.required("listen");
  std::optional<std::string> first_tls_listener;
  for (const Field& entry : sequence(ctx, listen)) {
    const MapReader item(ctx, entry, {"address", "tls"});
    const Field address = item.required("address");
    Listener listener;
    listener.address = nonEmptyString(ctx, address);
    auto parsed = parseListenAddress(listener.address);
    if (!parsed) {
      raise(ctx, address.mark, address.path, parsed.error());
    }
    listener.host = parsed->host;
    listener.port = parsed->port;
    listener.tls = oneOf<TlsMode>(ctx, item.required("tls"),
                                  {{"starttls", TlsMode::Starttls},
                                   {"implicit", TlsMode::Implicit},
                                   {"none", TlsMode::None}});
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
      const Listener& other = config.listeners[i];
      if (listener.port != 0 && other.port == listener.port && other.host == listener.host) {
        raise(ctx, address.mark, address.path,
              "duplicate listen address " + inQuotes(listener.address) + " (also " + listen.path +
                  "[" + std::to_string(i) + "])");
      }
    }
    if (listener.tls != TlsMode::None && !first_tls_listener) {
      first_tls_listener = entry.path;
    }
    config.listeners.push_back(std::move(listener));
  }
  if (config.listeners.empty()) {
    raise(ctx, listen.mark, listen.path, "needs at least one listener");
  }

  std::optional<Field> tls = map.optional("tls");
  if (first_tls_listener && !tls) {
    raise(ctx, map.mark(), map.path(),
          "missing required key \"tls\" (" + *first_tls_listener + " uses TLS)");
  }
  if (tls) {
    const MapReader tls_map(ctx, *tls, {"cert", "key"});
    const Field cert = tls_map.required("cert");
    const Field key = tls_map.required("key");
    const std::filesystem::path cert_path = pathValue(ctx, cert);
    const std::filesystem::path key_path = pathValue(ctx, key);
    // Only a TLS listener uses the files; with none they are checked for shape but not read.
    if (first_tls_listener) {
      requireReadable(ctx, cert, cert_path, "certificate file");
      requireReadable(ctx, key, key_path, "key file");
      config.tls_cert = cert_path.string();
      config.tls_key = key_path.string();
    }
  }
  if (auto plaintext = map.optional("plaintext_auth")) {
    config.plaintext_auth = oneOf<PlaintextAuth>(ctx, *plaintext,
                                                 {{"never", PlaintextAuth::Never},
                                                  {"loopback", PlaintextAuth::Loopback},
                                                  {"always", PlaintextAuth::Always}});
  }
  if (auto delay = map.optional("auth_failure_delay")) {
    auto parsed = parseDuration(scalar(ctx, *delay, "a duration such as 2s"));
    if (!parsed) {
      raise(ctx, delay->mark, delay->path, parsed.error());
    }
    if (*parsed > kMaxAuthFailureDelay) {
      raise(ctx, delay->mark, delay->path,
            "must be at most " + formatDuration(kMaxAuthFailureDelay) + ", got " +
                formatDuration(*parsed));
    }
    config.auth_failure_delay = *parsed;
  }
  if (auto rate = map.optional("max_command_rate")) {
    if (rate->value.IsScalar() && rate->value.Scalar() == "unlimited") {
      config.max_command_rate = std::nullopt;
    } else {
      config.max_command_rate = positiveCount(ctx, *rate);
    }
  }
  if (auto limit = map.optional("append_limit")) {
    auto parsed = parseSize(scalar(ctx, *limit, "a size such as 64M"));
    if (!parsed) {
      raise(ctx, limit->mark, limit->path, parsed.error());
    }
    // RFC 7889 3.1: APPENDLIMIT is a number64; popbridge keeps sizes far below that.
    if (*parsed == 0 || *parsed > kMaxAppendLimit) {
      raise(ctx, limit->mark, limit->path, "must be more than 0 and at most 1024G");
    }
    config.append_limit = *parsed;
  }
}

Config readConfig(const Context& ctx, const YAML::Node& root) {
  if (root.IsNull()) {
    raise(ctx, YAML::Mark::null_mark(), "",
          "the file is empty; expected a mapping with data_dir, imap and users");
  }
  const Field top{root, root.Mark(), ""};
  const MapReader map(ctx, top,
                      {"data_dir", "log_level", "control_socket", "imap", "quota", "users"});
  Config config;
  const Field data_dir = map.required("data_dir");
  config.data_dir = pathValue(ctx, data_dir);
  // A Unix socket path must fit sockaddr_un::sun_path (108 bytes with its NUL on Linux).
  constexpr std::size_t kMaxSocketPath = 107;
  if (auto socket = map.optional("control_socket")) {
    config.control_socket = pathValue(ctx, *socket);
    if (config.control_socket.string().size() > kMaxSocketPath) {
      raise(ctx, socket->mark, socket->path,
            "the path is longer than a Unix socket allows (" + std::to_string(kMaxSocketPath) +
                " bytes)");
    }
  } else {
    config.control_socket = config.data_dir / "control.sock";
    if (config.control_socket.string().size() > kMaxSocketPath) {
      raise(ctx, data_dir.mark, data_dir.path,
            "data_dir is too long for the control socket inside it (" +
                config.control_socket.string() + "); set control_socket to a shorter path");
    }
  }
  if (auto level = map.optional("log_level")) {
    config.log_level = oneOf<LogLevel>(ctx, *level,
                                       {{"debug", LogLevel::Debug},
                                        {"info", LogLevel::Info},
                                        {"warn", LogLevel::Warn},
                                        {"error", LogLevel::Error}});
  }
  readImap(ctx, map.required("imap"), config);
  if (auto quota = map.optional("quota")) {
    config.default_quota = readQuota(ctx, *quota, {});
  }

  const Field users = map.required("users");
  if (!users.value.IsNull()) {
    for (const Field& entry : sequence(ctx, users)) {
      User user = readUser(ctx, entry, config.default_quota);
      // Each user gets a store directory named after it; names differing only in case would
      // collide on case-insensitive file systems and confuse operators.
      for (std::size_t i = 0; i < config.users.size(); ++i) {
        if (equalsIgnoringAsciiCase(config.users[i].name, user.name)) {
          raise(ctx, entry.mark, entry.path + ".name",
                "duplicate user name " + inQuotes(user.name) + " (also " + users.path + "[" +
                    std::to_string(i) + "]; names are compared ignoring case)");
        }
      }
      config.users.push_back(std::move(user));
    }
  }
  return config;
}

}  // namespace

const User* Config::findUser(std::string_view name) const {
  for (const User& user : users) {
    if (user.name == name) {
      return &user;
    }
  }
  return nullptr;
}

std::string ConfigError::toString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) {
    out += key_path + ": ";
  }
  out += message;
  return out;
}

Result<Config, ConfigError> parseConfig(std::string_view yaml_text,
                                        const std::filesystem::path& file_name_for_errors) {
  const Context ctx{file_name_for_errors.string(), file_name_for_errors.parent_path()};
  try {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
      raise(ctx, e.mark, "", e.msg);
    }
    Config config = readConfig(ctx, root);
    config.source = file_name_for_errors;
    return config;
  } catch (const Failure& failure) {
    return fail(failure.error);
  } catch (const YAML::Exception& e) {
    // Node access on a well-formed document should not throw; report rather than crash if it does.
    ConfigError error{ctx.file, 0, 0, "", e.what()};
    if (!e.mark.is_null()) {
      error.line = e.mark.line + 1;
      error.column = e.mark.column + 1;
    }
    return fail(std::move(error));
  }
}

Result<Config, ConfigError> loadConfig(const std::filesystem::path& file) {
  auto text = readSmallFile(file, kMaxConfigBytes);
  if (!text) {
    return fail(ConfigError{file.string(), 0, 0, "", "cannot read config file: " + text.error()});
  }
  return parseConfig(*text, file);
}

std::string_view toString(TlsMode mode) {
  switch (mode) {
    case TlsMode::None:
      return "none";
    case TlsMode::Starttls:
      return "starttls";
    case TlsMode::Implicit:
      return "implicit";
  }
  return "unknown";
}

std::string_view toString(PlaintextAuth mode) {
  switch (mode) {
    case PlaintextAuth::Never:
      return "never";
    case PlaintextAuth::Loopback:
      return "loopback";
    case PlaintextAuth::Always:
      return "always";
  }
  return "unknown";
}

std::string_view toString(Retention retention) {
  switch (retention) {
    case Retention::Keep:
      return "keep";
    case Retention::Delete:
      return "delete";
    case Retention::DeleteAfter:
      return "delete_after";
    case Retention::DeleteWhenExpunged:
      return "delete_when_expunged";
    case Retention::KeepUnder:
      return "keep_under";
  }
  return "unknown";
}

std::string_view toString(PopAuth auth) {
  switch (auth) {
    case PopAuth::Auto:
      return "auto";
    case PopAuth::User:
      return "user";
    case PopAuth::Apop:
      return "apop";
    case PopAuth::Plain:
      return "plain";
    case PopAuth::Login:
      return "login";
    case PopAuth::Xoauth2:
      return "xoauth2";
  }
  return "unknown";
}

std::string_view toString(Oversize oversize) {
  switch (oversize) {
    case Oversize::Skip:
      return "skip";
    case Oversize::Fetch:
      return "fetch";
  }
  return "unknown";
}

std::string_view toString(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "unknown";
}

}  // namespace popbridge::proxy::config
