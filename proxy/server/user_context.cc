#include "proxy/server/user_context.h"

#include "proxy/server/mailbox_hub.h"

namespace popbridge::proxy {

UserContext::UserContext(uv_loop_t* loop, std::string name, std::shared_ptr<store::UserStore> store,
                         MailboxHub& hub)
    : loop_(loop), name_(std::move(name)), store_(std::move(store)), hub_(hub) {}

void UserContext::enqueue(Job job) {
  queue_.push_back(std::move(job));
  if (!running_) startNext();
}

void UserContext::publish(const std::vector<const store::ChangeSet*>& changes) {
  for (const store::ChangeSet* change : changes) hub_.publish(name_, *change);
}

void UserContext::startNext() {
  if (queue_.empty()) {
    running_ = false;
    return;
  }
  running_ = true;
  auto job = std::make_shared<Job>(std::move(queue_.front()));
  queue_.pop_front();
  runOnWorker(
      loop_, [job] { job->work(); },
      // The UserContext outlives the loop's last turn (the daemon runs the loop dry before
      // destroying it), and this runs on the loop thread.
      [this, job] {
        job->done();
        startNext();
      });
}

}  // namespace popbridge::proxy
