// ledger_types.h: the generated ledger.proto types (package nodus.ledger.v1), visible in
// nodus::ledger where the plugin's code lives.
#pragma once

#include "ledger.pb.h"

namespace nodus::ledger {
using namespace ::nodus::ledger::v1;  // NOLINT(google-build-using-namespace): one API version
}  // namespace nodus::ledger
