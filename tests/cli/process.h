// tests/cli/process.h: running the real `nodus` binary from tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace nodus::test {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`), capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv,
              const std::map<std::string, std::string>& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A child process running in the background with stdout+stderr going to a file.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
        const std::map<std::string, std::string>& env = {});
  ~Child();  // SIGKILLs the child if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; returns the exit code, 128+signal when killed, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// One HTTP/1.0 GET on 127.0.0.1:port. Returns the status code (0 when unreachable) and body.
int http_get(uint16_t port, const std::string& path, std::string* body = nullptr);

// `count` consecutive TCP ports that are free on 127.0.0.1 right now; returns the first.
uint16_t free_port_block(int count);

std::string read_file(const std::filesystem::path& file);

}  // namespace nodus::test
