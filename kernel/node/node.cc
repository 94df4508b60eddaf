#include "kernel/node/node.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "kernel/node/supervisor_bus.h"
#include "kernel/runtime/event_bus.h"
#include "kernel/runtime/executor.h"
#include "kernel/runtime/file_storage.h"
#include "kernel/runtime/http_server.h"
#include "kernel/runtime/json_writer.h"
#include "kernel/runtime/logger.h"
#include "kernel/runtime/metrics_registry.h"
#include "kernel/transport/grpc_transport.h"
#include "kernel/transport/tls_credentials.h"
#include "nodus/address.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/v1/control.pb.h"

namespace nodus::kernel {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

// Bound for one health/status request that has to consult the executor. A node whose
// executor cannot answer within this time is reported as not live.
constexpr Duration kProbeTimeout = milliseconds(1000);

// `nodus failover`: the supervisor calls this on the current leader's peer endpoint; the
// instance's consensus plugin performs the Raft leadership transfer and the reply carries the
// leader that took over.
CallHandler failover_handler(PluginHost& host, uint32_t self) {
  return [&host, self](PeerId, const std::string& request, const CallReply& reply) {
    nodus::v1::FailoverRequest req;
    if (!req.ParseFromString(request)) {
      reply(invalid_argument("failover: malformed FailoverRequest"));
      return;
    }
    auto* consensus = static_cast<Consensus*>(host.find_capability(Consensus::kCapability));
    if (consensus == nullptr) {
      reply(failed_precondition("failover: no plugin of instance " + std::to_string(self) +
                                " provides " + std::string(Consensus::kCapability)));
      return;
    }
    std::optional<PeerId> to;
    if (req.has_to()) to = req.to();
    consensus->transfer_leadership(to, [consensus, self, to, reply](const Status& st) {
      if (!st.ok()) {
        reply(st);
        return;
      }
      // The old leader may not have heard from the new one yet; then the asked-for target is
      // the best answer, and the supervisor confirms it from the instances' roles.
      const ConsensusState state = consensus->state();
      nodus::v1::FailoverReply out;
      out.set_previous(self);
      if (state.leader && *state.leader != self) {
        out.set_leader(*state.leader);
        out.set_term(state.term);
      } else {
        out.set_leader(to.value_or(self));
      }
      reply(out.SerializeAsString());
    });
  };
}

void fill_membership_reply(const ConsensusState& s, nodus::v1::MembershipReply& out) {
  out.set_role(std::string(consensus_role_name(s.role)));
  out.set_term(s.term);
  if (s.leader) out.set_leader(*s.leader);
  out.set_commit_index(s.commit_index);
  out.set_applied_index(s.applied_index);
  for (PeerId v : s.voters)
    out.add_voters(v);
  for (PeerId l : s.learners)
    out.add_learners(l);
}

// kMembershipMethod: `nodus scale` grows this instance's peer list to the new instance count,
// then reports the consensus state or asks the consensus plugin (on the leader) for one
// membership change, answering with the state after it committed.
CallHandler membership_handler(PluginHost& host, GrpcTransport& transport, const Profile& profile,
                               uint32_t self) {
  return [&host, &transport, &profile, self](PeerId, const std::string& request,
                                             const CallReply& reply) {
    nodus::v1::MembershipRequest req;
    if (!req.ParseFromString(request)) {
      reply(invalid_argument("membership: malformed MembershipRequest"));
      return;
    }
    auto* consensus = static_cast<Consensus*>(host.find_capability(Consensus::kCapability));
    if (consensus == nullptr) {
      reply(failed_precondition("membership: no plugin of instance " + std::to_string(self) +
                                " provides " + std::string(Consensus::kCapability)));
      return;
    }
    std::vector<PeerInfo> peers = transport.peers();
    if (req.instances() > peers.size() + 1) {
      // The profile this process started with, at the new size (ports_for checks the index).
      Profile grown = profile;
      grown.instances = req.instances();
      peers.clear();
      for (uint32_t i = 0; i < req.instances(); ++i) {
        if (i == self) continue;
        peers.push_back({i, host_port(grown.bind_host, grown.ports_for(i).at("peer"))});
      }
      if (Status st = transport.set_peers(std::move(peers)); !st.ok()) {
        reply(st.with_context("membership: growing the peer list"));
        return;
      }
    }
    const auto answer = [consensus, reply](const Status& st) {
      if (!st.ok()) {
        reply(st);
        return;
      }
      nodus::v1::MembershipReply out;
      fill_membership_reply(consensus->state(), out);
      reply(out.SerializeAsString());
    };
    switch (req.op()) {
      case nodus::v1::MembershipRequest::ADD_LEARNER:
        consensus->change_membership(MembershipChange::kAddLearner, req.peer(), answer);
        return;
      case nodus::v1::MembershipRequest::PROMOTE:
        consensus->change_membership(MembershipChange::kAddVoter, req.peer(), answer);
        return;
      case nodus::v1::MembershipRequest::REMOVE:
        consensus->change_membership(MembershipChange::kRemove, req.peer(), answer);
        return;
      default:
        answer(Status());
        return;
    }
  };
}

// The transport of a profile that defines no "peer" port: no peers, and every attempt to
// reach one says why.
class NoPeerTransport final : public Transport {
 public:
  explicit NoPeerTransport(PeerId self) : self_(self) {}
  PeerId self() const override { return self_; }
  std::vector<PeerInfo> peers() const override { return {}; }
  Status send(PeerId to, std::string_view, std::string) override { return why(to); }
  void call(PeerId to, std::string_view, std::string, Duration, CallCallback done) override {
    done(why(to));
  }
  Status on_message(std::string, MessageHandler) override { return {}; }
  Status on_call(std::string, CallHandler) override { return {}; }

