#include "kernel/node/plugin_host.h"

#include "kernel/node/plugin_membership.h"
#include "nodus/check.h"

#include <algorithm>
#include <exception>
#include <set>
#include <utility>

#include "nodus/services/datagram.h"
#include "nodus/services/http.h"
#include "nodus/services/processes.h"

namespace nodus::kernel {

std::string_view plugin_state_name(PluginState state) {
  switch (state) {
    case PluginState::kLoaded:
      return "loaded";
    case PluginState::kConfigured:
      return "configured";
    case PluginState::kStarting:
      return "starting";
    case PluginState::kRunning:
      return "running";
    case PluginState::kStopping:
      return "stopping";
    case PluginState::kStopped:
      return "stopped";
    case PluginState::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

// Storage that reports why the real one could not be opened, on every call, so that a plugin
// which never touches storage is not failed by an unwritable directory it does not use.
class FailedStorage final : public Storage {
 public:
  explicit FailedStorage(Status why) : why_(std::move(why)) {}
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view) override { return why_; }
  Status put_state(std::string_view, std::string_view) override { return why_; }
  Result<std::optional<std::string>> get_state(std::string_view) const override { return why_; }
  Status write_snapshot(std::string_view, std::string_view) override { return why_; }
  Result<std::optional<std::string>> read_snapshot(std::string_view) const override { return why_; }
  std::filesystem::path directory() const override { return {}; }

 private:
  Status why_;
};

// Datagrams (nodus/services/datagram.h)
// One plugin's view of the instance's datagrams: it may send from, close and query only the
// ports it bound itself, and close_all() ends them when the plugin stops or is destroyed.
class PluginDatagrams final : public Datagrams {
 public:
  explicit PluginDatagrams(Datagrams& instance) : instance_(instance) {}
  ~PluginDatagrams() override { close_all(); }
  PluginDatagrams(const PluginDatagrams&) = delete;
  PluginDatagrams& operator=(const PluginDatagrams&) = delete;

  using Datagrams::bind;
  Status bind(std::string_view port, DatagramHandler handler,
              const DatagramOptions& options) override {
    NODUS_RETURN_IF_ERROR(instance_.bind(port, std::move(handler), options));
    bound_.emplace(port);
    return {};
  }
  Status send_to(std::string_view port, std::string_view address,
                 std::string_view payload) override {
    NODUS_RETURN_IF_ERROR(owned(port));
    return instance_.send_to(port, address, payload);
  }
  Status close(std::string_view port) override {
    NODUS_RETURN_IF_ERROR(owned(port));
    bound_.erase(bound_.find(port));
    return instance_.close(port);
  }
  Result<std::string> local_address(std::string_view port) const override {
    NODUS_RETURN_IF_ERROR(owned(port));
    return instance_.local_address(port);
  }
  Result<DatagramStats> stats(std::string_view port) const override {
    NODUS_RETURN_IF_ERROR(owned(port));
    return instance_.stats(port);
  }
  void close_all() {
    for (const auto& port : bound_)
      (void)instance_.close(port);
    bound_.clear();
  }

 private:
  Status owned(std::string_view port) const {
    if (bound_.count(port) > 0) return {};
    return failed_precondition("datagram port '" + std::string(port) +
                               "' is not bound by this plugin");
  }
  Datagrams& instance_;
  std::set<std::string, std::less<>> bound_;
};

}  // namespace

struct PluginHost::Slot {
  // Declaration order matters: members are destroyed bottom-up, so the plugin object goes
  // first, then its context, and the library handle last.
  LoadedPlugin plugin;
  std::unique_ptr<Context> context;
  std::unique_ptr<Plugin> object;
  ConfigNode config;
  PluginState state = PluginState::kLoaded;

  std::string label() const {
    return "plugin " + plugin.name() + " (" + plugin.file.string() + ")";
  }
};

class PluginHost::Context final : public PluginContext {
 public:
  // The views are made here, not on first use: a plugin's own threads may call executor()
  // at any time (post() is safe from any thread), so the accessors must not build anything.
  Context(PluginHost& host, const std::string& plugin_name)
      : host_(host), name_(plugin_name), logger_(host.services_.make_logger(plugin_name)) {
    const HostServices& s = host.services_;
    if (s.executor != nullptr) executor_ = std::make_unique<ScopedExecutor>(*s.executor);
    if (s.transport != nullptr) transport_ = std::make_unique<ScopedTransport>(*s.transport);
    if (s.events != nullptr) events_ = std::make_unique<ScopedEventBus>(*s.events);
  }

