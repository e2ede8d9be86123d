#include "proxy/server/user_context.h"

#include <optional>

#include "proxy/core/worker.h"
#include "proxy/server/mailbox_hub.h"

namespace popbridge::proxy {

UserContext::UserContext(uv_loop_t* loop, std::string name, std::shared_ptr<store::UserStore> store,
                         MailboxHub& hub)
    : loop_(loop), name_(std::move(name)), store_(std::move(store)), hub_(hub) {}

void UserContext::write(WriteWork work, WriteDone done) {
  queue_.push_back(Job{std::move(work), std::move(done)});
  if (!running_) startNext();
}

void UserContext::startNext() {
  if (queue_.empty()) {
    running_ = false;
    return;
  }
  running_ = true;
  auto job = std::make_shared<Job>(std::move(queue_.front()));
  queue_.pop_front();
  auto result = std::make_shared<std::optional<store::Result<store::ChangeSet>>>();
  runOnWorker(
      loop_, [store = store_, job, result] { result->emplace(job->work(*store)); },
      // The UserContext outlives the loop's last turn (the daemon runs the loop dry before
      // destroying it), and this runs on the loop thread.
      [this, job, result] {
        if (**result) hub_.publish(name_, ***result);
        if (job->done) job->done(std::move(**result));
        startNext();
      });
}

}  // namespace popbridge::proxy
