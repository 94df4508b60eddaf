#include "kernel/supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <system_error>

#include "kernel/process/process.h"
#include "kernel/supervisor/aggregate_metrics.h"
#include "kernel/supervisor/bus.h"
#include "kernel/supervisor/control_server.h"
#include "kernel/supervisor/preflight.h"

namespace nodus::kernel {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

// The loop wakes at least this often, whatever else is due.
constexpr milliseconds kLoopTickMax{100};
// Bound on one Control API call waiting for the supervisor thread.
constexpr milliseconds kApiTimeout{5000};
// Unix socket paths are limited to 108 bytes (107 usable for ipc://).
constexpr size_t kSocketPathMax = 107;
// A wakeup this much later than planned means the supervisor itself was starved of CPU.
constexpr milliseconds kLateWakeupMin{200};

void ignore_signal(int) {}

// Writes `text` to `file` through a temporary file and rename, so readers never see half.
Status write_file_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  NODUS_ASSIGN_OR_RETURN(UniqueFd fd, open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC));
  NODUS_RETURN_IF_ERROR(pwrite_all(fd.get(), text, 0, tmp));
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return permission_denied(file.string() + ": " + ec.message());
  return {};
}

}  // namespace

Supervisor::Supervisor(Profile profile, SupervisorOptions options, SupervisorPolicy policy)
    : profile_(std::move(profile)),
      options_(std::move(options)),
      policy_(policy),
      backoff_(policy.backoff_initial_ms, policy.backoff_max_ms),
      rng_(std::random_device{}()) {}

Supervisor::~Supervisor() {
  if (metrics_http_) metrics_http_->stop();
  if (control_) control_->stop();
  std::error_code ec;
  if (owns_run_dir_) {
    fs::remove(run_dir_ / "control.addr", ec);
    fs::remove(run_dir_ / "bus.sock", ec);
    fs::remove(run_dir_ / "control.sock", ec);
  }
}

Result<std::unique_ptr<Supervisor>> Supervisor::create(Profile profile, SupervisorOptions options) {
  NODUS_ASSIGN_OR_RETURN(SupervisorPolicy policy, parse_supervisor_policy(profile.supervisor));
  if (options.nodus_binary.empty()) options.nodus_binary = self_executable();
  std::unique_ptr<Supervisor> sup(new Supervisor(std::move(profile), std::move(options), policy));
  // Before any thread exists (ZeroMQ's, gRPC's), so that every thread inherits the mask.
  NODUS_RETURN_IF_ERROR(sup->install_signals());
  NODUS_RETURN_IF_ERROR(sup->open_run_dir());
  const Profile& p = sup->profile_;
  NODUS_ASSIGN_OR_RETURN(sup->local_hosts_, local_hosts(p, sup->options_.host));
  // Each instance's plugins, configured as that instance would configure them, before any
  // process starts: a bad value is one FILE:LINE:COL line here, not an instance that exits.
  // After install_signals(): a node's services may start threads, which inherit the mask.
  for (uint32_t i = 0; i < p.instances; ++i) {
    if (!sup->runs_here(i)) continue;
    NODUS_RETURN_IF_ERROR(check_plugin_configs(p, i, i + 1, sup->options_.plugin_dirs));
  }
  for (uint32_t i = 0; i < p.instances; ++i) {
    if (!sup->runs_here(i)) continue;
    NODUS_RETURN_IF_ERROR(check_ports_free(p, i, i + 1));
    NODUS_RETURN_IF_ERROR(check_data_dirs(p, i, i + 1));
  }
  ControlServerOptions control_options;
  control_options.address = sup->options_.control_address.empty()
                                ? "unix:" + (sup->run_dir_ / "control.sock").string()
                                : sup->options_.control_address;
  control_options.run_dir = sup->run_dir_;
  control_options.cluster = p.name;
  if (p.tls.enabled()) {
    control_options.tls = tls_files_for_instance(
        TlsFiles{p.tls.ca_file, p.tls.cert_file, p.tls.key_file, p.tls.require_client_cert},
        "supervisor");
  }
  control_options.warn = [log = sup->log_.get()](const std::string& what) { log->warn(what); };
  auto control = ControlServer::start(*sup, control_options);
  if (!control.ok()) return control.status();
  sup->control_ = std::move(*control);
  NODUS_RETURN_IF_ERROR(sup->serve_aggregate_metrics());
  const std::string addr = sup->control_->target() + "\n";
  if (Status st = write_file_atomically(sup->run_dir_ / "control.addr", addr); !st.ok()) return st;
  (void)write_file_atomically(sup->run_dir_ / "data_dir", fs::absolute(p.data_dir).string() + "\n");
  return sup;
}