 private:
  static Status why(PeerId to) {
    return failed_precondition("peer " + std::to_string(to) +
                               ": the profile defines no 'peer' port, so this node has no peers");
  }
  PeerId self_;
};

}  // namespace

struct Node::Impl {
  // First member, destroyed last: services below may hold closures from plugin libraries.
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries;
  Profile profile;
  InstanceInfo info;
  NodeOptions options;
  std::shared_ptr<LogSink> sink;
  std::unique_ptr<ComponentLogger> log;
  SteadyClock clock;
  std::unique_ptr<AsioExecutor> executor;
  std::unique_ptr<MetricsRegistry> metrics;
  std::unique_ptr<LocalEventBus> events;
  std::unique_ptr<ComponentLogger> transport_log;
  std::unique_ptr<GrpcTransport> transport;
  std::unique_ptr<NoPeerTransport> no_peers;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<SupervisorBus> bus;  // thread-safe; its heartbeat thread watches the executor
  HttpServer http;
  bool configured = false;
  std::atomic<bool> started{false};  // read by the readiness refresh on the executor
  bool abandoned = false;            // stop() timed out with a plugin stuck on the executor
  TimePoint started_at{};
  std::atomic<bool>* ready = nullptr;

  std::vector<PluginSpec> plugin_specs() const {
    std::vector<PluginSpec> specs;
    for (const auto& entry : profile.plugins) {
      specs.push_back({{entry.name, entry.file, entry.sha256}, entry.config, entry.node});
    }
    return specs;
  }

  std::vector<fs::path> plugin_dirs() const {
    std::vector<fs::path> dirs = options.plugin_dirs;
    if (options.use_default_plugin_dir) {
      dirs.insert(dirs.end(), profile.plugin_dirs.begin(), profile.plugin_dirs.end());
      if (profile.plugin_dirs.empty()) dirs.push_back(PluginLoader::default_plugin_dir());
    }
    return dirs;
  }

  void install_routes(Node& node) {
    http.route("/livez", [this](const HttpRequest&) {
      // Live means the executor still runs tasks: a deadlocked node fails this probe.
      Status st = executor->run_sync([] {}, kProbeTimeout);
      if (!st.ok()) return HttpResponse{503, "text/plain; charset=utf-8", "executor stalled\n"};
      return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    });
    http.route("/readyz", [this](const HttpRequest&) {
      if (ready->load()) return HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
      return HttpResponse{503, "text/plain; charset=utf-8", "not ready\n"};
    });
    http.route("/metrics", [&node](const HttpRequest&) {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", node.metrics_text()};
    });
    http.route("/status", [&node](const HttpRequest&) {
      return HttpResponse{200, "application/json", node.status_json() + "\n"};
    });
  }
};

