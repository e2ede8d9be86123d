#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"

namespace popbridge::proxy::config {

// The daemon's configuration as loaded from YAML (see config.example.yaml, which documents every
// key). A Config is a plain value: copy it freely; it is immutable by convention once loaded and
// may then be read from any thread.

enum class TlsMode { None, Starttls, Implicit };
enum class PlaintextAuth { Never, Loopback, Always };
// What happens upstream once a message is stored (see config.example.yaml).
enum class Retention { Keep, Delete, DeleteAfter, DeleteWhenExpunged, KeepUnder };
enum class VerifyCertificates { Yes, No };
enum class LogLevel { Debug, Info, Warn, Error };
// How a POP account logs in (see config.example.yaml).
enum class PopAuth { Auto, User, Apop, Plain, Login, Xoauth2 };
// What happens to a message above max_message_size.
enum class Oversize { Skip, Fetch };

// An IMAP listening socket.
struct Listener {
  std::string address;  // as written, "0.0.0.0:143" or "[::1]:993"
  std::string host;     // numeric address without brackets: "0.0.0.0", "::1"
  std::uint16_t port = 0;
  TlsMode tls = TlsMode::None;
};

// One upstream POP3 mailbox pulled into a user's store.
struct PopAccount {
  std::string name;  // unique within its user
  std::string host;
  std::uint16_t port = 0;  // defaulted to 995 for implicit TLS, 110 otherwise
  TlsMode tls = TlsMode::Implicit;
  VerifyCertificates verify = VerifyCertificates::Yes;
  std::string ca_file;  // absolute or relative to the config file's directory; empty = system CAs
  std::string username;
  std::string password;  // resolved secret (never logged)
  std::chrono::milliseconds poll_interval{std::chrono::minutes(5)};
  Retention retention = Retention::Keep;
  std::chrono::milliseconds delete_after{0};  // retention delete_after: age since first seen
  std::uint64_t keep_under = 0;               // retention keep_under: maildrop size target, bytes
  // No reply from the server for this long ends the session (every step: connect, TLS, each
  // reply, each chunk of a message).
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::string folder = "INBOX";
  PopAuth auth = PopAuth::Auto;
  // auth xoauth2: the bearer token (never logged), from oauth2_token_env or read from
  // oauth2_token_file at load time; with a file, each session reads it again, so an outside
  // refresher can replace an expiring token.
  std::string oauth2_token;
  std::string oauth2_token_file;  // resolved path; empty when the token came from the env
  // Limits; 0 = none. Messages over max_message_size (by their LIST size) follow `oversize`.
  std::uint64_t max_message_size = 0;
  Oversize oversize = Oversize::Skip;
  std::uint32_t max_messages_per_session = 0;
  std::uint64_t max_bytes_per_session = 0;

  // Every setting equal (a config reload re-applies an account only when this is false).
  friend bool operator==(const PopAccount&, const PopAccount&) = default;
};

// Quota limits of one user's store (RFC 9208 resources STORAGE and MESSAGE); nullopt = none.
// APPEND, COPY and MOVE over a limit are refused; the POP pull never is.
struct Quota {
  std::optional<std::uint64_t> storage;   // bytes: the sum of RFC822.SIZE over all mailboxes
  std::optional<std::uint64_t> messages;  // messages in all mailboxes
  friend bool operator==(const Quota&, const Quota&) = default;
};

// A local user: logs in over IMAP with a password checked against password_hash.
struct User {
  std::string name;
  std::string password_hash;  // crypt(3) hash, checked by auth::isSupportedHash at load time
  std::vector<PopAccount> accounts;
  // The limits in force: each key of the user's own `quota` mapping, else the top-level
  // `quota`'s, else none.
  Quota quota;
};

struct Config {
  std::filesystem::path source;    // the file it came from
  std::filesystem::path data_dir;  // relative paths are resolved against source's directory
  LogLevel log_level = LogLevel::Info;
  // The daemon's control socket (popbridge status/sync); default data_dir/control.sock.
  std::filesystem::path control_socket;
  std::vector<Listener> listeners;
  std::string tls_cert, tls_key;  // empty when no TLS listener
  PlaintextAuth plaintext_auth = PlaintextAuth::Loopback;
  // Limits on every IMAP connection against guessing and flooding: how long a failed login
  // waits before its NO (imap.auth_failure_delay), and how many commands per second a
  // connection may run (imap.max_command_rate; none when unset, "unlimited" in the file).
  std::chrono::milliseconds auth_failure_delay{2000};
  std::optional<std::uint32_t> max_command_rate = 1000;
  // imap.append_limit: the largest message APPEND accepts, in bytes (RFC 7889 APPENDLIMIT).
  static constexpr std::uint64_t kDefaultAppendLimit = 64ull << 20;
  std::uint64_t append_limit = kDefaultAppendLimit;
  Quota default_quota;  // the top-level `quota`, already folded into each User::quota
  std::vector<User> users;

  // The user with exactly this name (names compare byte for byte), or nullptr. The pointer
  // borrows from this Config and is valid while it lives and `users` is not modified.
  const User* findUser(std::string_view name) const;
};

// A configuration problem, located as precisely as the input allows.
struct ConfigError {
  std::string file;
  int line = 0;          // 1-based; 0 when the error has no position (unreadable file, empty file)
  int column = 0;        // 1-based
  std::string key_path;  // "users[0].accounts[1].tls"; empty for syntax and file errors
  std::string message;

  // "file:line:col: key.path: message"; the position and key path parts are left out when
  // unknown ("file: message").
  std::string toString() const;
};

// Reads and validates the YAML file at `file`. Relative paths inside it (data_dir, password_file,
// certificate files, ca_file) are resolved against the file's directory. Resolves account secrets
// (reads password files, looks up environment variables) and checks that certificate and CA
// files are readable. Returns the config or the first problem found. Reads the environment with
// getenv, so call it at startup or while no other thread calls setenv.
Result<Config, ConfigError> loadConfig(const std::filesystem::path& file);

// As loadConfig, but from text already in memory; `file_name_for_errors` is reported in errors,
// stored as Config::source and is the base for relative paths. Same thread rules as loadConfig.
Result<Config, ConfigError> parseConfig(std::string_view yaml_text,
                                        const std::filesystem::path& file_name_for_errors);

// The configuration spelling of each enum value ("starttls", "loopback", ...). Pure.
std::string_view toString(TlsMode mode);
std::string_view toString(PlaintextAuth mode);
std::string_view toString(Retention retention);
std::string_view toString(LogLevel level);
std::string_view toString(PopAuth auth);
std::string_view toString(Oversize oversize);

}  // namespace popbridge::proxy::config
