#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "store/user_store.h"

namespace popbridge::proxy {

class MailboxHub;

// One configured user's store handle and write queue. Writes of one user run one at a time,
// in submission order, on worker threads; each successful write's change set is published to
// the hub before its completion runs, so every session sees changes in commit order.
// Loop thread only (the store itself is used from workers).
class UserContext {
 public:
  using WriteWork = std::function<store::Result<store::ChangeSet>(store::UserStore&)>;
  using WriteDone = std::function<void(store::Result<store::ChangeSet>)>;

  UserContext(uv_loop_t* loop, std::string name, std::shared_ptr<store::UserStore> store,
              MailboxHub& hub);
  UserContext(const UserContext&) = delete;
  UserContext& operator=(const UserContext&) = delete;

  const std::string& name() const { return name_; }
  // The user's store; shared with worker threads, which may call it concurrently.
  const std::shared_ptr<store::UserStore>& store() const { return store_; }

  // Queues `work` (run on a worker with the user's store); `done` runs on the loop thread
  // after the change set was published. `done` may be empty.
  void write(WriteWork work, WriteDone done);

  // Reads run concurrently with writes: `work` on a worker, `done` on the loop thread.
  template <class T>
  void read(std::function<T(store::UserStore&)> work, std::function<void(T)> done);

 private:
  struct Job {
    WriteWork work;
    WriteDone done;
  };
  void startNext();

  uv_loop_t* loop_;
  std::string name_;
  std::shared_ptr<store::UserStore> store_;
  MailboxHub& hub_;
  std::deque<Job> queue_;
  bool running_ = false;
};

}  // namespace popbridge::proxy

#include "proxy/core/worker.h"

namespace popbridge::proxy {

template <class T>
void UserContext::read(std::function<T(store::UserStore&)> work, std::function<void(T)> done) {
  auto result = std::make_shared<std::optional<T>>();
  runOnWorker(
      loop_, [store = store_, work = std::move(work), result] { result->emplace(work(*store)); },
      [done = std::move(done), result] { done(std::move(**result)); });
}

}  // namespace popbridge::proxy