Status Supervisor::serve_aggregate_metrics() {
  if (policy_.metrics_port == 0) return {};
  for (uint32_t i = 0; i < profile_.instances; ++i) {
    for (const auto& [name, port] : profile_.ports_for(i)) {
      if (port == policy_.metrics_port) {
        return invalid_argument("supervisor.metrics_port: " + std::to_string(port) +
                                " is also the " + name + " port of instance " + std::to_string(i));
      }
    }
  }
  metrics_http_ = std::make_unique<HttpServer>();
  metrics_http_->route("/metrics", [this](const HttpRequest&) {
    auto snapshot = status();
    if (!snapshot.ok()) {
      return HttpResponse{503, "text/plain; charset=utf-8", snapshot.status().message() + "\n"};
    }
    // Each instance's kernel registry, from its health endpoint; its series carry `instance`.
    std::vector<std::string> scrapes;
    for (const auto& inst : snapshot->instances()) {
      const auto health = inst.ports().find("health");
      if (inst.pid() == 0 || health == inst.ports().end()) continue;
      auto text =
          http_get_text(profile_.address_of(inst.index()), static_cast<uint16_t>(health->second),
                        "/metrics", std::chrono::milliseconds(1000));
      if (text.ok()) scrapes.push_back(std::move(*text));
    }
    scrapes.push_back(container_totals(*snapshot));
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", merge_exposition(scrapes)};
  });
  Status st =
      metrics_http_->listen(profile_.bind_host, static_cast<uint16_t>(policy_.metrics_port));
  if (!st.ok()) return st.with_context("supervisor.metrics_port");
  return {};
}

Status Supervisor::open_run_dir() {
  std::error_code ec;
  run_dir_ = fs::absolute(profile_.run_dir, ec);
  log_dir_ = run_dir_ / "logs";
  NODUS_ASSIGN_OR_RETURN(lock_fd_, lock_run_dir(run_dir_));
  owns_run_dir_ = true;
  fs::create_directories(log_dir_, ec);
  if (ec) return permission_denied("log directory " + log_dir_.string() + ": " + ec.message());
  LogSinkOptions log_options;
  log_options.min_level = profile_.log.level;
  log_options.format = profile_.log.json ? LogFormat::kJson : LogFormat::kText;
  log_options.file = log_dir_ / "supervisor.log";
  NODUS_ASSIGN_OR_RETURN(sink_, LogSink::create(std::move(log_options)));
  log_ = std::make_unique<ComponentLogger>(sink_, profile_.name, "supervisor");

  const fs::path bus_path = run_dir_ / "bus.sock";
  if (bus_path.string().size() > kSocketPathMax) {
    return invalid_argument("run directory " + run_dir_.string() +
                            ": too long for a unix socket path (bus.sock over 107 bytes)");
  }
  fs::remove(bus_path, ec);  // a stale socket of a supervisor that died; we hold the lock
  fs::remove(run_dir_ / "control.sock", ec);
  bus_ = std::make_unique<Bus>();
  bus_->endpoint = "ipc://" + bus_path.string();
  try {
    bus_->socket.set(zmq::sockopt::linger, 0);
    bus_->socket.set(zmq::sockopt::rcvhwm, 10000);
    bus_->socket.bind(bus_->endpoint);
  } catch (const zmq::error_t& e) {
    return unavailable("supervisor bus " + bus_->endpoint + ": " + e.what());
  }
  return {};
}

Status Supervisor::install_signals() {
  // As PID 1 a signal with the default action is ignored, so give each a handler; blocking
  // them then routes them all to the signalfd.
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    ::sigaction(sig, &sa, nullptr);
    sigaddset(&set, sig);
  }
  ::signal(SIGPIPE, SIG_IGN);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = UniqueFd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  wake_fd_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!signal_fd_.valid() || !wake_fd_.valid()) {
    return internal_error(std::string("signalfd/eventfd: ") +
                          std::system_category().message(errno));
  }
  // Orphaned grandchildren are re-parented to us, so that we reap them (PID 1 already is).
  if (::getpid() != 1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return internal_error(std::string("prctl(PR_SET_CHILD_SUBREAPER): ") +
                          std::system_category().message(errno));
  }
  return {};
}

int Supervisor::run() {
  target_instances_ = profile_.instances;
  log_->info("starting " + std::to_string(target_instances_) + " instances",
             {{"profile", profile_.source.string()},
              {"control", control_->target()},
              {"pid", std::to_string(::getpid())},
              {"restart", std::string(restart_mode_name(policy_.restart))}});
  for (uint32_t i = 0; i < target_instances_; ++i) {
    if (!runs_here(i)) continue;  // another host's supervisor runs it
    Instance& inst = add_instance(i);
    if (Status st = spawn(inst); !st.ok()) {
      begin_shutdown(kExitFailure, st.message());
      break;
    }
  }
  while (!done_)
    loop_once();
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    closed_ = true;
  }
  run_posted();  // answer API calls that raced with the end
  log_->info("supervisor exiting", {{"code", std::to_string(exit_code_)}});
  return exit_code_;
}

