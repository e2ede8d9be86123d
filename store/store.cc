#include "store/store.h"

#include <unistd.h>

#include "store/file_ops.h"
#include "store/names.h"

namespace popbridge::store {

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& data_dir) {
  const auto users = data_dir / "users";
  const bool fresh = ::access(users.c_str(), F_OK) != 0;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return fail(Error{ErrorCode::Io, "create " + data_dir.string() + ": " + ec.message()});
  if (auto made = makeDirectory(users); !made) return fail(made.error());
  if (fresh) {
    if (auto synced = fsyncDirectory(data_dir); !synced) return fail(synced.error());
  }
  return std::unique_ptr<Store>(new Store(data_dir));
}

Result<std::shared_ptr<UserStore>> Store::user(std::string_view name) {
  if (auto valid = validateUserName(name); !valid) return fail(valid.error());
  // Held while opening so two threads asking for a new user share one UserStore.
  std::lock_guard lock(mutex_);
  if (auto it = users_.find(name); it != users_.end()) return it->second;
  auto opened = UserStore::open(data_dir_ / "users" / std::string(name));
  if (!opened) return fail(opened.error());
  users_.emplace(std::string(name), *opened);
  return std::move(*opened);
}

Result<Store::CheckReport> Store::check(std::string_view user_name) {
  auto opened = user(user_name);
  if (!opened) return fail(opened.error());
  return (*opened)->check();
}

}  // namespace popbridge::store
