// Plugin commands and status sections (nodus/services/admin.h), routed to the instances.
//
// The supervisor knows each instance's role and ports from its heartbeats. It reaches an
// instance's plugins with the method kAdminMethod on that instance's peer endpoint (the Peer
// service the instances use among themselves, with the same credentials), presenting the
// instance's own identity, the only sender a node accepts from its local supervisor. Every
// call runs on the control thread, never on the supervisor loop, so supervision goes on while
// a command takes its time; the instances of one command are asked in parallel, each bounded
// by the request's deadline, so a dead or frozen instance costs one deadline, not a hang.
#include <chrono>
#include <future>
#include <map>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "kernel/node/node.h"
#include "kernel/supervisor/supervisor.h"
#include "kernel/transport/tls_credentials.h"
#include "nodus/v1/transport.grpc.pb.h"

namespace nodus::kernel {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDefaultCommandDeadline{10'000};
constexpr milliseconds kMaxCommandDeadline{60'000};
// Describing an instance (its commands and status sections) for `nodus status`/`help`.
constexpr milliseconds kDescribeDeadline{1'000};
// How long a command that moved the leader role waits for the instances' own reports to show
// it, so that `nodus status` right after the command already does.
constexpr auto kRoleSettle = std::chrono::seconds(3);

Status from_grpc_status(const grpc::Status& st, const std::string& target) {
  if (st.ok()) return {};
  return Status(static_cast<StatusCode>(st.error_code()), target + ": " + st.error_message());
}

std::string who(uint32_t index) {
  return "instance " + std::to_string(index);
}

// Runs fn(i) for every i in parallel and waits for all; the instances are few (a profile's
// instance count), so a thread each is the simple bound.
template <class Fn>
void for_each_parallel(size_t n, Fn fn) {
  std::vector<std::future<void>> pending;
  pending.reserve(n);
  for (size_t i = 0; i < n; ++i)
    pending.push_back(std::async(std::launch::async, [&fn, i] { fn(i); }));
  for (auto& p : pending)
    p.get();
}

}  // namespace

Result<std::string> Supervisor::instance_call(const nodus::v1::InstanceStatus& inst,
                                              std::string_view method, const std::string& payload,
                                              milliseconds deadline, bool as_instance) {
  auto port = inst.ports().find("peer");
  if (port == inst.ports().end()) {
    return failed_precondition(who(inst.index()) +
                               ": the profile defines no peer port, so the supervisor cannot "
                               "reach its plugins");
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (profile_.tls.enabled()) {
    const TlsFiles files{profile_.tls.ca_file, profile_.tls.cert_file, profile_.tls.key_file,
                         profile_.tls.require_client_cert};
    NODUS_ASSIGN_OR_RETURN(
        TransportCredentials tls,
        make_tls_credentials(as_instance ? tls_files_for_instance(files, inst.index()) : files));
    creds = tls.channel;
  }
  const std::string addr =
      host_port(profile_.address_of(inst.index()), static_cast<uint16_t>(port->second));
  auto stub = nodus::v1::Peer::NewStub(grpc::CreateChannel(addr, creds));
  nodus::v1::CallRequest call;
  call.set_from(inst.index());
  call.set_method(std::string(method));
  call.set_payload(payload);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  nodus::v1::CallResponse resp;
  const std::string target = who(inst.index()) + " (" + addr + ")";
  grpc::Status st = stub->Call(&ctx, call, &resp);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return deadline_exceeded(target + ": no answer within " + std::to_string(deadline.count()) +
                             " ms");
  }
  NODUS_RETURN_IF_ERROR(from_grpc_status(st, target));
  if (resp.code() != 0) {
    return Status(static_cast<StatusCode>(resp.code()), target + ": " + resp.message());
  }
  return resp.payload();
}

Result<nodus::v1::AdminCallReply> Supervisor::admin_call(const nodus::v1::InstanceStatus& inst,
                                                         const nodus::v1::AdminCallRequest& request,
                                                         milliseconds deadline) {
  if (inst.pid() <= 0) {
    return unavailable(who(inst.index()) + " is not running (" + inst.state() + ")");
  }
  NODUS_ASSIGN_OR_RETURN(std::string bytes,
                         instance_call(inst, kAdminMethod, request.SerializeAsString(), deadline));
  nodus::v1::AdminCallReply reply;
  if (!reply.ParseFromString(bytes)) {
    return internal_error(who(inst.index()) + ": malformed AdminCallReply");
  }
  return reply;
}

Result<nodus::v1::StatusReply> Supervisor::status_with_plugins() {
  NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
  for_each_parallel(static_cast<size_t>(status.instances_size()), [&](size_t i) {
    nodus::v1::InstanceStatus& inst = *status.mutable_instances(static_cast<int>(i));
    auto described = admin_call(inst, {}, kDescribeDeadline);
    if (!described.ok()) {
      inst.set_plugins_error(described.status().message());
      return;
    }
    for (const auto& [plugin, section] : described->sections())
      (*inst.mutable_plugins())[plugin] = section;
  });
  return status;
}

Result<nodus::v1::CommandsReply> Supervisor::commands() {
  NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
  std::vector<Result<nodus::v1::AdminCallReply>> described(
      static_cast<size_t>(status.instances_size()), unavailable("not asked"));
  for_each_parallel(described.size(), [&](size_t i) {
    described[i] = admin_call(status.instances(static_cast<int>(i)), {}, kDescribeDeadline);
  });
  nodus::v1::CommandsReply reply;
  std::map<std::string, nodus::v1::CommandInfo> by_name;  // instances may differ; keep each once
  std::string last_error = "the cluster has no instances";
  bool any = false;
  for (auto& d : described) {
    if (!d.ok()) {
      last_error = d.status().message();
      continue;
    }
    any = true;
    for (const auto& info : d->commands())
      by_name.emplace(info.name(), info);
  }
  for (auto& [name, info] : by_name)
    *reply.add_commands() = std::move(info);
  if (!any) reply.set_error("no instance answered: " + last_error);
  return reply;
}

Result<nodus::v1::CommandReply> Supervisor::command(const nodus::v1::CommandRequest& request) {
  if (request.command().empty()) return invalid_argument("command: no command name");
  milliseconds deadline =
      request.deadline_ms() == 0 ? kDefaultCommandDeadline : milliseconds(request.deadline_ms());
  deadline = std::min(deadline, kMaxCommandDeadline);
  NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());

  // Which instances: the operator's choice, else the command's declared default.
  nodus::v1::CommandRequest::TargetCase target = request.target_case();
  if (target == nodus::v1::CommandRequest::TARGET_NOT_SET) {
    NODUS_ASSIGN_OR_RETURN(nodus::v1::CommandsReply known, commands());
    const nodus::v1::CommandInfo* info = nullptr;
    for (const auto& c : known.commands()) {
      if (c.name() == request.command()) info = &c;
    }
    if (info == nullptr) {
      std::string names;
      for (const auto& c : known.commands())
        names += (names.empty() ? "" : ", ") + c.name();
      return not_found("unknown command '" + request.command() + "' (" +
                       (!known.error().empty() ? known.error()
                        : names.empty()        ? std::string("no plugin registered a command")
                                               : "plugin commands: " + names) +
                       "); `nodus help` lists the commands");
    }
    target = info->target() == "leader" ? nodus::v1::CommandRequest::kLeader
                                        : nodus::v1::CommandRequest::kAll;
  }
  std::vector<const nodus::v1::InstanceStatus*> targets;
  if (target == nodus::v1::CommandRequest::kInstance) {
    for (const auto& inst : status.instances()) {
      if (inst.index() == request.instance()) targets.push_back(&inst);
    }
    if (targets.empty()) {
      return not_found(who(request.instance()) + ": no such instance (the cluster has " +
                       std::to_string(status.instances_size()) + ")");
    }
  } else if (target == nodus::v1::CommandRequest::kLeader) {
    for (const auto& inst : status.instances()) {
      if (inst.pid() > 0 && inst.role() == "leader" && targets.empty()) targets.push_back(&inst);
    }
    if (targets.empty()) {
      return unavailable("command '" + request.command() +
                         "' goes to the leader, and no instance reports the leader role");
    }
  } else {
    for (const auto& inst : status.instances())
      targets.push_back(&inst);
  }

  nodus::v1::AdminCallRequest call;
  call.set_command(request.command());
  *call.mutable_args() = request.args();
  nodus::v1::CommandReply reply;
  std::vector<nodus::v1::CommandResult> results(targets.size());
  for_each_parallel(targets.size(), [&](size_t i) {
    nodus::v1::CommandResult& r = results[i];
    r.set_instance(targets[i]->index());
    auto answer = admin_call(*targets[i], call, deadline);
    if (!answer.ok()) {
      r.set_code(static_cast<int32_t>(answer.status().code()));
      const std::string& m = answer.status().message();
      r.set_message(m.rfind("instance ", 0) == 0 ? m : who(targets[i]->index()) + ": " + m);
      return;
    }
    r.set_text(answer->text());
    r.set_json(answer->json());
    if (answer->has_leader()) r.set_leader(answer->leader());
  });
  for (auto& r : results) {
    if (r.code() == 0 && r.has_leader()) {
      NODUS_RETURN_IF_ERROR(settle_leader(r));
    }
    *reply.add_results() = std::move(r);
  }
  return reply;
}

// A command moved the leader role from result.instance(). Confirm it from the instances' own
// reports (sent at once on a role change, which each instance notices within 100 ms): the
// leader is the instance other than the previous one that says so, and the previous one no
// longer says so.
Status Supervisor::settle_leader(nodus::v1::CommandResult& result) {
  const auto settle_until = std::chrono::steady_clock::now() + kRoleSettle;
  while (std::chrono::steady_clock::now() < settle_until) {
    auto now = this->status();
    if (!now.ok()) return now.status();
    const nodus::v1::InstanceStatus* next = nullptr;
    bool previous_still_leads = false;
    for (const auto& inst : now->instances()) {
      if (inst.role() != "leader" || inst.pid() <= 0) continue;
      if (inst.index() == result.instance()) {
        previous_still_leads = true;
      } else if (next == nullptr) {
        next = &inst;
      }
    }
    if (next != nullptr && !previous_still_leads) {
      result.set_leader(next->index());
      log_->info("leadership moved from instance " + std::to_string(result.instance()) +
                 " to instance " + std::to_string(next->index()));
      return {};
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return unavailable(who(result.instance()) +
                     " handed over leadership, but within 3 s no other instance reported the "
                     "leader role while it had given it up; see `nodus status`");
}

Result<uint32_t> Supervisor::failover(std::optional<uint32_t> to) {
  nodus::v1::CommandRequest request;
  request.set_command("failover");
  request.set_leader(true);
  if (to) (*request.mutable_args())["to"] = std::to_string(*to);
  NODUS_ASSIGN_OR_RETURN(nodus::v1::CommandReply reply, command(request));
  const nodus::v1::CommandResult& r = reply.results(0);
  if (r.code() != 0) return Status(static_cast<StatusCode>(r.code()), r.message());
  return r.has_leader() ? r.leader() : r.instance();
}

}  // namespace nodus::kernel
