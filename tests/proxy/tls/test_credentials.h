#pragma once

// Test support shared by tests/proxy/tls and tests/proxy/core: a private temp directory holding a
// freshly generated self-signed certificate and key.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "proxy/tls/self_signed.h"

namespace popbridge::proxy::tls::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pb-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

  std::string write(const std::string& name, const std::string& contents) const {
    const std::string path = file(name);
    std::ofstream out(path, std::ios::binary);
    out << contents;
    return path;
  }

 private:
  std::filesystem::path path_;
};

// A self-signed certificate for `names` written to cert.pem / key.pem. The certificate doubles as
// the CA file a client trusts it with.
struct Credentials {
  TempDir dir;
  std::string cert_file;
  std::string key_file;

  explicit Credentials(const std::vector<std::string>& names = {"localhost", "127.0.0.1"},
                       const std::string& prefix = "") {
    auto pem = generateSelfSigned("popbridge test", names, std::chrono::hours(24));
    if (!pem) {
      ADD_FAILURE() << pem.error().message;
      return;
    }
    cert_file = dir.write(prefix + "cert.pem", pem->certificate_pem);
    key_file = dir.write(prefix + "key.pem", pem->private_key_pem);
  }
};

}  // namespace popbridge::proxy::tls::testing