std::string host_port(const std::string& host, uint16_t port) {
  return format_host_port(host, port);
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->ready = &ready_;
}

Node::~Node() {
  if (impl_->started) (void)stop(std::chrono::seconds(5));
  if (impl_->abandoned) {
    // Joining the stuck executor would hang; leak everything the plugins might still touch.
    (void)impl_.release();
    return;
  }
  // Plugins (and the closures they registered) go before the services they used.
  impl_->host.reset();
  if (impl_->transport) impl_->transport->stop();
  impl_->http.stop();
  if (impl_->executor) impl_->executor->stop();
  impl_->bus.reset();
}

Result<std::unique_ptr<Node>> Node::create(const Profile& profile, uint32_t index,
                                           NodeOptions options) {
  if (index >= profile.instances) {
    return invalid_argument("--instance " + std::to_string(index) + ": out of range (" +
                            profile.source.string() + " defines " +
                            std::to_string(profile.instances) + " instances)");
  }
  auto impl = std::make_unique<Impl>();
  impl->profile = profile;
  impl->options = std::move(options);
  InstanceInfo& info = impl->info;
  info.profile = profile.name;
  info.index = index;
  info.instances = profile.instances;
  info.node_name = profile.name + "-" + std::to_string(index);
  info.data_dir = profile.data_dir / info.node_name;
  info.ports = profile.ports_for(index);
  info.joining = impl->options.joining;

  LogSinkOptions log_options;
  log_options.min_level = profile.log.level;
  log_options.format = profile.log.json ? LogFormat::kJson : LogFormat::kText;
  // Copied, not moved: GCC 12 with -fsanitize=address sees a false "maybe uninitialized" in
  // moving the empty optional<path> inside LogSinkOptions.
  NODUS_ASSIGN_OR_RETURN(impl->sink, LogSink::create(log_options));
  impl->log = std::make_unique<ComponentLogger>(impl->sink, info.node_name, "kernel");
  impl->executor = std::make_unique<AsioExecutor>(info.node_name);
  Logger* log = impl->log.get();
  impl->executor->set_error_handler(
      [log](const std::string& what) { log->error("task failed on the executor: " + what); });
  impl->metrics = std::make_unique<MetricsRegistry>(
      [log](const std::string& what) { log->error("metrics: " + what); });
  impl->events = std::make_unique<LocalEventBus>(*impl->executor);

  const uint16_t peer_port = info.port("peer");
  if (peer_port != 0) {
    GrpcTransportOptions t;
    t.self = index;
    t.cluster = profile.name;
    t.listen_address = host_port(profile.bind_host, peer_port);
    for (uint32_t i = 0; i < profile.instances; ++i) {
      if (i == index) continue;
      t.peers.push_back({i, host_port(profile.bind_host, profile.ports_for(i).at("peer"))});
    }
    if (profile.tls.enabled()) {  // mTLS between instances (profile `tls:` section)
      NODUS_ASSIGN_OR_RETURN(t.credentials,
                             make_tls_credentials(tls_files_for_instance(
                                 {profile.tls.ca_file, profile.tls.cert_file, profile.tls.key_file,
                                  profile.tls.require_client_cert},
                                 index)));
    }
    impl->transport_log =
        std::make_unique<ComponentLogger>(impl->sink, info.node_name, "transport");
    impl->transport = std::make_unique<GrpcTransport>(std::move(t), *impl->executor, *impl->metrics,
                                                      *impl->transport_log);
  }

  HostServices services;
  services.executor = impl->executor.get();
  services.clock = &impl->clock;
  if (impl->transport) {
    services.transport = impl->transport.get();
  } else {
    impl->no_peers = std::make_unique<NoPeerTransport>(index);
    services.transport = impl->no_peers.get();
  }
  services.metrics = impl->metrics.get();
  services.events = impl->events.get();
  auto sink = impl->sink;
  const std::string node_name = info.node_name;
  services.make_logger = [sink, node_name](const std::string& component) {
    return std::unique_ptr<Logger>(std::make_unique<ComponentLogger>(sink, node_name, component));
  };
  const fs::path data_dir = info.data_dir;
  // Logs get the executor so that sync_async() fsyncs off the plugin's thread.
  Executor* storage_executor = impl->executor.get();
  services.make_storage =
      [data_dir, storage_executor](const std::string& plugin) -> Result<std::unique_ptr<Storage>> {
    FileStorageOptions storage_options;
    storage_options.executor = storage_executor;
    NODUS_ASSIGN_OR_RETURN(auto storage, FileStorage::open(data_dir / plugin, storage_options));
    return std::unique_ptr<Storage>(std::move(storage));
  };
  impl->host = std::make_unique<PluginHost>(info, std::move(services));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Status Node::configure() {
  if (impl_->configured) return {};
  PluginLoader loader(impl_->plugin_dirs());
  // Plugins are configured on the thread that will run them; the executor is not running
  // yet, so this thread plays that role until start().
  Status loaded = impl_->host->load(loader, impl_->plugin_specs());
  impl_->libraries = impl_->host->libraries();
  NODUS_RETURN_IF_ERROR(loaded);
  impl_->configured = true;
  return {};
}

Status Node::start() {
  NODUS_RETURN_IF_ERROR(configure());
  Impl& m = *impl_;
  std::error_code ec;
  fs::create_directories(m.info.data_dir, ec);
  if (ec || ::access(m.info.data_dir.c_str(), W_OK) != 0) {
    return permission_denied("data directory " + m.info.data_dir.string() + " is not writable: " +
                             (ec ? ec.message() : std::system_category().message(errno)));
  }
  if (!m.options.supervisor_bus.empty() && !m.bus) {
    NODUS_ASSIGN_OR_RETURN(m.bus, SupervisorBus::connect(m.options.supervisor_bus, m.info.index));
  }
  m.started_at = m.clock.now();  // before any thread that reads it exists
  m.executor->start();
  const uint16_t health_port = m.info.port("health");
  if (health_port != 0) {
    m.install_routes(*this);
    Status st = m.http.listen(m.profile.bind_host, health_port);
    if (!st.ok()) {
      m.executor->stop();
      return st.with_context("health endpoint");
    }
  }
  if (m.transport) {
    NODUS_RETURN_IF_ERROR(m.transport->on_call(std::string(kFailoverMethod),
                                               failover_handler(*m.host, m.info.index)));
    NODUS_RETURN_IF_ERROR(
        m.transport->on_call(std::string(kMembershipMethod),
                             membership_handler(*m.host, *m.transport, m.profile, m.info.index)));
    Status st = m.transport->start();
    if (!st.ok()) {
      m.http.stop();
      m.executor->stop();
      return st;
    }
  }
  auto started = std::make_shared<Status>();  // outlives a start that overruns its bound
  PluginHost* host = m.host.get();
  Status ran =
      m.executor->run_sync([host, started] { *started = host->start(); }, std::chrono::seconds(30));
  if (!ran.ok() && ran.code() == StatusCode::kDeadlineExceeded) {
    m.abandoned = true;  // a plugin is stuck in start(); see stop()
    return deadline_exceeded("plugins did not start within 30 s");
  }
  if (ran.ok() && !started->ok()) ran = *started;
  if (!ran.ok()) {
    if (m.transport) m.transport->stop();
    m.http.stop();
    m.executor->stop();
    return ran;
  }
  m.started = true;
  // Readiness is recomputed on the executor a few times a second, so probes never wait; a
  // change is told to the supervisor at once.
  auto refresh = std::make_shared<std::function<void()>>();
  // The closure holds itself weakly; the pending timer task holds the only strong reference,
  // so stopping the executor frees it (no self-cycle to leak).
  std::weak_ptr<std::function<void()>> weak_refresh = refresh;
  // A role change (a new Raft leader) is told at once too, so `nodus status` and failover see
  // it without waiting for the next heartbeat.
  *refresh = [this, weak_refresh, last_role = std::string()]() mutable {
    auto self = weak_refresh.lock();
    if (!self || !impl_->started) return;
    const bool ready = impl_->host->ready();
    std::string role = impl_->host->role();
    const bool changed = (ready_.exchange(ready) != ready) || role != last_role;
    last_role = role;
    if (changed && impl_->bus) impl_->bus->update(ready, role);
    impl_->executor->schedule_after(milliseconds(100), [self] { (*self)(); });
  };
  m.executor->post([refresh] { (*refresh)(); });
  // Heartbeats from the bus's own thread, which reports the executor's lag: a busy executor
  // is slow, not dead, and the supervisor decides "hung" from a lag that keeps growing.
  if (m.bus) m.bus->start(m.options.heartbeat_period, *m.executor);
  m.events->publish("node.ready", m.info.node_name);
  m.log->info("node started", {{"plugins", std::to_string(m.profile.plugins.size())},
                               {"health", std::to_string(health_port)},
                               {"peer", std::to_string(m.info.port("peer"))}});
  return {};
}

Status Node::stop(Duration timeout) {
  Impl& m = *impl_;
  if (!m.started) return {};
  ready_.store(false);
  m.events->publish("node.stopping", m.info.node_name);
  // Shared, because a stop that overruns the timeout finishes after this function returned.
  auto stopped = std::make_shared<Status>();
  PluginHost* host = m.host.get();
  Status ran = m.executor->run_sync([host, stopped] { *stopped = host->stop(); }, timeout);
  if (!ran.ok()) {
    // A plugin is stuck on the executor thread, which therefore cannot be joined. The caller
    // exits the process; the executor is deliberately leaked so that no destructor waits.
    m.log->error("plugins did not stop within " +
                 std::to_string(std::chrono::duration_cast<milliseconds>(timeout).count()) + " ms");
    m.started = false;
    m.abandoned = true;
    return ran;
  }
  if (!stopped->ok()) m.log->error(stopped->message());
  if (m.transport) m.transport->stop();
  m.http.stop();
  m.executor->stop();
  m.started = false;
  m.log->info("node stopped");
  return *stopped;
}

const InstanceInfo& Node::instance() const {
  return impl_->info;
}

std::string Node::role() const {
  std::string role;
  (void)impl_->executor->run_sync([&] { role = impl_->host->role(); }, kProbeTimeout);
  return role;
}

uint16_t Node::health_port() const {
  return impl_->http.port();
}
uint16_t Node::peer_port() const {
  return impl_->transport ? impl_->transport->bound_port() : 0;
}

std::string Node::metrics_text() const {
  return render_prometheus_text(impl_->metrics->collect(),
                                {{"instance", std::to_string(impl_->info.index)}});
}

std::string Node::status_json() const {
  const Impl& m = *impl_;
  std::string role;
  std::vector<PluginStatus> plugins;
  Status st = m.executor->run_sync(
      [&] {
        role = m.host->role();
        plugins = m.host->status();
      },
      kProbeTimeout);
  JsonWriter w;
  w.begin_object();
  w.key("node").value(m.info.node_name);
  w.key("profile").value(m.info.profile);
  w.key("index").value(m.info.index);
  w.key("pid").value(static_cast<int64_t>(::getpid()));
  w.key("ready").value(ready_.load());
  w.key("responsive").value(st.ok());
  w.key("role").value(role);
  const double uptime = std::chrono::duration<double>(m.clock.now() - m.started_at).count();
  w.key("uptime_s").value(m.started ? uptime : 0.0);
  w.key("ports").begin_object();
  for (const auto& [name, port] : m.info.ports)
    w.key(name).value(static_cast<unsigned>(port));
  w.end_object();
  w.key("plugins").begin_array();
  for (const auto& p : plugins) {
    w.begin_object();
    w.key("name").value(p.name).key("version").value(p.version);
    w.key("state").value(plugin_state_name(p.state));
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

}  // namespace nodus::kernel
