// `nodus failover`: leadership transfer through the instance that leads now.
//
// The supervisor knows each instance's role from its heartbeats. It calls the method
// kFailoverMethod on the leader's peer endpoint (the same Peer service the instances use
// among themselves, with the same credentials); the leader's consensus plugin brings the
// target up to date and hands over. The call runs on the control thread, never on the
// supervisor loop, so supervision goes on while the transfer takes its time.
#include <chrono>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "kernel/node/node.h"
#include "kernel/supervisor/supervisor.h"
#include "kernel/transport/tls_credentials.h"
#include "nodus/v1/transport.grpc.pb.h"

namespace nodus::kernel {
namespace {

constexpr auto kTransferDeadline = std::chrono::seconds(10);
// How long we wait for the new leader's heartbeat, so that `nodus status` right after
// `nodus failover` already shows it.
constexpr auto kRoleSettle = std::chrono::seconds(3);

Status from_grpc_status(const grpc::Status& st, const std::string& target) {
  if (st.ok()) return {};
  return Status(static_cast<StatusCode>(st.error_code()), target + ": " + st.error_message());
}

}  // namespace

Result<nodus::v1::FailoverReply> Supervisor::failover(std::optional<uint32_t> to) {
  NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
  const nodus::v1::InstanceStatus* leader = nullptr;
  const nodus::v1::InstanceStatus* target = nullptr;
  for (const auto& inst : status.instances()) {
    if (inst.pid() > 0 && inst.role() == "leader" && leader == nullptr) leader = &inst;
    if (to && inst.index() == *to) target = &inst;
  }
  if (to && target == nullptr) {
    return not_found("instance " + std::to_string(*to) + ": no such instance (the cluster has " +
                     std::to_string(status.instances_size()) + ")");
  }
  if (to && target->pid() <= 0) {
    return failed_precondition("instance " + std::to_string(*to) + " is not running (" +
                               target->state() + ")");
  }
  if (leader == nullptr) {
    return unavailable("no instance reports the leader role; is a consensus plugin configured?");
  }
  if (to && *to == leader->index()) {
    nodus::v1::FailoverReply same;
    same.set_previous(leader->index());
    same.set_leader(leader->index());
    return same;
  }
  auto port = leader->ports().find("peer");
  if (port == leader->ports().end()) {
    return failed_precondition("the profile defines no peer port, so instances cannot be asked");
  }

  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (profile_.tls.enabled()) {
    NODUS_ASSIGN_OR_RETURN(
        TransportCredentials tls,
        // The request claims to come from the leader itself (the only sender a node accepts
        // from its local supervisor), so it presents the leader's own certificate.
        make_tls_credentials(
            tls_files_for_instance({profile_.tls.ca_file, profile_.tls.cert_file,
                                    profile_.tls.key_file, profile_.tls.require_client_cert},
                                   leader->index())));
    creds = tls.channel;
  }
  const std::string target_addr =
      host_port(profile_.address_of(leader->index()), static_cast<uint16_t>(port->second));
  auto stub = nodus::v1::Peer::NewStub(grpc::CreateChannel(target_addr, creds));
  nodus::v1::FailoverRequest req;
  if (to) req.set_to(*to);
  nodus::v1::CallRequest call;
  call.set_from(leader->index());
  call.set_method(std::string(kFailoverMethod));
  call.set_payload(req.SerializeAsString());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kTransferDeadline);
  nodus::v1::CallResponse resp;
  const std::string who = "instance " + std::to_string(leader->index()) + " (" + target_addr + ")";
  NODUS_RETURN_IF_ERROR(from_grpc_status(stub->Call(&ctx, call, &resp), who));
  if (resp.code() != 0)
    return Status(static_cast<StatusCode>(resp.code()), who + ": " + resp.message());
  nodus::v1::FailoverReply reply;
  if (!reply.ParseFromString(resp.payload())) {
    return internal_error(who + ": malformed FailoverReply");
  }
  // Confirm from the instances' own reports (sent at once on a role change, which each
  // instance notices within 100 ms): the leader is the instance other than the previous one
  // that says so, and the previous one no longer says so. Only then does `nodus status`, run
  // right after the command, show the new leader alone.
  const auto settle_until = std::chrono::steady_clock::now() + kRoleSettle;
  bool confirmed = false;
  while (!confirmed && std::chrono::steady_clock::now() < settle_until) {
    auto now = this->status();
    if (!now.ok()) break;
    const nodus::v1::InstanceStatus* next = nullptr;
    bool previous_still_leads = false;
    for (const auto& inst : now->instances()) {
      if (inst.role() != "leader" || inst.pid() <= 0) continue;
      if (inst.index() == reply.previous()) {
        previous_still_leads = true;
      } else if (next == nullptr) {
        next = &inst;
      }
    }
    if (next != nullptr && !previous_still_leads) {
      if (next->index() != reply.leader()) reply.clear_term();
      reply.set_leader(next->index());
      confirmed = true;
    }
    if (!confirmed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!confirmed) {
    return unavailable(who +
                       " handed over leadership, but within 3 s no other instance reported "
                       "the leader role while it had given it up; see `nodus status`");
  }
  log_->info("leadership moved from instance " + std::to_string(reply.previous()) +
             " to instance " + std::to_string(reply.leader()));
  return reply;
}

}  // namespace nodus::kernel