  const InstanceInfo& instance() const override { return host_.info_; }
  Executor& executor() override { return *executor_; }
  Clock& clock() override { return *host_.services_.clock; }
  Transport& transport() override { return *transport_; }
  Metrics& metrics() override { return *host_.services_.metrics; }
  Logger& logger() override { return *logger_; }
  EventBus& events() override { return *events_; }
  void set_role(std::string_view role) override { host_.set_role(role); }
  nodus::CapabilityRef find_capability(std::string_view capability) override {
    return host_.find_capability(capability);
  }
  Storage& storage() override {
    if (!storage_) {
      auto made = host_.services_.make_storage(name_);
      if (made.ok()) {
        storage_ = std::move(made).value();
      } else {
        logger_->error("storage unavailable: " + made.status().message());
        storage_ = std::make_unique<FailedStorage>(made.status());
      }
    }
    return *storage_;
  }
  // Admin (nodus/services/admin.h)
  Admin& admin() override {
    if (host_.services_.admin == nullptr) return PluginContext::admin();
    if (!admin_) admin_ = host_.services_.admin->for_plugin(name_);
    return *admin_;
  }

  // The plugin stopped (or its start() failed): what it registered with each service ends,
  // so no closure of a stopped plugin runs again.
  void plugin_stopped() {
    // Called on the executor, so none of the plugin's tasks, timers or handlers is running
    // now; from here on none starts, and their closures are released.
    if (executor_) executor_->close();    // pending timers cancelled, queued tasks do nothing
    if (transport_) transport_->close();  // messages dropped, calls answered UNAVAILABLE
    if (events_) events_->close();        // its subscriptions end
    membership_.end_subscriptions();
    if (http_client_.stop) http_client_.stop();  // requests in flight end without a callback
    if (datagrams_) datagrams_->close_all();     // its bindings end
    processes_.reset();  // its programs are stopped (bounded by their grace), no callbacks
    http_.reset();       // its routes go (a request already matched answers 503)
  }

  // Membership (nodus/capabilities/membership.h)
  Membership& membership() override { return membership_; }

  // HTTP client (nodus/services/http_client.h)
  HttpClient& http_client() override {
    if (!http_client_.client) {
      if (!host_.services_.make_http_client) return PluginContext::http_client();
      http_client_ = host_.services_.make_http_client(name_);
    }
    return *http_client_.client;
  }

  // Processes (nodus/services/processes.h)
  Processes& processes() override {
    if (!host_.services_.make_processes) return PluginContext::processes();  // aborts, naming it
    if (!processes_) processes_ = host_.services_.make_processes(name_, *logger_);
    return *processes_;
  }

  // Datagrams (nodus/services/datagram.h)
  Datagrams& datagrams() override {
    if (host_.services_.datagrams == nullptr) return PluginContext::datagrams();
    if (!datagrams_) datagrams_ = std::make_unique<PluginDatagrams>(*host_.services_.datagrams);
    return *datagrams_;
  }

  // HTTP server (nodus/services/http.h)
  nodus::HttpServer& http() override {
    if (!http_ && host_.services_.make_http) http_ = host_.services_.make_http(name_);
    if (!http_) return PluginContext::http();  // this host has none: aborts, naming it
    return *http_;
  }

 private:
  PluginHost& host_;
  std::string name_;
  std::unique_ptr<Logger> logger_;
  // The plugin's views of the instance's executor, transport and event bus (closed at its stop).
  std::unique_ptr<ScopedExecutor> executor_;
  std::unique_ptr<ScopedTransport> transport_;
  std::unique_ptr<ScopedEventBus> events_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Admin> admin_;  // Admin (nodus/services/admin.h)
  // Membership (nodus/capabilities/membership.h)
  PluginMembership membership_{[host = &host_] {
    Membership* m = host->effective_membership();
    NODUS_CHECK(m != nullptr) << "this plugin host provides no membership";
    return m;
  }};
  // HTTP client (nodus/services/http_client.h)
  HostServices::PluginHttpClient http_client_;
  // Datagrams (nodus/services/datagram.h)
  std::unique_ptr<PluginDatagrams> datagrams_;
  // Processes (nodus/services/processes.h)
  std::unique_ptr<Processes> processes_;
  // HTTP server (nodus/services/http.h)
  std::unique_ptr<nodus::HttpServer> http_;
};

namespace {

// Runs one call into a plugin; an exception becomes an INTERNAL status naming the plugin.
template <class Fn>
Status guarded(const std::string& label, std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return internal_error(label + ": " + std::string(what) + " threw: " + e.what());
  } catch (...) {
    return internal_error(label + ": " + std::string(what) + " threw a non-standard exception");
  }
}

}  // namespace