void Supervisor::loop_once() {
  std::vector<zmq::pollitem_t> items;
  items.push_back({bus_->socket.handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({nullptr, signal_fd_.get(), ZMQ_POLLIN, 0});
  items.push_back({nullptr, wake_fd_.get(), ZMQ_POLLIN, 0});
  std::vector<uint32_t> readers;  // indices, not pointers: a reaped instance may be removed
  for (auto& [index, inst] : instances_) {
    if (!inst->output.valid()) continue;
    items.push_back({nullptr, inst->output.get(), ZMQ_POLLIN, 0});
    readers.push_back(index);
  }
  const auto wait = std::chrono::duration_cast<milliseconds>(next_wakeup(Clock::now()));
  const auto planned = Clock::now() + wait;
  try {
    zmq::poll(items.data(), items.size(), wait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) log_->error(std::string("poll: ") + e.what());
  }
  // When this loop was not scheduled for a while, the instances' silence over that time says
  // nothing about them (the machine is starved, and so were we): credit it back.
  if (const auto late = Clock::now() - planned; late >= kLateWakeupMin) {
    for (auto& [index, inst] : instances_) {
      if (inst->heartbeat_seen) inst->last_heartbeat += late;
    }
  }
  for (size_t i = 0; i < readers.size(); ++i) {
    auto it = instances_.find(readers[i]);
    if (items[3 + i].revents != 0 && it != instances_.end()) drain_output(*it->second, false);
  }
  if (items[1].revents != 0) handle_signals();
  reap_children();  // also catches exits whose SIGCHLD coalesced with another
  if (items[0].revents != 0) drain_bus();
  if (items[2].revents != 0) {
    uint64_t n = 0;
    (void)::read(wake_fd_.get(), &n, sizeof(n));
  }
  run_posted();
  check_deadlines(Clock::now());
  if (shutting_down_ && !any_alive()) done_ = true;
}

Supervisor::Clock::duration Supervisor::next_wakeup(Clock::time_point now) const {
  Clock::time_point next = now + kLoopTickMax;
  for (const auto& [index, inst] : instances_) {
    if (inst->state == InstanceState::kBackoff) next = std::min(next, inst->restart_at);
    if (inst->stop_signalled) next = std::min(next, inst->kill_at);
    if (inst->alive() && inst->heartbeat_seen && !inst->stop_signalled) {
      next = std::min(next, inst->last_heartbeat + milliseconds(policy_.heartbeat_deadline_ms()));
    }
  }
  return std::max<Clock::duration>(next - now, milliseconds(1));
}

void Supervisor::handle_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) continue;  // reap_children() runs after every wakeup
    if (sig == SIGHUP) {
      log_->info("forwarding SIGHUP to every instance");
      for (auto& [index, inst] : instances_) {
        if (inst->alive()) signal_group(inst->pid, SIGHUP);
      }
      continue;
    }
    const char* name = ::sigabbrev_np(sig);
    begin_shutdown(kExitOk, (name != nullptr ? "SIG" + std::string(name) : "signal") +
                                " from pid " + std::to_string(info.ssi_pid));
  }
}

void Supervisor::begin_shutdown(int exit_code, const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  exit_code_ = exit_code;
  log_->info("stopping every instance: " + why);
  for (auto& [index, inst] : instances_) {
    if (inst->alive()) {
      request_stop(*inst, AfterExit::kStop);
    } else if (inst->state == InstanceState::kBackoff) {
      set_state(*inst, InstanceState::kStopped);
    }
  }
}

void Supervisor::run_posted() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks)
    task();
}

Status Supervisor::post_and_wait(std::function<void()> task) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (closed_) return unavailable("the supervisor is shutting down");
    posted_.push_back([task = std::move(task), done] {
      task();
      done->set_value();
    });
  }
  const uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof(one));
  if (future.wait_for(kApiTimeout) != std::future_status::ready) {
    return deadline_exceeded("the supervisor did not answer within 5 s");
  }
  return {};
}

Result<nodus::v1::StatusReply> Supervisor::status() {
  auto reply = std::make_shared<nodus::v1::StatusReply>();
  NODUS_RETURN_IF_ERROR(post_and_wait([this, reply] {
    reply->set_profile(profile_.name);
    reply->set_supervisor_pid(::getpid());
    for (const auto& [index, inst] : instances_)
      *reply->add_instances() = describe(*inst);
  }));
  return *reply;
}

Status Supervisor::restart(uint32_t index) {
  auto result = std::make_shared<Status>();
  NODUS_RETURN_IF_ERROR(post_and_wait([this, index, result] {
    auto it = instances_.find(index);
    if (it == instances_.end() || index >= target_instances_) {
      *result =
          not_found("instance " + std::to_string(index) + ": no such instance (the cluster has " +
                    std::to_string(target_instances_) + ")");
      return;
    }
    if (shutting_down_) {
      *result = failed_precondition("the cluster is shutting down");
      return;
    }
    Instance& inst = *it->second;
    log_->info("restart of " + inst.node_name + " requested");
    inst.attempt = 0;
    inst.breaker.reset();
    if (inst.alive()) {
      request_stop(inst, AfterExit::kRestart);
    } else {
      ++inst.restarts;
      *result = spawn(inst);
    }
  }));
  return *result;
}

Status Supervisor::down() {
  return post_and_wait([this] { begin_shutdown(kExitOk, "nodus down"); });
}

}  // namespace nodus::kernel
