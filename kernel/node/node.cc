#include "kernel/node/node.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <system_error>

#include "kernel/node/plugin_membership.h"
#include "kernel/node/supervisor_bus.h"
#include "kernel/process/child_watcher.h"
#include "kernel/process/process_service.h"
#include "kernel/runtime/event_bus.h"
#include "kernel/runtime/executor.h"
#include "kernel/runtime/file_storage.h"
#include "kernel/runtime/http_client.h"
#include "kernel/runtime/http_service.h"
#include "kernel/runtime/logger.h"
#include "kernel/runtime/metrics_registry.h"
#include "kernel/runtime/udp_datagrams.h"
#include "kernel/transport/grpc_transport.h"
#include "kernel/transport/tls_credentials.h"
#include "nodus/address.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/json.h"
#include "nodus/services/admin.h"
#include "nodus/v1/control.pb.h"

namespace nodus::kernel {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

// Bound for one health/status request that has to consult the executor. A node whose
// executor cannot answer within this time is reported as not live.
constexpr Duration kProbeTimeout = milliseconds(1000);
// Bound for one plugin command; past it the command is answered DEADLINE_EXCEEDED (the
// supervisor's own deadline per instance is shorter by default, 10 s, and at most 60 s).
constexpr Duration kCommandDeadline = std::chrono::seconds(60);

// kAdminMethod: the supervisor runs a plugin command (nodus/services/admin.h) or, with an
// empty command, asks for the instance's commands and status sections.
CallHandler admin_handler(AdminRegistry& admin) {
  return [&admin](PeerId, std::string request, CallReply reply) {
    nodus::v1::AdminCallRequest req;
    if (!req.ParseFromString(request)) {
      reply(invalid_argument("admin: malformed AdminCallRequest"));
      return;
    }
    if (req.command().empty()) {
      nodus::v1::AdminCallReply out;
      for (const auto& c : admin.commands()) {
        auto* info = out.add_commands();
        info->set_name(c.spec.name);
        info->set_plugin(c.plugin);
        info->set_help(c.spec.help);
        info->set_target(c.spec.target == CommandTarget::kLeader ? "leader" : "all");
        for (const auto& a : c.spec.args) {
          auto* arg = info->add_args();
          arg->set_name(a.name);
          arg->set_type(std::string(arg_type_name(a.type)));
          arg->set_required(a.required);
          arg->set_default_value(a.default_value);
          arg->set_help(a.help);
        }
      }
      for (const auto& [plugin, section] : admin.sections()) {
        auto& out_section = (*out.mutable_sections())[plugin];
        out_section.set_json(section.json);
        out_section.set_column(section.column);
      }
      reply(out.SerializeAsString());
      return;
    }
    std::map<std::string, std::string> args(req.args().begin(), req.args().end());
    admin.run(req.command(), args, [reply](Result<CommandResult> result) {
      if (!result.ok()) {
        reply(result.status());
        return;
      }
      nodus::v1::AdminCallReply out;
      out.set_text(result->text);
      out.set_json(result->json);
      if (result->leader) out.set_leader(*result->leader);
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

// Membership (nodus/capabilities/membership.h): the static members of `profile` at `instances`
// instances, each alive at its host's address with its named ports. FAILED_PRECONDITION when an
// explicit placement of the profile does not reach that far.
Result<std::vector<Member>> profile_members(const Profile& profile, uint32_t instances) {
  if (!profile.placement.empty() && instances > profile.placement.size()) {
    return failed_precondition("the placement of " + profile.source.string() + " places " +
                               std::to_string(profile.placement.size()) + " instances, not " +
                               std::to_string(instances));
  }
  Profile sized = profile;  // ports_for and host_of check the index against the count
  sized.instances = instances;
  std::vector<Member> out;
  for (uint32_t i = 0; i < instances; ++i) {
    Member m;
    m.id = i;
    m.address = sized.address_of(i);
    for (const auto& [name, port] : sized.ports_for(i))
      m.ports[name] = port;
    out.push_back(std::move(m));
  }
  return out;
}

// kMembershipMethod: `nodus scale` grows this instance's peer list to the new instance count,
// then reports the consensus state or asks the consensus plugin (on the leader) for one
// membership change, answering with the state after it committed.
CallHandler membership_handler(PluginHost& host, MemberTable& members, const Profile& profile,
                               uint32_t self) {
  return [&host, &members, &profile, self](PeerId, std::string request, CallReply reply) {
    nodus::v1::MembershipRequest req;
    if (!req.ParseFromString(request)) {
      reply(invalid_argument("membership: malformed MembershipRequest"));
      return;
    }
    // The static membership becomes instances [0, req.instances()): new ones join, removed ones
    // leave. The transport follows it (Node::Impl::follow_membership).
    if (req.instances() > 0) {
      auto wanted = profile_members(profile, req.instances());
      Status st = wanted.ok() ? set_static_members(members, *wanted) : wanted.status();
      if (!st.ok()) {
        reply(st.with_context("membership: instances 0.." + std::to_string(req.instances() - 1)));
        return;
      }
    }
    auto found = capability_cast<Consensus>(host.find_capability(Consensus::kCapability));
    if (!found.ok()) {
      reply(failed_precondition("membership: instance " + std::to_string(self) + ": " +
                                found.status().message()));
      return;
    }
    Consensus* consensus = *found;
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
  // Admin (nodus/services/admin.h): before the host, which holds its plugins' Admin objects.
  std::unique_ptr<AdminRegistry> admin;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<SupervisorBus> bus;  // thread-safe; its heartbeat thread watches the executor
  // Membership (nodus/capabilities/membership.h): the static membership of the profile, and the
  // view the transport follows (a membership plugin's, when one provides it).
  std::unique_ptr<MemberTable> membership;
  Membership* followed = nullptr;
  SubscriptionId follow_subscription = 0;
  // The HTTP servers of the instance's ports: the kernel's endpoints and the plugins' routes.
  std::unique_ptr<HttpService> http;
  bool configured = false;
  std::atomic<bool> started{false};  // read by the readiness refresh on the executor
  bool abandoned = false;            // stop() timed out with a plugin stuck on the executor
  TimePoint started_at{};
  std::atomic<bool>* ready = nullptr;
  // Datagrams (nodus/services/datagram.h)
  // Destroyed before the executor and metrics it points at; ~Node already reset the host.
  std::unique_ptr<ComponentLogger> datagram_log;
  std::unique_ptr<UdpDatagrams> datagrams;

  // Membership: on the executor, once plugins started.
  void follow_membership() {
    followed = host->effective_membership();
    if (followed == nullptr || !transport) return;
    auto apply = [this] {
      Status st = transport->follow_membership(followed->members());
      if (!st.ok()) log->warn("transport cannot follow membership: " + st.message());
    };
    apply();
    auto sub = followed->subscribe([apply](const MemberChange&) { apply(); });
    if (sub.ok()) {
      follow_subscription = *sub;
    } else {
      log->error("transport cannot subscribe to membership: " + sub.status().message());
    }
  }
  void unfollow_membership() {
    if (followed != nullptr && follow_subscription != 0) {
      (void)followed->unsubscribe(follow_subscription);
    }
    followed = nullptr;
    follow_subscription = 0;
  }
  // Processes (nodus/services/processes.h): reaps the plugins' programs; ~Node stops them first.
  std::unique_ptr<ChildWatcher> child_watcher;

  std::vector<PluginSpec> plugin_specs() const {
    std::vector<PluginSpec> specs;
    for (const auto& entry : profile.plugins) {
      specs.push_back({{entry.name, entry.file, entry.sha256}, entry.config, entry.node});
    }
    return specs;
  }

  // Flags first, then the profile's directories, then the kernel's own: a profile adds
  // directories in front of the built-in plugins instead of losing them.
  std::vector<fs::path> plugin_dirs() const {
    std::vector<fs::path> dirs = options.plugin_dirs;
    if (options.use_default_plugin_dir) {
      dirs.insert(dirs.end(), profile.plugin_dirs.begin(), profile.plugin_dirs.end());
      dirs.push_back(PluginLoader::default_plugin_dir());
    }
    return dirs;
  }

  // The kernel's endpoints, answered on the server thread (a stuck executor must not stop
  // /livez from saying so). Plugins may add routes to the same port.
  Status install_routes(Node& node) {
    NODUS_ASSIGN_OR_RETURN(HttpServer * health, http->server("health"));
    health->route("/livez", [this](const HttpRequest&) {
      // Live means the executor still runs tasks: a deadlocked node fails this probe.
      Status st = executor->run_sync([] {}, kProbeTimeout);
      if (!st.ok()) return HttpResponse{503, "text/plain; charset=utf-8", "executor stalled\n"};
      return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    });
    health->route("/readyz", [this](const HttpRequest&) {
      if (ready->load()) return HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
      return HttpResponse{503, "text/plain; charset=utf-8", "not ready\n"};
    });
    health->route("/metrics", [&node](const HttpRequest&) {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", node.metrics_text()};
    });
    health->route("/status", [&node](const HttpRequest&) {
      return HttpResponse{200, "application/json", node.status_json() + "\n"};
    });
    return {};
  }
};

std::string host_port(const std::string& host, uint16_t port) {
  return format_host_port(host, port);
}

Status check_instance(const Profile& profile, uint32_t index, const NodeOptions& options) {
  NODUS_ASSIGN_OR_RETURN(auto node, Node::create(profile, index, options));
  return node->configure();
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
  if (impl_->http) impl_->http->stop();
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
  info.host_name = profile.host_of(index).name;
  info.address = profile.address_of(index);

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
    t.listen_address = host_port(info.address, peer_port);
    for (uint32_t i = 0; i < profile.instances; ++i) {
      if (i == index) continue;
      t.peers.push_back({i, host_port(profile.address_of(i), profile.ports_for(i).at("peer"))});
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
  // Admin (nodus/services/admin.h)
  impl->admin = std::make_unique<AdminRegistry>(*impl->executor, kCommandDeadline);
  services.admin = impl->admin.get();
  // Membership (nodus/capabilities/membership.h)
  impl->membership = std::make_unique<MemberTable>(index, *impl->executor);
  NODUS_ASSIGN_OR_RETURN(std::vector<Member> members, profile_members(profile, profile.instances));
  NODUS_RETURN_IF_ERROR(set_static_members(*impl->membership, members));
  services.membership = impl->membership.get();
  // HTTP client (nodus/services/http_client.h)
  // On the executor's own io_context: completions run on the executor thread, never block it.
  AsioExecutor* http_executor = impl->executor.get();
  services.make_http_client = [http_executor](const std::string& plugin) {
    auto client = std::make_unique<AsioHttpClient>(http_executor->io(), *http_executor, plugin);
    AsioHttpClient* raw = client.get();
    return HostServices::PluginHttpClient{std::move(client), [raw] { raw->shutdown(); }};
  };
  // Datagrams (nodus/services/datagram.h)
  impl->datagram_log = std::make_unique<ComponentLogger>(impl->sink, info.node_name, "datagram");
  impl->datagrams = std::make_unique<UdpDatagrams>(info.address, info.ports, *impl->executor,
                                                   *impl->metrics, *impl->datagram_log);
  services.datagrams = impl->datagrams.get();
  // Processes (nodus/services/processes.h)
  // One watcher thread reaps this instance's programs by pid (never "any child"); spawning
  // happens on the executor, whose thread outlives them (PR_SET_PDEATHSIG is per thread).
  impl->child_watcher = std::make_unique<ChildWatcher>();
  ChildWatcher* watcher = impl->child_watcher.get();
  Executor* process_executor = impl->executor.get();
  services.make_processes = [watcher, process_executor, data_dir](const std::string& plugin,
                                                                  Logger& plugin_log) {
    return std::unique_ptr<Processes>(std::make_unique<ProcessService>(
        *process_executor, *watcher, plugin_log, plugin, data_dir / plugin));
  };
  // HTTP server (nodus/services/http.h)
  impl->http = std::make_unique<HttpService>(info.address, info.ports, *impl->executor);
  HttpService* http = impl->http.get();
  services.make_http = [http](const std::string& plugin) { return http->view(plugin); };
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
  if (m.info.ports.count("health") != 0) {
    Status st = m.install_routes(*this);
    if (!st.ok()) {
      m.executor->stop();
      return st.with_context("health endpoint");
    }
  }
  if (m.transport) {
    NODUS_RETURN_IF_ERROR(m.transport->on_call(std::string(kAdminMethod), admin_handler(*m.admin)));
    NODUS_RETURN_IF_ERROR(
        m.transport->on_call(std::string(kMembershipMethod),
                             membership_handler(*m.host, *m.membership, m.profile, m.info.index)));
    Status st = m.transport->start();
    if (!st.ok()) {
      m.http->stop();
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
    m.http->stop();
    m.executor->stop();
    return ran;
  }
  m.started = true;
  // Membership: the transport's peers follow the membership from here on.
  m.executor->post([&m] { m.follow_membership(); });
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
  Status ran = m.executor->run_sync(
      [&m, host, stopped] {
        m.unfollow_membership();  // before a membership plugin stops
        *stopped = host->stop();
      },
      timeout);
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
  m.http->stop();
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
  return impl_->http->bound_port("health");
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
  std::map<std::string, StatusSection> sections;
  std::vector<Member> members;  // Membership
  Status st = m.executor->run_sync(
      [&] {
        role = m.host->role();
        plugins = m.host->status();
        sections = m.admin->sections();
        if (Membership* view = m.host->effective_membership()) members = view->members();
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
    // Admin (nodus/services/admin.h): the plugin's own section, already a bounded JSON object.
    if (auto section = sections.find(p.name); section != sections.end()) {
      w.key("status").raw(section->second.json);
      w.key("column").value(section->second.column);
    }
    w.end_object();
  }
  w.end_array();
  // Membership (nodus/capabilities/membership.h): this instance's host and its view of the
  // cluster (the static membership, or a membership plugin's).
  w.key("host").value(m.info.host_name).key("address").value(m.info.address);
  w.key("members").begin_array();
  for (const Member& member : members) {
    w.begin_object();
    w.key("id").value(static_cast<unsigned>(member.id)).key("address").value(member.address);
    w.key("state").value(member_state_name(member.state));
    w.key("incarnation").value(member.incarnation);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

}  // namespace nodus::kernel
