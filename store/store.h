#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "store/error.h"
#include "store/types.h"
#include "store/user_store.h"

namespace popbridge::store {

// The folder store: data_dir/users/<user>/ per user (DESIGN.md "The store"). Thread-safe after
// open(); no method calls back.
class Store {
 public:
  // Opens (creating if needed) the data directory. Thread-safe after open. The caller owns the
  // returned Store; UserStores handed out stay valid as long as someone holds them.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& data_dir);

  // The user's store, opened on first use and cached; the same shared_ptr for the same name.
  // InvalidName for a bad user name; Io if another process holds the user directory.
  Result<std::shared_ptr<UserStore>> user(std::string_view name);

  // Verifies every row's blob exists with the right size and lists blob files no row references.
  // Deletes nothing. (For `popbridge store check` and the kill tests.) Opens the user like user().
  using CheckReport = IntegrityReport;
  Result<CheckReport> check(std::string_view user);

  const std::filesystem::path& dataDir() const { return data_dir_; }

 private:
  explicit Store(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

  std::filesystem::path data_dir_;
  std::mutex mutex_;  // guards users_
  std::map<std::string, std::shared_ptr<UserStore>, std::less<>> users_;
};

}  // namespace popbridge::store
