#include "proxy/server/account_selection.h"

namespace popbridge::proxy {

Result<std::vector<AccountRef>, std::string> selectAccounts(const config::Config& config,
                                                            std::string_view target) {
  std::vector<AccountRef> out;
  const std::size_t slash = target.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view user_name = target.substr(0, slash);
    const std::string_view account_name = target.substr(slash + 1);
    const config::User* user = config.findUser(user_name);
    if (user == nullptr) return fail("no user \"" + std::string(user_name) + "\" in the config");
    for (const config::PopAccount& account : user->accounts) {
      if (account.name == account_name) return std::vector<AccountRef>{{user->name, account.name}};
    }
    return fail("user " + user->name + " has no POP account \"" + std::string(account_name) + "\"");
  }
  if (const config::User* user = target.empty() ? nullptr : config.findUser(target)) {
    for (const config::PopAccount& account : user->accounts) {
      out.push_back({user->name, account.name});
    }
    if (out.empty()) return fail("user " + user->name + " has no POP accounts");
    return out;
  }
  for (const config::User& user : config.users) {
    for (const config::PopAccount& account : user.accounts) {
      if (target.empty() || account.name == target) out.push_back({user.name, account.name});
    }
  }
  if (out.empty()) {
    if (target.empty()) return fail(std::string("no POP accounts are configured"));
    return fail("no user or POP account named \"" + std::string(target) + "\" in the config");
  }
  return out;
}

}  // namespace popbridge::proxy