PluginHost::PluginHost(InstanceInfo info, HostServices services)
    : info_(std::move(info)), services_(std::move(services)) {}

PluginHost::~PluginHost() {
  // Destroy plugin objects in reverse start order (dependents before their providers), while
  // every library is still loaded.
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it)
    (*it)->object.reset();
}

Status PluginHost::load(const PluginLoader& loader, const std::vector<PluginSpec>& specs) {
  std::vector<PluginRequest> requests;
  std::vector<ConfigNode> configs;
  requests.reserve(specs.size());
  for (const auto& spec : specs) {
    requests.push_back(spec.request);
    configs.push_back(spec.config);
  }
  // The loader and the composition speak of "plugin NAME ..."; the operator needs the profile
  // entry that asked for it ("profile.yaml:14:5: plugins[2]: plugin io.nodus.x not found ...").
  const auto at_entry = [&specs](const Status& st) {
    const std::string& message = st.message();
    for (const auto& spec : specs) {
      const std::string prefix = "plugin " + spec.request.name;
      const bool names_it = message.rfind(prefix + " ", 0) == 0 ||  // "plugin X not found"
                            message.rfind(prefix + ":", 0) == 0;    // "plugin X: FILE: ..."
      if (spec.entry.is_null() || !names_it) continue;
      return Status(st.code(), spec.entry.error(message).message());
    }
    return st;
  };
  auto plugins = loader.resolve(requests);
  if (!plugins.ok()) return at_entry(plugins.status());
  return at_entry(load_plugins(std::move(plugins).value(), configs));
}

Status PluginHost::load_plugins(std::vector<LoadedPlugin> plugins,
                                const std::vector<ConfigNode>& configs) {
  if (!slots_.empty()) return failed_precondition("plugins are already loaded");
  if (configs.size() != plugins.size()) {
    return internal_error("load_plugins: one config section per plugin expected");
  }
  NODUS_ASSIGN_OR_RETURN(auto order, order_by_dependencies(plugins));
  std::vector<std::unique_ptr<Slot>> slots;
  for (size_t i : order) {
    auto slot = std::make_unique<Slot>();
    slot->plugin = plugins[i];
    slot->config = configs[i];
    slots.push_back(std::move(slot));
  }
  // Declared keys first: a typo is reported with its position before any plugin code runs.
  for (const auto& slot : slots) {
    NODUS_RETURN_IF_ERROR(validate_config(slot->config, slot->plugin.descriptor->config));
  }
  slots_ = std::move(slots);
  for (auto& slot : slots_) {
    slot->context = std::make_unique<Context>(*this, slot->plugin.name());
    const std::string label = slot->label();
    Status made = guarded(label, "factory", [&]() -> Status {
      slot->object = slot->plugin.descriptor->factory(*slot->context);
      if (!slot->object) return internal_error(label + ": factory returned no object");
      return {};
    });
    if (made.ok()) {
      made = guarded(label, "configure()", [&] { return slot->object->configure(slot->config); });
      if (!made.ok() && made.code() != StatusCode::kInternal) {
        // Plugins are asked to point at the offending node (ConfigNode::error()); when one
        // does not, anchor the message at its section so the operator still gets a position.
        const std::string& file = slot->config.mark().file;
        if (file.empty() || made.message().rfind(file, 0) != 0) {
          made = slot->config.error(label + " rejected its config: " + made.message());
        }
      }
    }
    if (!made.ok()) {
      slot->state = PluginState::kFailed;
      return made;
    }
    slot->state = PluginState::kConfigured;
  }
  return {};
}

