#include "proxy/cli/password_prompt.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <istream>
#include <ostream>

namespace popbridge::proxy::cli {
namespace {

// Turns terminal echo off for its lifetime so the password is not shown while typed.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) {
      error_ = errno;
      return;
    }
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    // Keep ECHONL so the newline the user types still moves the cursor.
    quiet.c_lflag |= ECHONL;
    if (tcsetattr(fd_, TCSAFLUSH, &quiet) != 0) {
      error_ = errno;
      return;
    }
    active_ = true;
  }
  ~EchoOff() {
    if (active_) {
      tcsetattr(fd_, TCSAFLUSH, &saved_);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

  int error() const { return error_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
  int error_ = 0;
};

// A line typed at a terminal; longer input is refused rather than buffered without bound.
constexpr std::size_t kMaxLine = 4096;

Result<std::string, std::string> readLineFromFd(int fd) {
  std::string line;
  while (true) {
    char c = 0;
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail("cannot read the password: " + std::string(std::strerror(errno)));
    }
    if (n == 0) {
      if (line.empty()) {
        return fail(std::string("no password entered"));
      }
      break;
    }
    if (c == '\n') {
      break;
    }
    if (line.size() >= kMaxLine) {
      return fail(std::string("the password is too long"));
    }
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

}  // namespace

Result<std::string, std::string> readPasswordLine(std::istream& in) {
  std::string line;
  if (!std::getline(in, line) && line.empty()) {
    return fail(std::string("no password on standard input"));
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

Result<std::string, std::string> readPasswordFromTerminal(int fd, std::ostream& prompt_out) {
  const EchoOff echo_off(fd);
  if (echo_off.error() != 0) {
    return fail("cannot turn off terminal echo: " + std::string(std::strerror(echo_off.error())));
  }
  prompt_out << "Password: " << std::flush;
  auto first = readLineFromFd(fd);
  if (!first) {
    return first;
  }
  prompt_out << "Repeat password: " << std::flush;
  auto second = readLineFromFd(fd);
  if (!second) {
    return second;
  }
  if (*first != *second) {
    return fail(std::string("the passwords do not match"));
  }
  return first;
}

}  // namespace popbridge::proxy::cli
