#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "proxy/config/config.h"

namespace popbridge::proxy {

// One configured POP account, by user and account name.
struct AccountRef {
  std::string user;
  std::string account;

  friend bool operator==(const AccountRef&, const AccountRef&) = default;
};

// The accounts a `popbridge sync` target names, in configuration order:
//   ""              every account of every user;
//   "USER/ACCOUNT"  that account;
//   "NAME"          every account of user NAME if there is such a user, else every account
//                   named NAME (of any user).
// An error says what was not found (or that a user has no POP accounts). Pure.
Result<std::vector<AccountRef>, std::string> selectAccounts(const config::Config& config,
                                                            std::string_view target);

}  // namespace popbridge::proxy
