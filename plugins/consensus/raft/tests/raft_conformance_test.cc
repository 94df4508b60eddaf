// io.nodus.consensus.raft against the nodus.consensus/v1 conformance suite, the same suite a
// third-party consensus plugin runs (nodus/harness/consensus_conformance.h).
#include "nodus/harness/consensus_conformance.h"

namespace nodus::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Raft, ConsensusConformance,
    ::testing::Values(ConsensusSubject{
        .name = "Raft",
        .plugin = RAFT_PLUGIN,
        .kv_plugin = CONSENSUS_KV_PLUGIN,
        .config_yaml = "election_timeout_ms: [150, 300]\nheartbeat_ms: 50\ntick_ms: 10\n"
                       "propose_timeout_ms: 1000\n"}),
    consensus_subject_name);

}  // namespace
}  // namespace nodus::testing