Status PluginHost::start() {
  if (started_) return failed_precondition("plugins already started");
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    slot.state = PluginState::kStarting;
    Status st = guarded(slot.label(), "start()", [&] { return slot.object->start(); });
    if (!st.ok()) {
      slot.state = PluginState::kFailed;
      end_registrations(slot);
      if (st.message().rfind(slot.label(), 0) != 0) {
        st = st.with_context(slot.label() + ": start() failed");
      }
      // Unwind what already runs, newest first.
      for (size_t j = i; j-- > 0;) {
        Slot& prev = *slots_[j];
        prev.state = PluginState::kStopping;
        (void)guarded(prev.label(), "stop()", [&] { return prev.object->stop(); });
        prev.state = PluginState::kStopped;
        end_registrations(prev);
      }
      return st;
    }
    slot.state = PluginState::kRunning;
  }
  started_ = true;
  if (role_.empty()) role_ = "member";
  return {};
}

Status PluginHost::stop() {
  Status first;
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
    Slot& slot = **it;
    if (slot.state != PluginState::kRunning) continue;
    slot.state = PluginState::kStopping;
    Status st = guarded(slot.label(), "stop()", [&] { return slot.object->stop(); });
    slot.state = st.ok() ? PluginState::kStopped : PluginState::kFailed;
    end_registrations(slot);
    if (!st.ok() && first.ok()) first = st.with_context(slot.label() + ": stop() failed");
  }
  started_ = false;
  return first;
}

Status PluginHost::check_invariants() const {
  for (const auto& slot : slots_) {
    if (slot->state != PluginState::kRunning) continue;
    Status result;
    NODUS_RETURN_IF_ERROR(guarded(slot->label(), "check_invariants()", [&] {
      result = slot->object->check_invariants();
      return Status();
    }));
    if (!result.ok()) return result.with_context(slot->plugin.name());
  }
  return {};
}

bool PluginHost::ready() const {
  if (!started_) return false;
  return std::all_of(slots_.begin(), slots_.end(), [](const auto& slot) {
    if (slot->state != PluginState::kRunning) return false;
    bool ok = false;
    (void)guarded(slot->label(), "ready()", [&] {
      ok = slot->object->ready();
      return Status();
    });
    return ok;
  });
}

std::vector<PluginStatus> PluginHost::status() const {
  std::vector<PluginStatus> out;
  for (const auto& slot : slots_) {
    const auto& d = *slot->plugin.descriptor;
    out.push_back({d.name, d.version, d.category, slot->plugin.file.string(), slot->state});
  }
  return out;
}

std::vector<std::shared_ptr<boost::dll::shared_library>> PluginHost::libraries() const {
  std::vector<std::shared_ptr<boost::dll::shared_library>> out;
  out.reserve(slots_.size());
  for (const auto& slot : slots_)
    out.push_back(slot->plugin.library);
  return out;
}

nodus::CapabilityRef PluginHost::find_capability(std::string_view capability) {
  for (auto& slot : slots_) {
    if (!slot->object || slot->state == PluginState::kFailed) continue;
    const auto& provides = slot->plugin.descriptor->provides;
    if (std::find(provides.begin(), provides.end(), capability) == provides.end()) continue;
    nodus::CapabilityRef found;
    (void)guarded(slot->label(), "provide()", [&] {
      found = slot->object->provide(capability);
      return Status();
    });
    // A ref of another name is kept as it is: capability_cast() names both in its error.
    return found;
  }
  return {};
}

void PluginHost::end_registrations(Slot& slot) {
  // What the plugin registered with a service ends with it (after its stop(), or a failed
  // start()), so no closure of a stopped plugin runs again.
  slot.context->plugin_stopped();
  // Admin (nodus/services/admin.h)
  if (services_.admin != nullptr) services_.admin->remove_plugin(slot.plugin.name());
}

Membership* PluginHost::effective_membership() {
  if (auto provided = nodus::capability_cast<Membership>(find_capability(Membership::kCapability));
      provided.ok()) {
    return *provided;
  }
  return services_.membership;
}

void PluginHost::on_role_change(std::function<void(const std::string&)> callback) {
  role_callback_ = std::move(callback);
}

void PluginHost::set_role(std::string_view role) {
  if (role == role_) return;
  role_ = std::string(role);
  if (role_callback_) role_callback_(role_);
}

}  // namespace nodus::kernel
