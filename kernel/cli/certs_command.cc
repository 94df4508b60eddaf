// `nodus certs init DIR` and `nodus certs issue DIR --profile FILE`: a CA and the certificates
// of every instance, the supervisor and the operator (transport/cert_authority.h).
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/supervisor/control_access.h"
#include "kernel/transport/cert_authority.h"
#include "kernel/transport/tls_credentials.h"

namespace nodus::cli {
namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: nodus certs init DIR [--days N]\n"
    "       nodus certs issue DIR --profile FILE [--instances N] [--host H]... [--days N]\n"
    "\n"
    "init   makes a CA in DIR (ca.pem, ca.key; DIR 0700, keys 0600)\n"
    "issue  signs, with DIR's CA, <profile>-<i>.pem/.key for every instance i, plus\n"
    "       <profile>-supervisor and <profile>-operator, and prints the profile's tls section.\n"
    "       Each certificate names its holder (nodus://<profile>/instance/<i>, .../operator)\n"
    "       and the hosts it is dialled at: the profile's bind, 127.0.0.1, ::1, localhost and\n"
    "       every --host (\"{instance}\" in a host stands for the instance's index).\n";

constexpr int kCaDaysDefault = 3650;

std::string replace_instance(std::string text, const std::string& value) {
  const std::string placeholder = "{instance}";
  for (size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size())) {
    text.replace(at, placeholder.size(), value);
  }
  return text;
}

int fail(const Status& st) {
  std::fprintf(stderr, "nodus certs: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ||
                 st.code() == StatusCode::kAlreadyExists
             ? kExitBadInput
             : kExitFailure;
}

}  // namespace

int run_certs(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("action", po::value<std::string>(),
                                                 "init | issue")("dir", po::value<std::string>(),
                                                                 "the CA directory")(
      "days", po::value<int>()->default_value(365),
      "validity in days (init: of the CA, default 3650)")(
      "host", po::value<std::vector<std::string>>()->composing(),
      "issue: another IP or DNS name the instances are dialled at, repeatable");
  add_profile_options(desc);
  po::positional_options_description pos;
  pos.add("action", 1).add("dir", 1);
  po::variables_map vm;
  if (!parse_flags(args, desc, pos, "certs", vm)) return kExitBadInput;
  if (vm.count("help") || !vm.count("action") || !vm.count("dir")) {
    std::cout << kUsage << "\n" << desc;
    return vm.count("help") ? kExitOk : kExitBadInput;
  }
  const std::string action = vm["action"].as<std::string>();
  const std::filesystem::path dir = vm["dir"].as<std::string>();
  const int days = vm["days"].as<int>();
  if (action == "init") {
    // The CA outlives the certificates it signs: by default ten times their validity.
    const int ca_days = vm["days"].defaulted() ? kCaDaysDefault : days;
    const Status st = kernel::create_ca(dir, "nodus cluster CA", ca_days);
    if (!st.ok()) return fail(st);
    std::printf("made a CA in %s (ca.pem, ca.key); next: nodus certs issue %s --profile FILE\n",
                dir.string().c_str(), dir.string().c_str());
    return kExitOk;
  }
  if (action != "issue") {
    std::fprintf(stderr, "nodus certs: unknown action '%s' (init | issue)\n", action.c_str());
    return kExitBadInput;
  }
  auto selected = select_profile(vm);
  if (!selected) return kExitBadInput;
  const kernel::Profile& profile = selected->profile;
  std::vector<std::string> hosts_template{profile.bind_host, "127.0.0.1", "::1", "localhost"};
  // Hosts (profile `hosts:`): peers dial an instance at its host's address, so every
  // certificate names each host's address (without `hosts:` that is `bind`, already listed).
  for (const kernel::HostEntry& h : profile.hosts)
    hosts_template.push_back(h.address);
  if (vm.count("host")) {
    for (const std::string& h : vm["host"].as<std::vector<std::string>>())
      hosts_template.push_back(h);
  }
  auto hosts_for = [&](const std::string& instance) {
    std::vector<std::string> hosts;
    std::set<std::string> seen;
    for (const std::string& h : hosts_template) {
      std::string host = replace_instance(h, instance);
      if (seen.insert(host).second) hosts.push_back(std::move(host));
    }
    return hosts;
  };
  auto issue = [&](const std::string& stem, std::vector<std::string> uris,
                   const std::string& instance) {
    return kernel::issue_cert(dir, stem, {stem, std::move(uris), hosts_for(instance), days});
  };
  for (uint32_t i = 0; i < profile.instances; ++i) {
    const std::string stem = profile.name + "-" + std::to_string(i);
    Status st = issue(stem, {kernel::instance_uri(profile.name, i)}, std::to_string(i));
    if (!st.ok()) return fail(st);
  }
  // The supervisor serves the Control API over TCP+mTLS with this one; the operator's names
  // the person or tool allowed to call it.
  if (Status st = issue(profile.name + "-supervisor", {}, "supervisor"); !st.ok()) return fail(st);
  if (Status st =
          issue(profile.name + "-operator", {kernel::operator_uri(profile.name)}, "operator");
      !st.ok()) {
    return fail(st);
  }
  const std::filesystem::path abs = std::filesystem::absolute(dir);
  std::printf(
      "issued %u instance certificates, %s-supervisor and %s-operator in %s\n"
      "add to the profile:\n"
      "tls:\n"
      "  ca_file: %s/ca.pem\n"
      "  cert_file: %s/%s-{instance}.pem\n"
      "  key_file: %s/%s-{instance}.key\n",
      profile.instances, profile.name.c_str(), profile.name.c_str(), abs.string().c_str(),
      abs.string().c_str(), abs.string().c_str(), profile.name.c_str(), abs.string().c_str(),
      profile.name.c_str());
  return kExitOk;
}

}  // namespace nodus::cli
